"""Years and dates in the contract."""

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field, StrictInt

# The programme's calendar is Swedish: "today" for a command without effective_date is today
# in Stockholm, not in UTC.
STOCKHOLM = ZoneInfo("Europe/Stockholm")

MIN_YEAR = 1990
MAX_YEAR = 2100

Year = Annotated[StrictInt, Field(ge=MIN_YEAR, le=MAX_YEAR)]
# Per-year amounts travel as JSON objects, whose keys are strings: "2019": öre.
YearKey = Annotated[str, Field(pattern=r"^(19|20|21)\d{2}$")]


def today_in_stockholm(now: datetime | None = None) -> date:
    """Today's date in Europe/Stockholm."""
    return (now or datetime.now(tz=STOCKHOLM)).astimezone(STOCKHOLM).date()
