"""Dates and instants as integers: days and microseconds since 1970-01-01 (UTC)."""

from datetime import UTC, date, datetime, timedelta

EPOCH_DATE = date(1970, 1, 1)
EPOCH_ORDINAL = EPOCH_DATE.toordinal()
EPOCH_INSTANT = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECONDS = timedelta(microseconds=1)


def day_number(day: date) -> int:
    """Days since 1970-01-01."""
    return day.toordinal() - EPOCH_ORDINAL


def date_of_day(day: int) -> date:
    """The date `day` days after 1970-01-01."""
    return date.fromordinal(day + EPOCH_ORDINAL)


def micros_of(moment: datetime) -> int:
    """Microseconds since the epoch of a timezone-aware instant."""
    assert moment.tzinfo is not None, "instants must be timezone-aware"
    return (moment - EPOCH_INSTANT) // MICROSECONDS


def instant_of_micros(micros: int) -> datetime:
    """The UTC instant `micros` microseconds after the epoch."""
    return EPOCH_INSTANT + timedelta(microseconds=micros)


def parse_recorded_at(text: str) -> int:
    """Microseconds since the epoch of an envelope's `recorded_at` (ISO 8601, UTC `Z`)."""
    return micros_of(datetime.fromisoformat(text))


def parse_effective_date(text: str) -> int:
    """Day number of an envelope's `effective_date` (YYYY-MM-DD)."""
    return day_number(date.fromisoformat(text))


def year_end(year: int) -> date:
    """31 December of `year`."""
    return date(year, 12, 31)
