"""The three balance views together, canonically sorted, with the CLI's filters."""

from dataclasses import dataclass, field

from projections.domain.rows import (
    AgencyYearRow,
    BalanceRow,
    ProgrammeYearRow,
    RecipientYearRow,
    View,
)


@dataclass(frozen=True, slots=True)
class Balances:
    """Recipient-year, programme-year and agency-year rows, each sorted by its key."""

    recipient_years: tuple[RecipientYearRow, ...] = ()
    programme_years: tuple[ProgrammeYearRow, ...] = ()
    agency_years: tuple[AgencyYearRow, ...] = field(default=())

    @classmethod
    def of(
        cls,
        recipient_years: list[RecipientYearRow],
        programme_years: list[ProgrammeYearRow],
        agency_years: list[AgencyYearRow],
    ) -> "Balances":
        """Sort each view by its key (rows are dataclasses ordered by their fields)."""
        return cls(
            tuple(sorted(recipient_years)),
            tuple(sorted(programme_years)),
            tuple(sorted(agency_years)),
        )

    def view(self, view: View) -> tuple[BalanceRow, ...]:
        """The rows of one view."""
        if view is View.RECIPIENT_YEAR:
            return self.recipient_years
        if view is View.PROGRAMME_YEAR:
            return self.programme_years
        assert view is View.AGENCY_YEAR, f"{view} is derived, not held"
        return self.agency_years
