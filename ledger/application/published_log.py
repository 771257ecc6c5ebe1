"""The published log read back from the store: envelopes in order, chained from genesis.

What the relay puts on the topic, rebuilt from the event store alone. Trails and pages read
only the events they return, through the chain index (ledger/application/chain_index.py);
whole-log walks (exports, verify) chain the store from genesis or from an indexed position.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ledger.application.chain_index import ChainIndex
from ledger.application.envelopes import envelope_body, seal
from ledger.application.grant_ledger import NOTIFICATION_PAGE_SIZE, GrantLedger
from ledger.domain.errors import LedgerError, NotFound
from ledger.infrastructure.chain_index_sql import MAX_POSITION
from schemas.chain import GENESIS_HASH

TRAIL_FIELDS = {"application_id": "application", "recipient": "recipient"}


@dataclass(slots=True)
class ChainCursor:
    """How far a walk of the store's chain has come; a walk can continue from it later."""

    after_notification_id: int = 0
    position: int = 0
    prev_hash: str = GENESIS_HASH


def store_envelopes(
    ledger: GrantLedger, through_position: int | None = None, cursor: ChainCursor | None = None
) -> Iterator[dict[str, Any]]:
    """Every programme event as its envelope, positions from 1 (or the cursor), chained."""
    cursor = cursor or ChainCursor()
    while page := ledger.stored_programme_events(
        cursor.after_notification_id, NOTIFICATION_PAGE_SIZE
    ):
        for stored in page:
            position = cursor.position + 1
            body = envelope_body(
                position, stored.aggregate_id, stored.aggregate_version, stored.state
            )
            envelope = seal(body, cursor.prev_hash)
            cursor.position, cursor.prev_hash = position, envelope["hash"]
            cursor.after_notification_id = stored.notification_id
            yield envelope
            if through_position is not None and position >= through_position:
                return


def cursor_before(ledger: GrantLedger, position: int) -> ChainCursor:
    """Where a walk starting at `position` begins: the indexed link of the position before."""
    assert position >= 1, position
    if position == 1:
        return ChainCursor()
    index = ChainIndex(ledger)
    head = index.extend()
    row = index.row_at(position - 1)
    if row is None:
        raise LedgerError("position", position, f"the store holds positions 1..{head}")
    return ChainCursor(row.notification_id, row.position, row.hash)


def trail(
    ledger: GrantLedger, *, application_id: str | None = None, recipient: str | None = None
) -> list[dict[str, Any]]:
    """A grant's or a recipient's events, in order; NotFound when there are none."""
    assert (application_id is None) != (recipient is None), "one of application_id, recipient"
    field, value = (
        ("application_id", application_id)
        if application_id is not None
        else ("recipient", recipient)
    )
    assert value is not None
    index = ChainIndex(ledger)
    index.extend()
    rows = index.rows_of(field, value)
    if not rows:
        raise NotFound(field, value, f"no events for this {TRAIL_FIELDS[field]}")
    return index.envelopes(rows)


def log_page(ledger: GrantLedger, from_position: int, limit: int) -> list[dict[str, Any]]:
    """Envelopes of positions from_position .. from_position + limit - 1 (fewer at the head)."""
    assert from_position >= 1 and limit >= 0, (from_position, limit)
    if limit == 0:
        return []
    index = ChainIndex(ledger)
    index.extend()
    last_position = min(from_position + limit - 1, MAX_POSITION)
    return index.envelopes(index.rows_between(min(from_position, MAX_POSITION), last_position))
