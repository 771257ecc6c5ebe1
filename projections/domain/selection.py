"""Which rows a balances question asks for (`--programme`, `--recipient`, `--year`)."""

from dataclasses import dataclass

from projections.domain.rows import View
from schemas.errors import InvalidQuery, QueryParameter


@dataclass(frozen=True, slots=True)
class Selection:
    """Restrict the balances to a programme, a recipient and/or a grant-year.

    The programme restricts every view (the agency-year view then splits only that programme's
    money); the recipient exists only in the recipient-year view.
    """

    programme_id: str | None = None
    recipient: str | None = None
    year: int | None = None

    def check_for(self, view: View) -> None:
        """Refuse a filter the view has no column for."""
        if self.recipient is not None and view is not View.RECIPIENT_YEAR:
            raise InvalidQuery(
                QueryParameter.RECIPIENT,
                self.recipient,
                f"the {view.value} view has no recipient; ask for the "
                f"{View.RECIPIENT_YEAR.value} view",
            )


EVERYTHING = Selection()
