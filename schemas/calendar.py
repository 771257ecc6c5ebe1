"""Years and dates in the contract."""

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BeforeValidator, Field, StrictInt

from schemas.identifiers import ascii_digits

# The programme's calendar is Swedish: "today" for a command without effective_date is today
# in Stockholm, not in UTC.
STOCKHOLM = ZoneInfo("Europe/Stockholm")

MIN_YEAR = 1990
MAX_YEAR = 2100

Year = Annotated[StrictInt, Field(ge=MIN_YEAR, le=MAX_YEAR)]
# Per-year amounts travel as JSON objects, whose keys are strings: "2019": öre.
# ASCII digits only: "٢٠٢٤" must not become a second key for 2024.
YearKey = Annotated[str, Field(pattern=r"^(19|20|21)\d{2}$"), AfterValidator(ascii_digits)]


ISO_DATE_CHARS = len("YYYY-MM-DD")


def _iso_date_only(value: object) -> object:
    # pydantic's lax date also takes Unix timestamps and datetimes; a business date is
    # exactly YYYY-MM-DD, nothing else.
    if isinstance(value, datetime):
        raise ValueError("a date is YYYY-MM-DD, not a timestamp")
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or len(value) != ISO_DATE_CHARS or value[4] != "-":
        raise ValueError(f"a date is YYYY-MM-DD, got {value!r}")
    if not value.isascii():  # fromisoformat reads other scripts' digits too
        raise ValueError(f"a date is YYYY-MM-DD in ASCII digits, got {value!r}")
    return date.fromisoformat(value)


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]


def today_in_stockholm(now: datetime | None = None) -> date:
    """Today's date in Europe/Stockholm."""
    return (now or datetime.now(tz=STOCKHOLM)).astimezone(STOCKHOLM).date()
