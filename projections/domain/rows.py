"""The rows of the balance views, with the field names of the read store and JSON/CSV.

Rows are named tuples: cheap to make by the ten thousand, ordered by their key fields.
"""

from enum import StrEnum
from typing import Any, NamedTuple


class View(StrEnum):
    """The balance views (`--by`)."""

    RECIPIENT_YEAR = "recipient-year"
    PROGRAMME_YEAR = "programme-year"
    AGENCY_YEAR = "agency-year"
    # Derived: recipient-year rows of municipalities and regions rolled up to their län.
    COUNTY_YEAR = "county-year"


class RecipientYearRow(NamedTuple):
    """Money of one recipient in one grant-year of one programme."""

    programme_id: str
    recipient: str
    year: int
    requested_ore: int
    awarded_ore: int
    disbursed_ore: int
    recovered_ore: int

    @property
    def outstanding_ore(self) -> int:
        """Awarded but not yet paid out."""
        return self.awarded_ore - self.disbursed_ore


class ProgrammeYearRow(NamedTuple):
    """Money of one programme-year; `agency` administers it at year end (or now/as-of date)."""

    programme_id: str
    year: int
    agency: str
    appropriated_ore: int
    awarded_ore: int
    disbursed_ore: int
    recovered_ore: int

    @property
    def available_ore(self) -> int:
        """Appropriated minus awarded; negative means over-committed."""
        return self.appropriated_ore - self.awarded_ore


class AgencyYearRow(NamedTuple):
    """Money one agency moved in a grant-year, by the agency in charge on each effective date."""

    agency: str
    year: int
    awarded_ore: int
    disbursed_ore: int
    recovered_ore: int


class CountyYearRow(NamedTuple):
    """Money of the municipalities (and the region) of one län in one grant-year of a programme."""

    programme_id: str
    county: str
    year: int
    requested_ore: int
    awarded_ore: int
    disbursed_ore: int
    recovered_ore: int

    @property
    def outstanding_ore(self) -> int:
        """Awarded but not yet paid out."""
        return self.awarded_ore - self.disbursed_ore


BalanceRow = RecipientYearRow | ProgrammeYearRow | AgencyYearRow | CountyYearRow
# The views the read store and the replay store hold; the others are derived from them.
STORED_VIEWS = (View.RECIPIENT_YEAR, View.PROGRAMME_YEAR, View.AGENCY_YEAR)
ROW_TYPES: dict[View, type[BalanceRow]] = {
    View.RECIPIENT_YEAR: RecipientYearRow,
    View.PROGRAMME_YEAR: ProgrammeYearRow,
    View.AGENCY_YEAR: AgencyYearRow,
    View.COUNTY_YEAR: CountyYearRow,
}

# Output field order per view: the stored/summed fields, then the derived one.
FIELDS: dict[View, tuple[str, ...]] = {
    View.RECIPIENT_YEAR: (
        "programme_id",
        "recipient",
        "year",
        "requested_ore",
        "awarded_ore",
        "disbursed_ore",
        "recovered_ore",
        "outstanding_ore",
    ),
    View.PROGRAMME_YEAR: (
        "programme_id",
        "year",
        "agency",
        "appropriated_ore",
        "awarded_ore",
        "disbursed_ore",
        "recovered_ore",
        "available_ore",
    ),
    View.AGENCY_YEAR: ("agency", "year", "awarded_ore", "disbursed_ore", "recovered_ore"),
    View.COUNTY_YEAR: (
        "programme_id",
        "county",
        "year",
        "requested_ore",
        "awarded_ore",
        "disbursed_ore",
        "recovered_ore",
        "outstanding_ore",
    ),
}
MONEY_SUFFIX = "_ore"
assert set(FIELDS) == set(View) == set(ROW_TYPES), "every view has its fields and row type"


def as_record(row: BalanceRow) -> dict[str, Any]:
    """The row as an ordered dict of its output fields (derived fields included)."""
    view = view_of(row)
    return {name: getattr(row, name) for name in FIELDS[view]}


def view_of(row: BalanceRow) -> View:
    """The view a row belongs to."""
    for view, row_type in ROW_TYPES.items():
        if isinstance(row, row_type):
            return view
    raise AssertionError(f"not a balance row: {row!r}")
