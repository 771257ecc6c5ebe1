"""Event kinds as small integer codes, and which balance measure each kind moves."""

from enum import IntEnum


class EventKind(IntEnum):
    """An event type as the uint8 code the replay store keeps (0: a type unknown to this code)."""

    OTHER = 0
    PROGRAMME_ESTABLISHED = 1
    APPROPRIATION_SET = 2
    APPROPRIATION_AMENDED = 3
    PROGRAMME_HANDED_OVER = 4
    APPLICATION_SUBMITTED = 5
    APPLICATION_REJECTED = 6
    GRANT_AWARDED = 7
    GRANT_EXTENDED = 8
    AWARD_AMENDED = 9
    FUNDS_DISBURSED = 10
    FUNDS_RECOVERED = 11


class Measure(IntEnum):
    """The money column a posting moves."""

    REQUESTED = 0
    AWARDED = 1
    DISBURSED = 2
    RECOVERED = 3
    APPROPRIATED = 4


MEASURE_COUNT = len(Measure)
KIND_COUNT = len(EventKind)

EVENT_KIND_BY_TYPE: dict[str, EventKind] = {
    "ProgrammeEstablished": EventKind.PROGRAMME_ESTABLISHED,
    "AppropriationSet": EventKind.APPROPRIATION_SET,
    "AppropriationAmended": EventKind.APPROPRIATION_AMENDED,
    "ProgrammeHandedOver": EventKind.PROGRAMME_HANDED_OVER,
    "ApplicationSubmitted": EventKind.APPLICATION_SUBMITTED,
    "ApplicationRejected": EventKind.APPLICATION_REJECTED,
    "GrantAwarded": EventKind.GRANT_AWARDED,
    "GrantExtended": EventKind.GRANT_EXTENDED,
    "AwardAmended": EventKind.AWARD_AMENDED,
    "FundsDisbursed": EventKind.FUNDS_DISBURSED,
    "FundsRecovered": EventKind.FUNDS_RECOVERED,
}

# Which measure a kind's postings move; kinds without money meaning post nothing.
MEASURE_OF_KIND: dict[EventKind, Measure] = {
    EventKind.APPLICATION_SUBMITTED: Measure.REQUESTED,
    EventKind.GRANT_AWARDED: Measure.AWARDED,
    EventKind.GRANT_EXTENDED: Measure.AWARDED,
    EventKind.AWARD_AMENDED: Measure.AWARDED,
    EventKind.FUNDS_DISBURSED: Measure.DISBURSED,
    EventKind.FUNDS_RECOVERED: Measure.RECOVERED,
    EventKind.APPROPRIATION_SET: Measure.APPROPRIATED,
    EventKind.APPROPRIATION_AMENDED: Measure.APPROPRIATED,
}


def kind_of(event_type: str) -> EventKind:
    """The code of an event type; OTHER for a type this version does not know."""
    return EVENT_KIND_BY_TYPE.get(event_type, EventKind.OTHER)


def measure_of(kind: EventKind) -> Measure | None:
    """The measure a kind's postings move, or None."""
    return MEASURE_OF_KIND.get(kind)
