"""The chain index: each published event's position and hash, kept as the chain is computed.

Readers of the published log (history, events, the HTTP trails and pages, exports, verify)
extend it from its last row up to the store's head before they read, so a trail or a page reads
only the rows it returns instead of re-hashing the log from genesis. The chain itself is
defined once in schemas/chain.py; the index only remembers it.

Every envelope read through the index is proven again link by link: rebuilt from the stored
event, hashed with its indexed prev_hash, and held against its indexed hash (and consecutive
rows against each other). A stored event altered or removed after it was indexed stops the
read with ChainIndexMismatch naming the position. Unpublished events (the relay is behind) show
with the hash they will get: the chain is a function of the store's order alone, and the relay
computes the same function (`verify` holds the topic against it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from eventsourcing.persistence import IntegrityError

from ledger.application.envelopes import envelope_body, seal
from ledger.application.grant_ledger import (
    NOTIFICATION_PAGE_SIZE,
    GrantLedger,
    StoredProgrammeEvent,
)
from ledger.domain.errors import LedgerError
from ledger.infrastructure.chain_index_sql import ChainRow, chain_index_sql
from schemas.chain import GENESIS_HASH, canonical_body_bytes, chain_hash

# Rows added a transaction: short write locks for the command path, few round trips.
EXTEND_BATCH_EVENTS = 5_000
# A lost insert race re-reads; losing this many in one call means something else is wrong.
MAX_EXTEND_RACES = 1_000


class ChainIndexMismatch(LedgerError):
    """A stored event no longer matches the chain the index recorded for it."""


def chain_row(position: int, prev_hash: str, stored: StoredProgrammeEvent) -> ChainRow:
    """The index row of one stored programme event at `position` after `prev_hash`."""
    body = envelope_body(position, stored.aggregate_id, stored.aggregate_version, stored.state)
    data = stored.state["data"]
    application_id, recipient = data.get("application_id"), data.get("recipient")
    return ChainRow(
        position=position,
        notification_id=stored.notification_id,
        prev_hash=prev_hash,
        hash=chain_hash(prev_hash, canonical_body_bytes(body)),
        aggregate_id=stored.aggregate_id,
        aggregate_version=stored.aggregate_version,
        application_id=application_id if isinstance(application_id, str) else None,
        recipient=recipient if isinstance(recipient, str) else None,
    )


class ChainIndex:
    """The chain index of one ledger's store."""

    def __init__(self, ledger: GrantLedger) -> None:
        self._ledger = ledger
        self._sql = chain_index_sql(ledger.recorder)

    def extend(
        self,
        progress: Callable[[int], None] | None = None,
        batch_events: int = EXTEND_BATCH_EVENTS,
    ) -> int:
        """Index every stored event not indexed yet; returns the store's head position."""
        assert batch_events >= 1, batch_events
        races = 0
        while True:
            last = self._sql.last_row()
            rows = self._next_rows(last, batch_events)
            if not rows:
                return 0 if last is None else last.position
            try:
                self._sql.insert(rows)
            except IntegrityError:
                # Another reader indexed these positions first: re-read from its last row.
                races += 1
                if races >= MAX_EXTEND_RACES:
                    raise ChainIndexMismatch(
                        "chain_index", races, "lost every race to extend the chain index"
                    ) from None
                continue
            if progress is not None:
                progress(rows[-1].position)

    def _next_rows(self, last: ChainRow | None, limit: int) -> list[ChainRow]:
        after_id = 0 if last is None else last.notification_id
        position = 0 if last is None else last.position
        prev_hash = GENESIS_HASH if last is None else last.hash
        rows: list[ChainRow] = []
        while len(rows) < limit:
            page = self._ledger.stored_programme_events(
                after_id, min(NOTIFICATION_PAGE_SIZE, limit - len(rows))
            )
            if not page:
                break
            for stored in page:
                position += 1
                row = chain_row(position, prev_hash, stored)
                rows.append(row)
                prev_hash, after_id = row.hash, row.notification_id
        return rows

    def indexed_head(self) -> int:
        """The highest position indexed so far (without extending)."""
        last = self._sql.last_row()
        return 0 if last is None else last.position

    def row_at(self, position: int) -> ChainRow | None:
        """The indexed row of one position (extend first)."""
        rows = self._sql.rows_between(position, position)
        return rows[0] if rows else None

    def rows_of(self, column: str, value: str) -> list[ChainRow]:
        """Rows of one application (`application_id`) or recipient (`recipient`), in order."""
        return self._sql.rows_where(column, value)

    def rows_between(self, first_position: int, last_position: int) -> list[ChainRow]:
        """Rows of a range of positions, in order."""
        return self._sql.rows_between(first_position, last_position)

    def envelopes(self, rows: Sequence[ChainRow]) -> list[dict[str, Any]]:
        """The rows' envelopes rebuilt from the store, each proven against its indexed link."""
        stored = self._sql.stored_by_ids([row.notification_id for row in rows])
        envelopes: list[dict[str, Any]] = []
        previous: ChainRow | None = None
        for row in rows:
            found = stored.get(row.notification_id)
            if found is None or found[:2] != (row.aggregate_id, row.aggregate_version):
                raise ChainIndexMismatch(
                    "position",
                    row.position,
                    f"the stored event {row.aggregate_id} v{row.aggregate_version} the chain "
                    "index names is gone from the store: run `grant-ledger verify`",
                )
            if (
                previous is not None
                and previous.position + 1 == row.position
                and row.prev_hash != previous.hash
            ):
                raise ChainIndexMismatch(
                    "position", row.position, "the chain index's rows are not chained here"
                )
            body = envelope_body(
                row.position, row.aggregate_id, row.aggregate_version, orjson.loads(found[2])
            )
            envelope = seal(body, row.prev_hash)
            if envelope["hash"] != row.hash:
                raise ChainIndexMismatch(
                    "position",
                    row.position,
                    f"the stored event hashes to {envelope['hash'][:12]}… but the chain was "
                    f"{row.hash[:12]}… when it was indexed: it was altered; run "
                    "`grant-ledger verify`",
                )
            envelopes.append(envelope)
            previous = row
        return envelopes
