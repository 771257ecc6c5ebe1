"""Which rows a balances question asks for: several programmes, recipients, counties, agencies
and years (single years or ranges such as 2019..2021), for the CLI and HTTP alike."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields

from projections.domain.rows import BalanceRow, View
from projections.domain.selection import Selection
from schemas.calendar import MAX_YEAR, MIN_YEAR
from schemas.errors import InvalidQuery, QueryParameter
from schemas.recipients import counties

YEAR_RANGE_SEPARATOR = ".."
MAX_FILTER_VALUES = 1_000  # per filter: far above 290 municipalities, far below a flood

# Which views have a column for each filter (the programme filter applies to every view).
FILTER_VIEWS: dict[str, tuple[View, ...]] = {
    QueryParameter.RECIPIENT: (View.RECIPIENT_YEAR,),
    QueryParameter.COUNTY: (View.COUNTY_YEAR,),
    QueryParameter.AGENCY: (View.PROGRAMME_YEAR, View.AGENCY_YEAR),
}


@dataclass(frozen=True, slots=True)
class Filters:
    """Each filter keeps the rows matching any of its values; an empty filter keeps all."""

    programmes: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    counties: tuple[str, ...] = ()
    agencies: tuple[str, ...] = ()
    years: tuple[tuple[int, int], ...] = ()  # inclusive ranges

    def check_for(self, view: View) -> None:
        """Refuse a filter the view has no column for."""
        for name, values in (
            (QueryParameter.RECIPIENT, self.recipients),
            (QueryParameter.COUNTY, self.counties),
            (QueryParameter.AGENCY, self.agencies),
        ):
            if values and view not in FILTER_VIEWS[name]:
                views = " or ".join(v.value for v in FILTER_VIEWS[name])
                raise InvalidQuery(
                    name, values[0], f"the {view.value} view has no {name}; use {views}"
                )

    @property
    def keeps_all(self) -> bool:
        """True when no filter is set (every row is kept: no row need be asked)."""
        return not any(getattr(self, field.name) for field in fields(self))

    def has_year(self, year: int) -> bool:
        """True when the year filter keeps `year`."""
        return not self.years or any(first <= year <= last for first, last in self.years)

    @property
    def single_year(self) -> int | None:
        """The one year asked for, when exactly one is."""
        if len(self.years) == 1 and self.years[0][0] == self.years[0][1]:
            return self.years[0][0]
        return None

    def narrowest_selection(self, view: View) -> Selection:
        """The single-valued selection the stores can apply themselves (the rest is `keeps`)."""
        return Selection(
            programme_id=self.programmes[0] if len(self.programmes) == 1 else None,
            recipient=(
                self.recipients[0]
                if len(self.recipients) == 1 and view is View.RECIPIENT_YEAR
                else None
            ),
            year=self.single_year,
        )

    def keeps(self, row: BalanceRow) -> bool:
        """True when the row matches every filter that applies to its view."""
        checks = (
            ("programme_id", self.programmes),
            ("recipient", self.recipients),
            ("county", self.counties),
            ("agency", self.agencies),
        )
        for attribute, values in checks:
            if values and hasattr(row, attribute) and getattr(row, attribute) not in values:
                return False
        return self.has_year(row.year)


def parse_view(raw: str) -> View:
    """The view asked for (`recipient-year`, `programme-year`, `agency-year`, `county-year`)."""
    try:
        return View(raw)
    except ValueError:
        raise InvalidQuery(
            QueryParameter.VIEW, raw, f"expected one of {', '.join(v.value for v in View)}"
        ) from None


def distinct(values: Iterable[str], field: str) -> tuple[str, ...]:
    """The values in first-seen order, once each; refused past MAX_FILTER_VALUES."""
    kept = tuple(dict.fromkeys(value for value in values))
    if len(kept) > MAX_FILTER_VALUES:
        raise InvalidQuery(field, len(kept), f"at most {MAX_FILTER_VALUES} values")
    return kept


def parse_years(values: Iterable[str]) -> tuple[tuple[int, int], ...]:
    """`2019` or `2019..2021`, any number of them (inclusive ranges)."""
    ranges = []
    for raw in distinct(values, QueryParameter.YEAR):
        first_text, separator, last_text = raw.partition(YEAR_RANGE_SEPARATOR)
        first = _year(first_text, raw)
        last = _year(last_text, raw) if separator else first
        if last < first:
            raise InvalidQuery(
                QueryParameter.YEAR, raw, "a range runs from the earlier year to the later"
            )
        ranges.append((first, last))
    return tuple(ranges)


def _year(text: str, raw: str) -> int:
    # isdigit() alone also takes '³' and other digits int() refuses: ASCII digits only.
    if not (text.isascii() and text.isdigit()) or not MIN_YEAR <= int(text) <= MAX_YEAR:
        raise InvalidQuery(
            QueryParameter.YEAR,
            raw,
            f"expected a year between {MIN_YEAR} and {MAX_YEAR}, or a range Y1..Y2",
        )
    return int(text)


def parse_counties(values: Iterable[str]) -> tuple[str, ...]:
    """Two-digit länskoder from the reference data."""
    codes = distinct(values, QueryParameter.COUNTY)
    for code in codes:
        if code not in counties():
            raise InvalidQuery(
                QueryParameter.COUNTY, code, "not one of the 21 länskoder (01, 03, ... 25)"
            )
    return codes
