"""A balances question from text parameters (the CLI's flags, the API's query): view, year, as-of.

Each refusal names the API's parameter (schemas.errors.QueryParameter); a door shows it in its
own words (the CLI maps parameters to flags).
"""

from datetime import UTC, date, datetime

from projections.domain.asof import AsOf
from projections.domain.rows import View
from schemas.calendar import MAX_YEAR, MIN_YEAR
from schemas.errors import InvalidQuery, QueryParameter


def parse_view(raw: str) -> View:
    """The view asked for (`recipient-year`, `programme-year`, `agency-year`)."""
    try:
        return View(raw)
    except ValueError:
        raise InvalidQuery(
            QueryParameter.VIEW, raw, f"expected one of {', '.join(v.value for v in View)}"
        ) from None


def parse_year(raw: str | None) -> int | None:
    """A grant-year, or None when not given."""
    if raw is None:
        return None
    if not raw.isdigit() or not MIN_YEAR <= int(raw) <= MAX_YEAR:
        raise InvalidQuery(
            QueryParameter.YEAR, raw, f"expected a year between {MIN_YEAR} and {MAX_YEAR}"
        )
    return int(raw)


def parse_as_of(as_of_date: str | None, as_known_at: str | None, at_position: str | None) -> AsOf:
    """The as-of filters: an effective date, a recording instant (UTC if no zone), a position."""
    day = None
    if as_of_date is not None:
        try:
            day = date.fromisoformat(as_of_date)
        except ValueError:
            raise InvalidQuery(
                QueryParameter.AS_OF_DATE, as_of_date, "expected a date YYYY-MM-DD"
            ) from None
    known_at = None
    if as_known_at is not None:
        try:
            known_at = datetime.fromisoformat(as_known_at)
        except ValueError:
            raise InvalidQuery(
                QueryParameter.AS_KNOWN_AT,
                as_known_at,
                "expected an ISO 8601 timestamp, e.g. 2021-05-17T12:00:00Z",
            ) from None
        if known_at.tzinfo is None:
            known_at = known_at.replace(tzinfo=UTC)
    position = None
    if at_position is not None:
        if not at_position.isdigit():
            raise InvalidQuery(
                QueryParameter.AT_POSITION, at_position, "expected a whole number >= 0"
            )
        position = int(at_position)
    return AsOf(as_of_date=day, as_known_at=known_at, at_position=position)
