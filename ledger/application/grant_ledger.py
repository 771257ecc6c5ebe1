"""The GrantLedger application: commands in, immutable events out, on eventsourcing."""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from threading import RLock
from typing import Any

import orjson
from eventsourcing.application import Application, LRUCache
from eventsourcing.persistence import OperationalError, PersistenceError, RecordConflictError
from eventsourcing.utils import get_topic

from ledger.application.digest import command_digest
from ledger.application.outcome import Outcome
from ledger.application.positions import PositionCounter
from ledger.application.snapshots import SNAPSHOT_EVERY_EVENTS, ProgrammeSnapshots
from ledger.domain.context import CommandContext
from ledger.domain.errors import (
    CommandIdConflict,
    ConcurrencyExhausted,
    NotFound,
    RuleViolation,
    StoreUnavailable,
)
from ledger.domain.programme import Programme
from ledger.domain.recorded import IndexEntry, ProgrammeEvent, application_key, command_key
from ledger.infrastructure.event_log_sql import event_log_sql
from ledger.infrastructure.snapshot_store import SnapshotStore
from ledger.infrastructure.store_presence import POSTGRES_EVENTS_TABLE
from ledger.infrastructure.store_url import parse_store_url, store_url_from_env
from ledger.infrastructure.table_setup import create_tables
from ledger.proof.errors import IntegrityError
from schemas import commands as c
from schemas.calendar import today_in_stockholm

PROGRAMME_EVENT_TOPIC = get_topic(ProgrammeEvent)
log = logging.getLogger("grant_ledger.ledger")


@dataclass(frozen=True, slots=True)
class StoredProgrammeEvent:
    """A programme event as stored: its place in the log and its JSON state."""

    notification_id: int
    aggregate_id: str
    aggregate_version: int
    state: dict[str, Any]


# A racing writer that loses re-reads and re-decides; past this many losses it gives up.
MAX_WRITE_ATTEMPTS = 50
MAX_STORE_FAILURES = 5
STORE_RETRY_WAIT_S = 0.2
RETRY_BACKOFF_MAX_S = 0.05
AGGREGATE_CACHE_SIZE = 256
NOTIFICATION_PAGE_SIZE = 1_000
# Events read per query when a programme is rebuilt: bounds memory on long streams.
STREAM_PAGE_EVENTS = 10_000


class StoredEventUnreadable(IntegrityError):
    """A stored event's bytes are not the JSON the ledger wrote."""


