"""What one published envelope means for the balances: the read side's one decoder.

`decode` reads what the projections need from an envelope (its `data` upcast to the current
schema version, postings and agency from the event type's declared meaning) and leaves the dates
as text, which the rebuild's fast path (projections.consumer.columnizer) converts for a whole
batch at once; `facts_of` converts them per event for the live projector.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from projections.domain.kinds import EVENT_KIND_BY_TYPE, MEANING_OF_KIND, NO_MEANING, EventKind
from projections.domain.time_units import parse_effective_date, parse_recorded_at
from schemas.events import EVENT_SCHEMA_VERSION
from schemas.meaning import Meaning, Posting
from schemas.upcasting import upcast


class Decoded(NamedTuple):
    """An envelope as the read side reads it; dates still text (cheap to make per message)."""

    position: int
    kind: EventKind
    programme_id: str
    recipient: str | None
    effective_date: str  # YYYY-MM-DD
    recorded_at: str  # ISO 8601, UTC, ending in Z
    hash: str
    postings: tuple[Posting, ...]
    # For ProgrammeEstablished / ProgrammeHandedOver: the agency in charge from then on.
    timeline_agency: str | None


@dataclass(frozen=True, slots=True)
class EventFacts:
    """The parts of an envelope the projections need, with dates as integers."""

    position: int
    kind: EventKind
    programme_id: str
    recipient: str | None
    effective_day: int
    recorded_at_us: int
    hash: str
    postings: tuple[Posting, ...]
    timeline_agency: str | None = None


def current_data(envelope: Mapping[str, Any]) -> Mapping[str, Any]:
    """The envelope's `data`, upcast to the current schema version when it is older."""
    data: Mapping[str, Any] = envelope["data"]
    version = int(envelope.get("schema_version", EVENT_SCHEMA_VERSION))
    if version < EVENT_SCHEMA_VERSION:
        return upcast(str(envelope["type"]), version, data)
    return data


# Each event type's kind and declared meaning, found with one lookup of its `type`.
_KIND_AND_MEANING: dict[str, tuple[EventKind, Meaning]] = {
    name: (kind, MEANING_OF_KIND[kind]) for name, kind in EVENT_KIND_BY_TYPE.items()
}
_UNKNOWN_TYPE = (EventKind.OTHER, NO_MEANING)
# Builds a Decoded without the Python-level __new__ of a NamedTuple: this runs per message.
_make_tuple = tuple.__new__


def decode(envelope: Mapping[str, Any]) -> Decoded:
    """Read one envelope (the Kafka value, parsed) as it came; a type this version does not know
    posts nothing and keeps its place (kind OTHER)."""
    kind, meaning = _KIND_AND_MEANING.get(envelope["type"], _UNKNOWN_TYPE)
    data = envelope["data"]
    if envelope.get("schema_version", EVENT_SCHEMA_VERSION) != EVENT_SCHEMA_VERSION:
        data = current_data(envelope)
    recipient = data.get("recipient")
    decoded: Decoded = _make_tuple(
        Decoded,
        (
            envelope["position"],
            kind,
            envelope["programme_id"],
            recipient if isinstance(recipient, str) else None,
            envelope["effective_date"],
            envelope["recorded_at"],
            envelope["hash"],
            meaning.postings(data),
            meaning.agency(data),
        ),
    )
    return decoded


def facts_of(envelope: Mapping[str, Any]) -> EventFacts:
    """Interpret one envelope (the Kafka value, parsed), its values checked for their types."""
    decoded = decode(envelope)
    return EventFacts(
        position=int(decoded.position),
        kind=decoded.kind,
        programme_id=str(decoded.programme_id),
        recipient=decoded.recipient,
        effective_day=parse_effective_date(str(decoded.effective_date)),
        recorded_at_us=parse_recorded_at(str(decoded.recorded_at)),
        hash=str(decoded.hash),
        postings=decoded.postings,
        timeline_agency=decoded.timeline_agency,
    )
