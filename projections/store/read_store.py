"""The read store: balances and how far they go, written together in one transaction.

Exactly once, by global position: positions 1..k are applied (`complete_through_position`,
with the chain's hash after k). Each batch is the proven positions right after k, applied in one
transaction that locks that mark, checks it still says k (another reader may have moved it:
ProgressMoved), adds the sums and moves it. Partition offsets are stored only as where reading
resumes; they decide nothing about what is applied, so a re-created or re-partitioned topic
cannot make a position count twice.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg.errors

from ledger.infrastructure.failures import describe_failure
from ledger.infrastructure.store_url import StoreLocation, parse_store_url
from ledger.proof.chain_reader import ChainPoint
from ledger.proof.coordinates import MessageAt
from ledger.proof.skips import RecordedSkip
from ledger.settings import READ_STORE_ENV_VAR
from projections.domain.facts import EventFacts
from projections.domain.rows import (
    AgencyYearRow,
    BalanceRow,
    ProgrammeYearRow,
    RecipientYearRow,
    View,
)
from projections.domain.selection import EVERYTHING, Selection
from projections.domain.time_units import date_of_day, day_number
from projections.replay import BaseTotals, PartitionMark
from projections.store import schema as s
from projections.store.deltas import BatchDeltas, deltas_of
from projections.store.dialects import Column, Dialect, dialect_for
from schemas.chain import GENESIS_HASH
from schemas.errors import ConfigurationError, IntegrityFailure, Unavailable

# PostgreSQL: two projectors upserting the same programme-year rows can deadlock or conflict;
# the loser's transaction is rolled back whole and retried.
MAX_APPLY_ATTEMPTS = 10
RETRY_PAUSE_S = 0.05
RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure)


class ProgressMoved(Unavailable):
    """Another reader applied to this read store meanwhile: continue from what it recorded."""


class HandoverIntoFoldedDays(IntegrityFailure):
    """A handover takes effect on a day the last rebuild folded into an agency period's row."""


@dataclass(frozen=True, slots=True)
class ReadProgress:
    """How far the read store is: positions 1..applied.position applied, where reading resumes."""

    applied: ChainPoint
    topic: str | None
    topic_id: str | None
    partition_count: int
    resume_offsets: dict[int, int]
    checkpoint_offset: int


@dataclass(frozen=True, slots=True)
class ProvenBatch:
    """Events proven by the chain and a signed checkpoint: positions after.position+1..through."""

    topic: str
    facts: Sequence[EventFacts]
    after: ChainPoint
    through: ChainPoint
    resume_offsets: Mapping[int, int]
    checkpoint_offset: int
    topic_id: str | None
    partition_count: int

    def __post_init__(self) -> None:
        positions = [f.position for f in self.facts]
        expected = list(range(self.after.position + 1, self.through.position + 1))
        assert positions == expected, "a proven batch is the positions right after the last one"


def _coordinates(at: MessageAt) -> tuple[str, int, int]:
    return at.topic, at.partition, at.offset


