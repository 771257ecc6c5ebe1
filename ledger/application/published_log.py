"""The published log read back from the store: envelopes in order, chained from genesis.

What the relay puts on the topic, rebuilt from the event store alone; auditors' tools (history,
events, verify) read it through here.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ledger.application.envelopes import envelope_body, seal
from ledger.application.grant_ledger import NOTIFICATION_PAGE_SIZE, GrantLedger
from ledger.domain.errors import NotFound
from schemas.chain import GENESIS_HASH
from schemas.errors import QueryParameter, UnknownSubject


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


def trail(
    ledger: GrantLedger, *, application_id: str | None = None, recipient: str | None = None
) -> list[dict[str, Any]]:
    """A grant's or a recipient's events, in order; UnknownSubject when there are none."""
    assert (application_id is None) != (recipient is None), "one of application_id, recipient"
    if application_id is not None:
        try:
            ledger.programme_of_application(application_id)
        except NotFound as unknown:
            # Unknown to a command is a refusal; unknown to a question, an unknown subject.
            raise UnknownSubject(
                QueryParameter.APPLICATION, unknown.value, unknown.message
            ) from None
        parameter, value = QueryParameter.APPLICATION, application_id
    else:
        parameter, value = QueryParameter.RECIPIENT, str(recipient)
    found = [e for e in store_envelopes(ledger) if e["data"].get(parameter.value) == value]
    if not found:
        raise UnknownSubject(
            parameter, value, f"no events for this {parameter.value.replace('_', ' ')}"
        )
    return found