class GrantLedger(Application[str]):
    """Records grant actions as events in the programme streams of the event store."""

    name = "GrantLedger"
    env = {  # noqa: RUF012 (eventsourcing reads this class attribute)
        "MAPPER_TOPIC": "ledger.infrastructure.mapping:PydanticMapper",
        "TRANSCODER_TOPIC": "ledger.infrastructure.mapping:OrjsonTranscoder",
        "AGGREGATE_CACHE_MAXSIZE": str(AGGREGATE_CACHE_SIZE),
        # Commands validate before they mutate, and a failed save evicts the aggregate, so the
        # cache can hand out its own object instead of a deep copy of a large programme.
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
    }

    def __init__(
        self,
        store_url: str | None = None,
        env: dict[str, str] | None = None,
        snapshot_every_events: int | None = SNAPSHOT_EVERY_EVENTS,
    ) -> None:
        self.store = parse_store_url(store_url or store_url_from_env())
        if self.store.sqlite_path is not None:  # a new ledger's directory, made when opened
            self.store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        # Tables are created below under a lock, not by eventsourcing on construction.
        super().__init__(env={**self.store.env, **(env or {}), "CREATE_TABLE": "n"})
        snapshot_recorder = self.factory.aggregate_recorder(purpose="snapshots")
        create_tables(self.recorder, self.store, snapshot_recorder)
        # Our own snapshot loading (verified, see snapshots.py), not the repository's; position
        # anchors are kept in the same table.
        snapshot_store = SnapshotStore(snapshot_recorder)
        self.programme_snapshots = ProgrammeSnapshots(snapshot_store)
        assert snapshot_every_events is None or snapshot_every_events >= 1, snapshot_every_events
        self._snapshot_every_events = snapshot_every_events
        self._sql = event_log_sql(self.recorder)
        self._positions = PositionCounter(self._sql, PROGRAMME_EVENT_TOPIC, snapshot_store)
        # One command at a time per process: the cached aggregate is shared, not copied.
        self._command_lock = RLock()
        self._application_programmes: dict[str, str] = {}

    # ----------------------------------------------------------------- commands

    def execute(self, command: c.CommandBase, now: datetime | None = None) -> Outcome:
        """Decide and record one command, exactly once per command_id."""
        digest = command_digest(command)
        store_failures = conflicts = 0
        with self._command_lock:
            for _ in range(MAX_WRITE_ATTEMPTS):
                ctx = self._context(command, digest, now)
                try:
                    programme, index_entries, saved_version = self._decide(command, ctx)
                except (RuleViolation, NotFound):
                    # Rules refuse before they change anything, so the cached programme is intact.
                    # A repeat of an earlier command is refused by the rules it already changed
                    # (e.g. "already awarded"): report the earlier outcome instead.
                    earlier = self._earlier_outcome(command.command_id, digest, conflicts)
                    if earlier is not None:
                        return earlier
                    raise
                except BaseException:
                    # Anything else may have left a cached programme half-changed: drop them all.
                    self._clear_cache()
                    raise
                try:
                    recordings = self.save(programme, *index_entries)
                except OperationalError as exc:
                    # The store is busy (a lock timeout) or down, and may or may not have kept
                    # the write: drop the programme, retry a few times, then say so.
                    self._evict(programme.id)
                    store_failures += 1
                    if store_failures >= MAX_STORE_FAILURES:
                        raise StoreUnavailable(
                            "store",
                            self.store.display_url,
                            f"the event store did not accept it: {exc}",
                        ) from None
                    time.sleep(STORE_RETRY_WAIT_S * store_failures)
                    continue
                except RecordConflictError:
                    # Another writer got there first, or this command_id is already recorded:
                    # the index entry's uniqueness makes the save fail. Take back what was
                    # decided, fast-forward to the stream's head and decide again.
                    conflicts += 1
                    self._roll_back(programme, saved_version)
                    earlier = self._earlier_outcome(command.command_id, digest, conflicts)
                    if earlier is not None:
                        return earlier
                    # The winner has committed, so the first retry sees it; back off only when
                    # the race keeps being lost.
                    time.sleep(random.uniform(0, RETRY_BACKOFF_MAX_S * (conflicts - 1)))
                    continue
                except BaseException:
                    self._evict(programme.id)
                    raise
                return self._recorded(command, programme, recordings[0], conflicts)
        raise ConcurrencyExhausted(
            "command_id", command.command_id, f"lost the write race {MAX_WRITE_ATTEMPTS} times"
        )

    def _recorded(
        self, command: c.CommandBase, programme: Programme, recording: Any, conflicts: int
    ) -> Outcome:
        event = recording.domain_event
        assert isinstance(event, ProgrammeEvent), type(event).__name__
        assert event.originator_version == programme.version, (event, programme.version)
        if isinstance(command, c.SubmitApplication):
            self._application_programmes[command.application_id] = programme.id
        every = self._snapshot_every_events
        if every is not None and programme.version % every == 0:
            self._take_snapshot(programme, event.event_id)
        return Outcome(
            command_id=command.command_id,
            programme_id=programme.id,
            aggregate_version=event.originator_version,
            event_type=event.data.type,
            position=self._positions.position_of(recording.notification.id, str(event.event_id)),
            duplicate=False,
            write_conflicts=conflicts,
        )

    def _roll_back(self, programme: Programme, saved_version: int | None) -> None:
        """Undo a decision whose save lost the race, keeping the cached programme warm."""
        if saved_version is None:
            return  # a new programme: never cached, nothing to undo
        try:
            programme.rollback_unsaved(saved_version)
        except BaseException:
            self._evict(programme.id)
            raise

    def _context(self, command: c.CommandBase, digest: str, now: datetime | None) -> CommandContext:
        recorded_at = (now or datetime.now(tz=UTC)).astimezone(UTC)
        return CommandContext(
            event_id=uuid.uuid4(),
            recorded_at=recorded_at,
            effective_date=command.effective_date or today_in_stockholm(recorded_at),
            actor=command.actor,
            agency=command.agency,
            command_id=command.command_id,
            command_digest=digest,
            note=command.note,
        )

    def _decide(
        self, command: c.CommandBase, ctx: CommandContext
    ) -> tuple[Programme, list[IndexEntry], int | None]:
        """The programme with the command's event decided, its index entries, and the version
        it had before (None for a new programme)."""
        saved_version: int | None = None
        if isinstance(command, c.EstablishProgramme):
            if self._programme_exists(command.programme_id):
                raise RuleViolation(
                    "programme_id", command.programme_id, "a programme with this id already exists"
                )
            programme = Programme.establish(command, ctx)
        else:
            programme = self._target(command)
            saved_version = programme.version
            # Stamped no earlier than the stream's last event: the clock read before loading
            # may lag a write another process committed meanwhile.
            if programme.last_recorded_at > ctx.recorded_at:
                ctx = dataclasses.replace(ctx, recorded_at=programme.last_recorded_at)
            self._dispatch(programme, command, ctx)

        version = programme.version
        entries = [self._entry(command_key(ctx.command_id), programme.id, version, ctx)]
        if isinstance(command, c.SubmitApplication):
            entries.append(
                self._entry(application_key(command.application_id), programme.id, version, ctx)
            )
        return programme, entries, saved_version

    def _target(self, command: c.CommandBase) -> Programme:
        """The programme a command acts on (refusing a reused application_id on submission)."""
        if isinstance(command, c.SubmitApplication):
            existing = self._index_entry(application_key(command.application_id))
            if existing is not None:
                raise RuleViolation(
                    "application_id",
                    command.application_id,
                    f"already used by an application in programme {existing.programme_id}",
                )
        programme_id = getattr(command, "programme_id", None)
        if programme_id is None:
            application_id = getattr(command, "application_id", None)
            assert isinstance(application_id, str), f"unroutable {type(command).__name__}"
            programme_id = self.programme_of_application(application_id)
        return self.programme(programme_id)

    @staticmethod
    def _dispatch(programme: Programme, command: c.CommandBase, ctx: CommandContext) -> None:
        decisions: dict[type[c.CommandBase], Callable[[Any, CommandContext], None]] = {
            c.SetAppropriation: programme.set_appropriation,
            c.AmendAppropriation: programme.amend_appropriation,
            c.HandOverProgramme: programme.hand_over,
            c.SubmitApplication: programme.submit_application,
            c.AwardGrant: programme.award,
            c.RejectApplication: programme.reject_application,
            c.DisburseFunds: programme.disburse,
            c.ExtendGrant: programme.extend,
            c.AmendAward: programme.amend_award,
            c.RecoverFunds: programme.recover,
        }
        decide = decisions.get(type(command))
        assert decide is not None, f"unhandled command {type(command).__name__}"
        decide(command, ctx)

    @staticmethod
    def _entry(key: str, programme_id: str, version: int, ctx: CommandContext) -> IndexEntry:
        return IndexEntry(
            originator_id=key,
            originator_version=1,
            timestamp=ctx.recorded_at,
            programme_id=programme_id,
            aggregate_version=version,
            digest=ctx.command_digest,
        )

    def _earlier_outcome(self, command_id: str, digest: str, conflicts: int = 0) -> Outcome | None:
        entry = self._index_entry(command_key(command_id))
        if entry is None:
            return None
        if entry.digest != digest:
            raise CommandIdConflict(
                "command_id",
                command_id,
                "already used for a different command; choose a new command_id",
            )
        return self._outcome_of(command_id, entry, conflicts)[0]

    def _outcome_of(
        self, command_id: str, entry: IndexEntry, conflicts: int = 0
    ) -> tuple[Outcome, ProgrammeEvent]:
        event = self.programme_event(entry.programme_id, entry.aggregate_version)
        notification_id = self._sql.notification_id_of(entry.programme_id, entry.aggregate_version)
        assert notification_id is not None, f"index entry for {command_id} without its event"
        outcome = Outcome(
            command_id=command_id,
            programme_id=entry.programme_id,
            aggregate_version=entry.aggregate_version,
            event_type=event.data.type,
            position=self._positions.position_of(notification_id),
            duplicate=True,
            write_conflicts=conflicts,
        )
        return outcome, event

    def recorded_command(self, command_id: str) -> tuple[Outcome, ProgrammeEvent]:
        """What an earlier command recorded (its outcome and event); NotFound when none."""
        entry = self._index_entry(command_key(command_id))
        if entry is None:
            raise NotFound("command_id", command_id, "no command with this id is recorded")
        return self._outcome_of(command_id, entry)

    def _index_entry(self, key: str) -> IndexEntry | None:
        for event in self.events.get(key, limit=1):
            assert isinstance(event, IndexEntry)
            return event
        return None

    def _clear_cache(self) -> None:
        if self.repository.cache is not None:
            self.repository.cache = LRUCache(maxsize=AGGREGATE_CACHE_SIZE)

    def _evict(self, programme_id: str) -> None:
        cache = self.repository.cache
        if cache is not None:
            with contextlib.suppress(KeyError):
                cache.get(programme_id, evict=True)

    # ----------------------------------------------------------------- queries

    def programme(self, programme_id: str) -> Programme:
        """The current state of a programme (the cached one, brought up to the stream's head)."""
        cache = self.repository.cache
        assert cache is not None, "the ledger runs with an aggregate cache"
        with self._command_lock:
            try:
                cached = cache.get(programme_id)
            except KeyError:
                programme = self._load_programme(programme_id)
                cache.put(programme_id, programme)
                return programme
            assert isinstance(cached, Programme), type(cached).__name__
            self._replay_onto(cached, self._stream(programme_id, after_version=cached.version))
            return cached

    def _programme_exists(self, programme_id: str) -> bool:
        try:
            self.programme(programme_id)
        except NotFound:
            return False
        return True

    def _load_programme(self, programme_id: str) -> Programme:
        """A programme from its newest verified snapshot and the events after it, or from the
        start of its stream; snapshots it afresh when that meant a long replay."""
        programme: Programme | None = None
        snapshot = self.programme_snapshots.load(programme_id)
        if snapshot is not None:
            version = snapshot.programme.version
            tail = self._stream(programme_id, after_version=version - 1)
            at_version = next(tail, None)
            if isinstance(at_version, ProgrammeEvent) and (
                at_version.event_id == snapshot.last_event_id
            ):
                programme = snapshot.programme
            else:
                self.programme_snapshots.reject(
                    programme_id, version, "the event store holds a different event at its version"
                )
        if programme is None:
            tail = self._stream(programme_id, after_version=0)
        programme, replayed, last_event = self._replay_onto(programme, tail)
        if programme is None:
            raise NotFound("programme_id", programme_id, "no such programme")
        if self._snapshot_every_events is not None and replayed >= self._snapshot_every_events:
            assert last_event is not None
            self._take_snapshot(programme, last_event.event_id)
        return programme

    def _stream(self, aggregate_id: str, after_version: int) -> Iterator[object]:
        """An aggregate's events after a version, read a page at a time."""
        while True:
            page = list(self.events.get(aggregate_id, gt=after_version, limit=STREAM_PAGE_EVENTS))
            yield from page
            if len(page) < STREAM_PAGE_EVENTS:
                return
            after_version = page[-1].originator_version

    @staticmethod
    def _replay_onto(
        programme: Programme | None, events: Iterator[object]
    ) -> tuple[Programme | None, int, ProgrammeEvent | None]:
        """Apply events in order; (programme, how many, the last) — None for a non-programme."""
        replayed, last = 0, None
        for event in events:
            if not isinstance(event, ProgrammeEvent):
                return None, 0, None  # an index entry's reserved id, not a programme
            programme = Programme.evolve(programme, event)
            replayed, last = replayed + 1, event
        return programme, replayed, last

    def _take_snapshot(self, programme: Programme, last_event_id: uuid.UUID) -> None:
        try:
            self.programme_snapshots.take(programme, last_event_id)
        except PersistenceError as exc:
            # A snapshot only saves time later; the command is recorded either way.
            log.warning("snapshot of %s v%d not stored: %s", programme.id, programme.version, exc)

    def programme_of_application(self, application_id: str) -> str:
        """The programme an application belongs to."""
        known = self._application_programmes.get(application_id)
        if known is not None:
            return known
        entry = self._index_entry(application_key(application_id))
        if entry is None:
            raise NotFound("application_id", application_id, "no such application")
        # An application never changes programme, so the answer can be kept for good.
        self._application_programmes[application_id] = entry.programme_id
        return entry.programme_id

    def programme_event(self, programme_id: str, version: int) -> ProgrammeEvent:
        """One event of a programme's stream."""
        for event in self.events.get(programme_id, gt=version - 1, lte=version):
            assert isinstance(event, ProgrammeEvent)
            return event
        raise NotFound("aggregate_version", version, f"programme {programme_id} has no such event")

    def programme_events(
        self, after_notification_id: int = 0, limit: int | None = None
    ) -> Iterator[tuple[int, ProgrammeEvent]]:
        """Programme events in global order, as (notification id, event), from the log."""
        start = after_notification_id + 1
        remaining = limit
        while remaining is None or remaining > 0:
            page_size = (
                NOTIFICATION_PAGE_SIZE
                if remaining is None
                else min(remaining, NOTIFICATION_PAGE_SIZE)
            )
            page = self.recorder.select_notifications(
                start=start, limit=page_size, topics=[PROGRAMME_EVENT_TOPIC]
            )
            for notification in page:
                event = self.mapper.to_domain_event(notification)
                assert isinstance(event, ProgrammeEvent)
                yield notification.id, event
            if len(page) < page_size:
                return
            start = page[-1].id + 1
            if remaining is not None:
                remaining -= len(page)

    def stored_programme_events(
        self, after_notification_id: int = 0, limit: int = NOTIFICATION_PAGE_SIZE
    ) -> list[StoredProgrammeEvent]:
        """One page of programme events in global order, as stored (the relay's fast path)."""
        assert self.mapper.cipher is None and self.mapper.compressor is None, "raw state is JSON"
        loads = orjson.loads
        rows = self._sql.topic_rows(PROGRAMME_EVENT_TOPIC, after_notification_id, limit)
        try:
            return [
                StoredProgrammeEvent(notification_id, aggregate_id, version, loads(state))
                for notification_id, aggregate_id, version, state in rows
            ]
        except orjson.JSONDecodeError:
            raise self._unreadable(rows) from None

    def _unreadable(self, rows: Any) -> StoredEventUnreadable:
        """The first stored event of `rows` that is not valid UTF-8 JSON, named."""
        for notification_id, aggregate_id, version, state in rows:
            try:
                orjson.loads(state)
            except orjson.JSONDecodeError as exc:
                return StoredEventUnreadable(
                    "stored event",
                    f"notification {notification_id} ({aggregate_id} v{version})",
                    f"is not valid UTF-8 JSON ({exc}): the event store was altered or damaged",
                )
        raise AssertionError("no unreadable row")

    def programme_events_after(self, after_notification_id: int) -> int:
        """How many programme events are stored after a notification id (the relay's lag)."""
        head = self.recorder.max_notification_id() or 0
        if head <= after_notification_id:
            return 0
        return self._sql.count_topic_between(PROGRAMME_EVENT_TOPIC, after_notification_id, head)

    def describe(self) -> dict[str, Any]:
        """Where this ledger stores its events."""
        return {"store": self.store.display_url, "kind": self.store.kind}


# Read-only commands find the ledger by this table (ledger.infrastructure.store_presence).
assert f"{GrantLedger.name.lower()}_events" == POSTGRES_EVENTS_TABLE, "eventsourcing's PG table"
