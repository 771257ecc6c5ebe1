"""What one published envelope means for the balances: its postings and agency-timeline entry."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from projections.domain.kinds import EventKind, kind_of
from projections.domain.time_units import parse_effective_date, parse_recorded_at
from schemas.events import EVENT_SCHEMA_VERSION
from schemas.upcasting import upcast

# A posting moves one grant-year (or appropriation-year) by a signed amount of öre.
Posting = tuple[int, int]


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
    # For ProgrammeEstablished / ProgrammeHandedOver: the agency administering from the
    # effective date on.
    timeline_agency: str | None = None


def _year_amounts(amounts_ore: Mapping[str, Any]) -> tuple[Posting, ...]:
    return tuple(sorted((int(year), int(amount)) for year, amount in amounts_ore.items()))


def postings_of(kind: EventKind, data: Mapping[str, Any]) -> tuple[Posting, ...]:
    """(year, öre) postings of an event's data; the measure follows from the kind."""
    if kind in (
        EventKind.APPLICATION_SUBMITTED,
        EventKind.GRANT_AWARDED,
        EventKind.GRANT_EXTENDED,
    ):
        return _year_amounts(data["amounts_ore"])
    if kind in (EventKind.AWARD_AMENDED, EventKind.APPROPRIATION_AMENDED):
        return ((int(data["year"]), int(data["change_ore"])),)
    if kind in (
        EventKind.FUNDS_DISBURSED,
        EventKind.FUNDS_RECOVERED,
        EventKind.APPROPRIATION_SET,
    ):
        return ((int(data["year"]), int(data["amount_ore"])),)
    return ()


def timeline_agency_of(kind: EventKind, data: Mapping[str, Any]) -> str | None:
    """The agency an establishment or handover puts in charge, else None."""
    if kind is EventKind.PROGRAMME_ESTABLISHED:
        return str(data["administering_agency"])
    if kind is EventKind.PROGRAMME_HANDED_OVER:
        return str(data["to_agency"])
    return None


def current_data(envelope: Mapping[str, Any]) -> Mapping[str, Any]:
    """The envelope's `data`, upcast to the current schema version when it is older."""
    data: Mapping[str, Any] = envelope["data"]
    version = int(envelope.get("schema_version", EVENT_SCHEMA_VERSION))
    if version < EVENT_SCHEMA_VERSION:
        return upcast(str(envelope["type"]), version, data)
    return data


def facts_of(envelope: Mapping[str, Any]) -> EventFacts:
    """Interpret one envelope (the Kafka value, decoded)."""
    kind = kind_of(str(envelope["type"]))
    data = current_data(envelope)
    recipient = data.get("recipient")
    return EventFacts(
        position=int(envelope["position"]),
        kind=kind,
        programme_id=str(envelope["programme_id"]),
        recipient=recipient if isinstance(recipient, str) else None,
        effective_day=parse_effective_date(str(envelope["effective_date"])),
        recorded_at_us=parse_recorded_at(str(envelope["recorded_at"])),
        hash=str(envelope["hash"]),
        postings=postings_of(kind, data),
        timeline_agency=timeline_agency_of(kind, data),
    )
