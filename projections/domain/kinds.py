"""Event kinds as the small integer codes the replay store keeps, and the measure each moves.

The codes are part of the replay store's format: never changed, never reused. What a kind means
for the balances is its event model's declared meaning (schemas/meaning.py); a new event type
without a code here, or a code without an event type, fails at import.
"""

from collections.abc import Mapping
from enum import IntEnum
from typing import Final

from schemas.events import MEANING_BY_TYPE
from schemas.meaning import Meaning, Measure


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


def type_name(kind: EventKind) -> str:
    """The event type a kind stands for: APPLICATION_SUBMITTED -> ApplicationSubmitted."""
    return "".join(word.capitalize() for word in kind.name.split("_"))


EVENT_KIND_BY_TYPE: Final[dict[str, EventKind]] = {
    type_name(kind): kind for kind in EventKind if kind is not EventKind.OTHER
}


def check_kind_codes(
    kind_by_type: Mapping[str, EventKind], meaning_by_type: Mapping[str, Meaning]
) -> None:
    """Fail loudly (at import) when an event type has no kind code here, or a code no type."""
    assert kind_by_type.keys() == meaning_by_type.keys(), (
        "every event type needs a kind code here, and every code an event type: "
        f"{sorted(kind_by_type.keys() ^ meaning_by_type.keys())}"
    )


check_kind_codes(EVENT_KIND_BY_TYPE, MEANING_BY_TYPE)

NO_MEANING: Final = Meaning()
MEANING_OF_KIND: Final[dict[EventKind, Meaning]] = {
    EventKind.OTHER: NO_MEANING,
    **{kind: MEANING_BY_TYPE[name] for name, kind in EVENT_KIND_BY_TYPE.items()},
}
# Which measure a kind's postings move; kinds without money meaning post nothing.
MEASURE_OF_KIND: Final[dict[EventKind, Measure]] = {
    kind: meaning.measure
    for kind, meaning in MEANING_OF_KIND.items()
    if meaning.measure is not None
}
MEASURE_COUNT: Final = len(Measure)
KIND_COUNT: Final = len(EventKind)


def kind_of(event_type: str) -> EventKind:
    """The code of an event type; OTHER for a type this version does not know."""
    return EVENT_KIND_BY_TYPE.get(event_type, EventKind.OTHER)


def measure_of(kind: EventKind) -> Measure | None:
    """The measure a kind's postings move, or None."""
    return MEASURE_OF_KIND.get(kind)