class ReadStore:
    """Balance tables and views in SQLite or PostgreSQL."""

    def __init__(self, location: StoreLocation) -> None:
        self.location = location
        try:
            self.db: Dialect = dialect_for(location)
            self._ensure_schema()
        except (sqlite3.Error, OSError) as exc:
            raise Unavailable(
                READ_STORE_ENV_VAR,
                location.shown,
                f"the read store cannot be opened and set up: {describe_failure(exc)}",
            ) from None

    @classmethod
    def open(cls, url: str) -> ReadStore:
        """Open (creating tables and views when missing)."""
        return cls(parse_store_url(url, READ_STORE_ENV_VAR))

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> ReadStore:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ----------------------------------------------------------------- schema

    def _ensure_schema(self) -> None:
        """Create missing tables; (re)create the views when they are not this version's."""
        views = s.views_digest(self.db.year_end_or_today)
        tables = {t.name for t in (*s.TABLES, *s.KEPT_TABLES)}
        if tables <= self.db.table_names() and self._views() == views:
            return
        self.db.begin()
        try:
            # Serialised with other processes opening the store: the views are dropped and made
            # again as one step, never seen half-made.
            self.db.lock_schema()
            for table in (*s.TABLES, *s.KEPT_TABLES):
                self.db.execute(s.create_table(table, suffix=self.db.table_suffix))
            for view in reversed(s.VIEWS):
                self.db.execute(f"DROP VIEW IF EXISTS {view}")
            for _, statement in s.create_views(self.db.year_end_or_today):
                self.db.execute(statement)
            self.db.executemany(
                f"INSERT INTO projection_state (key, value) VALUES ({self._marks(2)}) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [(s.SCHEMA_VERSION_KEY, s.SCHEMA_VERSION), (s.STATE_VIEWS, views)],
            )
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise

    def _views(self) -> str | None:
        """The digest of the views the store holds (None before views were versioned)."""
        rows = self.db.execute(
            f"SELECT value FROM projection_state WHERE key = {self.db.placeholder}",
            (s.STATE_VIEWS,),
        )
        return str(rows[0][0]) if rows else None

    def _marks(self, count: int) -> str:
        return ", ".join(self.db.placeholder for _ in range(count))

    # ----------------------------------------------------------------- applying

    def apply_proven(self, batch: ProvenBatch) -> None:
        """Apply the next positions, once: in one transaction that checks the read store is
        still at `batch.after` (ProgressMoved otherwise) and moves it to `batch.through`."""
        for attempt in range(1, MAX_APPLY_ATTEMPTS + 1):
            try:
                self._apply_once(batch)
                return
            except RETRYABLE:
                self.db.rollback()
                if attempt == MAX_APPLY_ATTEMPTS:
                    raise
                time.sleep(RETRY_PAUSE_S * attempt)

    def _apply_once(self, batch: ProvenBatch) -> None:
        try:
            self._apply_in_transaction(batch)
        except sqlite3.OperationalError as exc:
            raise Unavailable(
                READ_STORE_ENV_VAR,
                self.location.shown,
                "the read store refused the batch (nothing of it applied): "
                + describe_failure(exc),
            ) from None

    def _apply_in_transaction(self, batch: ProvenBatch) -> None:
        mark = self.db.placeholder
        self.db.begin()
        try:
            self.db.execute(
                f"INSERT INTO projection_state (key, value) VALUES ({mark}, {mark}) "
                "ON CONFLICT (key) DO NOTHING",
                (s.STATE_COMPLETE_THROUGH, "0"),
            )
            rows = self.db.execute(
                f"SELECT value FROM projection_state WHERE key = {mark}"
                f"{self.db.lock_partitions_sql()}",
                (s.STATE_COMPLETE_THROUGH,),
            )
            applied = int(rows[0][0])
            if applied != batch.after.position:
                raise ProgressMoved(
                    "complete_through_position",
                    applied,
                    f"another reader applied to this read store (expected {batch.after.position})",
                )
            self._write_deltas(deltas_of(list(batch.facts)))
            self._set_state(
                {
                    s.STATE_COMPLETE_THROUGH: str(batch.through.position),
                    s.STATE_COMPLETE_THROUGH_HASH: batch.through.hash,
                    s.STATE_TOPIC: batch.topic,
                    s.STATE_TOPIC_ID: batch.topic_id or "",
                    s.STATE_PARTITION_COUNT: str(batch.partition_count),
                    s.STATE_CHECKPOINT_OFFSET: str(batch.checkpoint_offset),
                }
            )
            self.db.execute(
                f"DELETE FROM consumed_partitions WHERE topic <> {mark}", (batch.topic,)
            )
            self.db.executemany(
                "INSERT INTO consumed_partitions (topic, kafka_partition, next_offset, "
                f"max_position) VALUES ({self._marks(4)}) ON CONFLICT (topic, kafka_partition) "
                "DO UPDATE SET next_offset = excluded.next_offset, "
                "max_position = excluded.max_position",
                [
                    (batch.topic, p, offset, batch.through.position)
                    for p, offset in sorted(batch.resume_offsets.items())
                ],
            )
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise

    def _set_state(self, values: Mapping[str, str]) -> None:
        self.db.executemany(
            f"INSERT INTO projection_state (key, value) VALUES ({self._marks(2)}) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            sorted(values.items()),
        )

    def progress(self) -> ReadProgress:
        """What is applied and where reading resumes."""
        state = self.state()
        if s.STATE_COMPLETE_THROUGH_HASH not in state and self._holds_balances():
            raise ConfigurationError(
                "read store",
                self.location.kind,
                "holds balances but not how far they go by position (written by an earlier "
                "version): rebuild it (`grant-ledger rebuild`) before projecting into it",
            )
        topic = state.get(s.STATE_TOPIC) or None
        marks = self.partition_marks(topic) if topic else {}
        return ReadProgress(
            applied=ChainPoint(
                int(state.get(s.STATE_COMPLETE_THROUGH, "0")),
                state.get(s.STATE_COMPLETE_THROUGH_HASH, GENESIS_HASH),
            ),
            topic=topic,
            topic_id=state.get(s.STATE_TOPIC_ID) or None,
            partition_count=int(state.get(s.STATE_PARTITION_COUNT, "0")),
            resume_offsets={p: mark.next_offset for p, mark in marks.items()},
            checkpoint_offset=int(state.get(s.STATE_CHECKPOINT_OFFSET, "0")),
        )

    def _holds_balances(self) -> bool:
        return bool(self.db.execute("SELECT 1 FROM programme_year_totals LIMIT 1"))

    # ----------------------------------------------------------------- skips

    def record_skips(self, skips: Sequence[RecordedSkip]) -> None:
        """Record skips (an operator's decision, kept across rebuilds)."""
        if not skips:
            return
        self.db.begin()
        try:
            self.db.executemany(
                "INSERT INTO skipped_messages (topic, kafka_partition, kafka_offset, sha256, "
                f"reason, skipped_by, skipped_at) VALUES ({self._marks(7)}) "
                "ON CONFLICT (topic, kafka_partition, kafka_offset) DO NOTHING",
                [(*_coordinates(k.at), k.digest, k.reason, k.by, k.skipped_at) for k in skips],
            )
            self.db.commit()
        except BaseException:
            self.db.rollback()
            raise

    def skips(self) -> list[RecordedSkip]:
        """Every recorded skip, by coordinates."""
        rows = self.db.execute(
            "SELECT topic, kafka_partition, kafka_offset, sha256, reason, skipped_by, skipped_at "
            "FROM skipped_messages ORDER BY topic, kafka_partition, kafka_offset"
        )
        return [
            RecordedSkip(MessageAt(str(t), int(p), int(o)), str(d), str(r), str(b), str(w))
            for t, p, o, d, r, b, w in rows
        ]

    def _upsert(self, table: s.Table, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        keys = ", ".join(name for name, _ in table.keys)
        updates = ", ".join(
            f"{name} = {table.name}.{name} + excluded.{name}" for name, _ in table.values
        )
        self.db.executemany(
            f"INSERT INTO {table.name} ({', '.join(table.columns)}) "
            f"VALUES ({self._marks(len(table.columns))}) "
            f"ON CONFLICT ({keys}) DO UPDATE SET {updates}",
            rows,
        )

    def _write_deltas(self, deltas: BatchDeltas) -> None:
        # Keys in sorted order, tables in a fixed order: concurrent projectors lock rows in
        # the same order and so cannot deadlock each other on them.
        date_param = self.db.date_param
        self._upsert(
            s.RECIPIENT_YEAR, [(*key, *sums) for key, sums in sorted(deltas.recipient_year.items())]
        )
        self._upsert(
            s.PROGRAMME_YEAR, [(*key, *sums) for key, sums in sorted(deltas.programme_year.items())]
        )
        self._upsert(
            s.PROGRAMME_DAY,
            [
                (p, y, date_param(d), *sums)
                for (p, y, d), sums in sorted(deltas.programme_day.items())
            ],
        )
        if deltas.timeline:
            self._refuse_handovers_into_folded_days(deltas.timeline)
            self.db.executemany(
                f"INSERT INTO agency_timeline (programme_id, position, effective_date, agency) "
                f"VALUES ({self._marks(4)}) ON CONFLICT (programme_id, position) DO NOTHING",
                [(p, position, date_param(d), a) for p, position, d, a in sorted(deltas.timeline)],
            )

    def _refuse_handovers_into_folded_days(self, entries: list[tuple[str, int, int, str]]) -> None:
        """The write side lets a handover take effect no earlier than the acts already recorded,
        so a rebuild folds the days before a programme's latest act per agency period. A handover
        reaching back behind them would split a folded row: stop rather than attribute it wrongly.
        """
        for programme_id, position, day, agency in entries:
            rows = self.db.execute(
                f"SELECT value FROM projection_state WHERE key = {self.db.placeholder}",
                (s.folded_before_key(programme_id),),
            )
            folded_before = day_number(date.fromisoformat(rows[0][0])) if rows else None
            if folded_before is not None and day < folded_before:
                raise HandoverIntoFoldedDays(
                    "position",
                    position,
                    f"the handover of {programme_id} to {agency} takes effect "
                    f"{date_of_day(day).isoformat()}, before acts already recorded (up to "
                    f"{date_of_day(folded_before).isoformat()}), which the write side forbids; "
                    "the read store cannot apply it: run `grant-ledger rebuild`",
                )

    # ----------------------------------------------------------------- state

    def partition_marks(self, topic: str) -> dict[int, PartitionMark]:
        """Consumed marks per partition of `topic`."""
        rows = self.db.execute(
            "SELECT kafka_partition, next_offset, max_position FROM consumed_partitions "
            f"WHERE topic = {self.db.placeholder}",
            (topic,),
        )
        return {int(p): PartitionMark(int(n), int(m)) for p, n, m in rows}

    def state(self) -> dict[str, str]:
        """The projection_state table."""
        return {
            str(k): str(v) for k, v in self.db.execute("SELECT key, value FROM projection_state")
        }

    def projector_lock(self, *, exclusive: bool) -> contextlib.AbstractContextManager[None]:
        """Shared while projecting, exclusive while rebuilding."""
        return self.db.projector_lock(exclusive=exclusive)

    # ----------------------------------------------------------------- blue/green rebuild

    def replace(
        self,
        totals: BaseTotals,
        *,
        topic: str | None,
        marks: dict[int, PartitionMark],
        complete_through: int,
        source: str,
        complete_through_hash: str = GENESIS_HASH,
    ) -> None:
        """Swap in tables built from `totals`, in one transaction: readers see old or new."""
        suffix = f"__b{uuid.uuid4().hex[:8]}"
        db = self.db
        columns = self._columns_of(totals)
        state = {
            s.SCHEMA_VERSION_KEY: s.SCHEMA_VERSION,
            s.STATE_COMPLETE_THROUGH: str(complete_through),
            s.STATE_COMPLETE_THROUGH_HASH: complete_through_hash,
            **({s.STATE_TOPIC: topic} if topic else {}),
            s.STATE_REBUILT_AT: datetime.now(tz=UTC).isoformat(),
            s.STATE_SOURCE: source,
            s.STATE_VIEWS: s.views_digest(db.year_end_or_today),
            **self._fold_marks(totals),
        }
        partitions = (
            [(topic, p, m.next_offset, m.max_position) for p, m in sorted(marks.items())]
            if topic
            else []
        )
        columns[s.CONSUMED_PARTITIONS.name] = _transposed(partitions, s.CONSUMED_PARTITIONS)
        columns[s.PROJECTION_STATE.name] = _transposed(sorted(state.items()), s.PROJECTION_STATE)
        assert set(columns) == {table.name for table in s.TABLES}, "every swapped table filled"
        db.begin()
        try:
            for table in s.TABLES:
                db.execute(s.create_table(table, table.name + suffix, db.table_suffix))
                # In key order (see _columns_of): appends to the B-tree instead of inserts all
                # over it.
                db.bulk_insert(table.name + suffix, table.columns, columns[table.name])
            for view in reversed(s.VIEWS):
                db.execute(f"DROP VIEW IF EXISTS {view}")
            for table in s.TABLES:
                db.execute(f"DROP TABLE IF EXISTS {table.name}")
                db.execute(f"ALTER TABLE {table.name + suffix} RENAME TO {table.name}")
            for _, statement in s.create_views(db.year_end_or_today):
                db.execute(statement)
            db.commit()
        except BaseException:
            db.rollback()
            raise

    def _columns_of(self, totals: BaseTotals) -> dict[str, list[Column]]:
        """The balance tables' values column by column, rows in primary-key order: the engine
        gives its tables in key order already (projections.replay.totals); the few timeline
        rows are sorted here. The engine's columns stay arrays: the dialect converts them once."""
        names = totals.names
        date_param = self.db.date_param

        def dates(days: Any) -> list[Any]:
            return [date_param(day) for day in days.tolist()]

        recipient_years, programme_years, programme_days, timeline = (
            totals.recipient_year,
            totals.programme_year,
            totals.programme_day,
            totals.timeline,
        )
        recipient_sums = (
            recipient_years.requested_ore,
            recipient_years.awarded_ore,
            recipient_years.disbursed_ore,
            recipient_years.recovered_ore,
        )
        programme_sums = (
            programme_years.appropriated_ore,
            programme_years.awarded_ore,
            programme_years.disbursed_ore,
            programme_years.recovered_ore,
        )
        day_sums = (
            programme_days.awarded_ore,
            programme_days.disbursed_ore,
            programme_days.recovered_ore,
        )
        timeline_rows = zip(
            _strings(timeline.programme, names.programmes).tolist(),
            timeline.position.tolist(),
            dates(timeline.effective_day),
            _strings(timeline.agency, names.agencies).tolist(),
            strict=True,
        )
        return {
            s.RECIPIENT_YEAR.name: [
                _strings(recipient_years.programme, names.programmes),
                _strings(recipient_years.recipient, names.recipients),
                recipient_years.year,
                *recipient_sums,
            ],
            s.PROGRAMME_YEAR.name: [
                _strings(programme_years.programme, names.programmes),
                programme_years.year,
                *programme_sums,
            ],
            s.PROGRAMME_DAY.name: [
                _strings(programme_days.programme, names.programmes),
                programme_days.year,
                dates(programme_days.effective_day),
                *day_sums,
            ],
            s.AGENCY_TIMELINE.name: _transposed(sorted(timeline_rows), s.AGENCY_TIMELINE),
        }

    def _fold_marks(self, totals: BaseTotals) -> dict[str, str]:
        """projection_state entries: where each programme's folded days end (ISO date)."""
        return {
            s.folded_before_key(totals.names.programmes[code]): date_of_day(day).isoformat()
            for code, day in sorted(totals.folded_before.items())
        }

    # ----------------------------------------------------------------- reading

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one committed state: balances and the position they reflect agree."""
        self.db.begin_read()
        try:
            yield
        finally:
            self.db.rollback()

    def applied_position(self) -> int:
        """The log position the balances reflect: every event up to it, none after (0 if empty)."""
        rows = self.db.execute(
            f"SELECT value FROM projection_state WHERE key = {self.db.placeholder}",
            (s.STATE_COMPLETE_THROUGH,),
        )
        return int(rows[0][0]) if rows else 0

    def has_programme(self, programme_id: str) -> bool:
        """True when the store has any row of the programme."""
        mark = self.db.placeholder
        return bool(
            self.db.execute(
                f"SELECT 1 FROM programme_year_totals WHERE programme_id = {mark} UNION ALL "
                f"SELECT 1 FROM agency_timeline WHERE programme_id = {mark} LIMIT 1",
                (programme_id, programme_id),
            )
        )

    def has_recipient(self, recipient: str) -> bool:
        """True when the store has any row of the recipient."""
        return bool(
            self.db.execute(
                "SELECT 1 FROM recipient_year_totals "
                f"WHERE recipient = {self.db.placeholder} LIMIT 1",
                (recipient,),
            )
        )

    def balances(self, view: View, selection: Selection = EVERYTHING) -> list[BalanceRow]:
        """Rows of a view, filtered, sorted by key."""
        mark = self.db.placeholder
        conditions: list[str] = []
        params: list[Any] = []
        if view is View.AGENCY_YEAR and selection.programme_id is not None:
            sql = s.agency_year_query(mark)
            params.append(selection.programme_id)
            if selection.year is not None:
                sql = f"SELECT * FROM ({sql}) q WHERE q.year = {mark}"
                params.append(selection.year)
            rows = self.db.execute(sql, params)
            return sorted(
                AgencyYearRow(str(a), int(y), int(aw), int(di), int(rc))
                for a, y, aw, di, rc in rows
            )
        if selection.programme_id is not None and view is not View.AGENCY_YEAR:
            conditions.append(f"programme_id = {mark}")
            params.append(selection.programme_id)
        if selection.recipient is not None and view is View.RECIPIENT_YEAR:
            conditions.append(f"recipient = {mark}")
            params.append(selection.recipient)
        if selection.year is not None:
            conditions.append(f"year = {mark}")
            params.append(selection.year)
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        if view is View.RECIPIENT_YEAR:
            rows = self.db.execute(
                "SELECT programme_id, recipient, year, requested_ore, awarded_ore, disbursed_ore, "
                f"recovered_ore FROM recipient_year_balances{where}",
                params,
            )
            return sorted(
                RecipientYearRow(str(p), str(r), int(y), *map(int, sums)) for p, r, y, *sums in rows
            )
        if view is View.PROGRAMME_YEAR:
            rows = self.db.execute(
                "SELECT programme_id, year, agency, appropriated_ore, awarded_ore, disbursed_ore, "
                f"recovered_ore FROM programme_year_balances{where}",
                params,
            )
            return sorted(
                ProgrammeYearRow(str(p), int(y), str(a), *map(int, sums)) for p, y, a, *sums in rows
            )
        assert view is View.AGENCY_YEAR, f"{view} is derived, not stored"
        rows = self.db.execute(
            "SELECT agency, year, awarded_ore, disbursed_ore, recovered_ore "
            f"FROM agency_year_balances{where}",
            params,
        )
        return sorted(
            AgencyYearRow(str(a), int(y), int(aw), int(di), int(rc)) for a, y, aw, di, rc in rows
        )


def _transposed(rows: Sequence[tuple[Any, ...]], table: s.Table) -> list[Column]:
    """Rows of a table as its columns."""
    assert all(len(row) == len(table.columns) for row in rows), table.name
    return [[row[column] for row in rows] for column in range(len(table.columns))]


def _strings(codes: Any, dictionary: list[str]) -> npt.NDArray[np.object_]:
    """The strings of a code column: one numpy gather of the string objects, no Python call per
    row."""
    values: npt.NDArray[np.object_] = np.array(dictionary, dtype=object)[codes]
    return values
