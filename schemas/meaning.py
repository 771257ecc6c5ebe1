"""What an event means for the balances, declared once per event type beside its model.

Each event model in schemas/events.py carries a `meaning`: which measure its money moves
(requested, awarded, disbursed, recovered, appropriated), the field that holds the amount, whether
that field is one year's amount (with `year`) or a map of years, whether the amount carries its
own sign (a change), and which field names the agency it puts in charge. The domain's apply, the
projections' kinds, postings and agency timeline, and the consumer's fast path are derived from
it; schemas/events.py checks at import that every event type declares one that fits its model.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum, StrEnum
from typing import Any, Final

# A posting moves one year of a measure by a signed amount of öre: (year, öre).
Posting = tuple[int, int]
YEAR_FIELD: Final = "year"


class Measure(IntEnum):
    """The money column a posting moves (the code is what the replay store keeps)."""

    REQUESTED = 0
    AWARDED = 1
    DISBURSED = 2
    RECOVERED = 3
    APPROPRIATED = 4


# Measures of one grant (they need the event's recipient); APPROPRIATED is the programme's.
GRANT_MEASURES: Final = frozenset(
    {Measure.REQUESTED, Measure.AWARDED, Measure.DISBURSED, Measure.RECOVERED}
)


class Span(StrEnum):
    """How the amount field covers years."""

    ONE_YEAR = "one year"  # an amount in öre for the event's `year`
    YEARS = "years"  # a map from year ("2019") to öre


@dataclass(frozen=True, slots=True)
class Meaning:
    """What one event type means for the balances; `Meaning()` when it moves no money."""

    measure: Measure | None = None
    amount_field: str | None = None
    span: Span | None = None
    # True when the amount carries its own sign (a change: raise or cut); else it is never < 0.
    signed: bool = False
    # The field naming the agency that administers the programme from the effective date on.
    agency_field: str | None = None

    def __post_init__(self) -> None:
        money = (self.measure, self.amount_field, self.span)
        assert all(part is None for part in money) or None not in money, (
            f"a measure needs its amount field and span: {self}"
        )
        assert not self.signed or self.measure is not None, f"signed without a measure: {self}"

    def postings(self, data: Mapping[str, Any]) -> tuple[Posting, ...]:
        """(year, öre) of an event's data (a model's fields or the envelope's `data`)."""
        # Runs once per message on the read side's hot paths: no conversions the contract's
        # types already guarantee (a `year` and amounts are integers; year keys are 4 digits,
        # so their text order is their numeric order).
        field = self.amount_field
        if field is None:
            return ()
        if self.span is Span.ONE_YEAR:
            return ((data[YEAR_FIELD], data[field]),)
        return tuple([(int(year), ore) for year, ore in sorted(data[field].items())])

    def agency(self, data: Mapping[str, Any]) -> str | None:
        """The agency the event puts in charge, or None."""
        return None if self.agency_field is None else str(data[self.agency_field])
