"""As-of filters: which events a bitemporal question counts."""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from ledger.domain.errors import InvalidQuery
from projections.domain.time_units import day_number, micros_of

MAX_POSITION_DIGITS = 18  # positions are int64 in the replay store


@dataclass(frozen=True, slots=True)
class AsOf:
    """Count events effective by a date, recorded by an instant, and/or up to a position.

    Money events pass all three that are set. Agency-timeline entries pass only the knowledge
    filters (`as_known_at`, `at_position`): who administers a programme on a day is a fact of
    that day, which an as-of date does not hide.
    """

    as_of_date: date | None = None
    as_known_at: datetime | None = None
    at_position: int | None = None

    def __post_init__(self) -> None:
        assert self.as_known_at is None or self.as_known_at.tzinfo is not None, (
            "as_known_at must be timezone-aware"
        )
        assert self.at_position is None or self.at_position >= 0, self.at_position

    @property
    def is_current(self) -> bool:
        """True when nothing is filtered out: the plain current balances."""
        return self.as_of_date is None and self.as_known_at is None and self.at_position is None

    @property
    def as_of_day(self) -> int | None:
        """The as-of date as a day number."""
        return None if self.as_of_date is None else day_number(self.as_of_date)

    @property
    def known_at_us(self) -> int | None:
        """The as-known-at instant in microseconds since the epoch."""
        return None if self.as_known_at is None else micros_of(self.as_known_at)

    def knows(self, position: int, recorded_at_us: int) -> bool:
        """True when an event was known (recorded, published) under the knowledge filters."""
        known_at_us = self.known_at_us
        if self.at_position is not None and position > self.at_position:
            return False
        return known_at_us is None or recorded_at_us <= known_at_us

    def counts(self, position: int, recorded_at_us: int, effective_day: int) -> bool:
        """True when a money event counts: known, and effective by the as-of date."""
        as_of_day = self.as_of_day
        if as_of_day is not None and effective_day > as_of_day:
            return False
        return self.knows(position, recorded_at_us)

    def reference_date(self, today: date) -> date:
        """The 'now' of the question: the as-of date, else today."""
        return self.as_of_date if self.as_of_date is not None else today


CURRENT = AsOf()


def parse_as_of(as_of_date: str | None, as_known_at: str | None, at_position: str | None) -> AsOf:
    """The as-of question from text (CLI flags, HTTP query); a bad value is refused by name."""
    day = None
    if as_of_date is not None:
        try:
            day = date.fromisoformat(as_of_date)
        except ValueError:
            raise InvalidQuery("as_of_date", as_of_date, "expected a date YYYY-MM-DD") from None
    known_at = None
    if as_known_at is not None:
        try:
            known_at = datetime.fromisoformat(as_known_at)
        except ValueError:
            raise InvalidQuery(
                "as_known_at",
                as_known_at,
                "expected an ISO 8601 timestamp, e.g. 2021-05-17T12:00:00Z",
            ) from None
        if known_at.tzinfo is None:
            known_at = known_at.replace(tzinfo=UTC)
    position = None
    if at_position is not None:
        digits = at_position.isascii() and at_position.isdigit()
        if not digits or len(at_position) > MAX_POSITION_DIGITS:
            raise InvalidQuery("at_position", at_position, "expected a whole number >= 0")
        position = int(at_position)
    return AsOf(as_of_date=day, as_known_at=known_at, at_position=position)
