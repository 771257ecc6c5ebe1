"""Stored programme events as the published envelope (the Kafka contract), chained by hash.

Envelopes are built from the stored JSON state, not from re-validated models: the state was
validated when it was recorded, and this is the relay's hot path.
"""

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from ledger.domain.recorded import ProgrammeEvent
from schemas.chain import GENESIS_HASH, canonical_bytes, chain_hash


def envelope_body(
    position: int, aggregate_id: str, aggregate_version: int, state: Mapping[str, Any]
) -> dict[str, Any]:
    """The envelope without its chain fields, from a stored event's state."""
    assert position >= 1, position
    data = state["data"]
    return {
        "position": position,
        "event_id": state["event_id"],
        "type": data["type"],
        "schema_version": state["schema_version"],
        "aggregate_id": aggregate_id,
        "aggregate_version": aggregate_version,
        "recorded_at": state["timestamp"],
        "effective_date": state["effective_date"],
        "programme_id": data["programme_id"],
        "actor": state["actor"],
        "agency": state["agency"],
        "command_id": state["command_id"],
        "note": state["note"],
        "data": data,
    }


def published_value(canonical: bytes, prev_hash: str, event_hash: str) -> bytes:
    """The message value: the canonical body with the chain fields appended.

    One serialisation, and removing prev_hash/hash and sorting keys gives back exactly the bytes
    that were hashed.
    """
    assert canonical.endswith(b"}"), "a canonical body is a JSON object"
    return b"".join(
        (
            canonical[:-1],
            b',"prev_hash":"',
            prev_hash.encode(),
            b'","hash":"',
            event_hash.encode(),
            b'"}',
        )
    )


def event_state(event: ProgrammeEvent) -> dict[str, Any]:
    """A domain event's state exactly as the mapper stores it."""
    return event.model_dump(mode="json", exclude={"originator_id", "originator_version"})


def seal(body: dict[str, Any], prev_hash: str) -> dict[str, Any]:
    """Add prev_hash and hash to an envelope body."""
    body["prev_hash"] = prev_hash
    body["hash"] = chain_hash(prev_hash, canonical_bytes(body))
    return body


def chained_envelopes(
    events: Iterable[ProgrammeEvent], first_position: int = 1, prev_hash: str = GENESIS_HASH
) -> Iterator[dict[str, Any]]:
    """Envelopes with consecutive positions, each chained to the one before."""
    position = first_position
    for event in events:
        body = envelope_body(
            position, event.originator_id, event.originator_version, event_state(event)
        )
        envelope = seal(body, prev_hash)
        prev_hash = envelope["hash"]
        yield envelope
        position += 1


def key_of(data: Mapping[str, Any]) -> str:
    """Kafka key: a grant event's recipient (one partition per recipient), else the programme."""
    recipient = data.get("recipient")
    return recipient if isinstance(recipient, str) else str(data["programme_id"])


def message_key(event: ProgrammeEvent) -> str:
    """Kafka key of a domain event."""
    return key_of(event.data.model_dump(mode="json"))
