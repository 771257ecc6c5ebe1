"""Who administers a programme on a given day: the agency timeline, as the write side keeps it."""

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class TimelineEntry:
    """From `effective_day` on, `agency` administers `programme_id` (recorded at `position`)."""

    programme_id: str
    position: int
    effective_day: int
    agency: str


UNKNOWN_AGENCY = ""


def agency_on(entries: Iterable[TimelineEntry], day: int) -> str:
    """The agency in charge on `day`: the last entry, in position order, effective by then.

    Before the first entry takes effect, the programme's first agency counts (as on the write
    side's Programme.agency_on). Without any entry the agency is unknown ("").
    """
    ordered = sorted(entries, key=lambda entry: entry.position)
    if not ordered:
        return UNKNOWN_AGENCY
    agency = ordered[0].agency
    for entry in ordered:
        if entry.effective_day <= day:
            agency = entry.agency
    return agency
