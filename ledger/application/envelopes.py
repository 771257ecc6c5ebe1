"""Stored programme events as the published envelope (the Kafka contract), chained by hash."""

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from ledger.domain.recorded import ProgrammeEvent
from schemas.chain import GENESIS_HASH, canonical_bytes, chain_hash


def format_recorded_at(moment: datetime) -> str:
    """UTC, microseconds, `Z`: one spelling, so the canonical bytes are reproducible."""
    assert moment.tzinfo is not None, "recorded_at must be timezone-aware"
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def envelope_body(position: int, event: ProgrammeEvent) -> dict[str, Any]:
    """The envelope without its chain fields."""
    assert position >= 1, position
    return {
        "position": position,
        "event_id": str(event.event_id),
        "type": event.data.type,
        "schema_version": event.schema_version,
        "aggregate_id": event.originator_id,
        "aggregate_version": event.originator_version,
        "recorded_at": format_recorded_at(event.timestamp),
        "effective_date": event.effective_date.isoformat(),
        "programme_id": event.data.programme_id,
        "actor": event.actor,
        "agency": event.agency,
        "command_id": event.command_id,
        "note": event.note,
        "data": event.data.model_dump(mode="json"),
    }


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
        envelope = seal(envelope_body(position, event), prev_hash)
        prev_hash = envelope["hash"]
        yield envelope
        position += 1


def message_key(event: ProgrammeEvent) -> str:
    """Kafka key: the recipient for grant events (one partition per municipality), else the programme."""
    recipient = getattr(event.data, "recipient", None)
    return recipient if isinstance(recipient, str) else event.data.programme_id
