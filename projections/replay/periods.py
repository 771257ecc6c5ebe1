"""Agency periods: the stretches of days between a programme's timeline entries.

Money is attributed to the agency in charge on its effective day; every day of one period has
the same agency under the full timeline, and under any prefix of it (a question that knows
fewer handovers maps later periods to the last one it knows). So sums per (programme, period)
attribute exactly like sums per day, at a fraction of the bins; a period's sums are reported
on its first day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from projections.replay.columns import Table
from projections.replay.keyspace import KeySpace

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Periods:
    """Per programme: each period's first day, and a day -> period table over the timeline."""

    first_day: int
    lookup: npt.NDArray[np.int16]  # [programme, day - first_day] -> period (days clamped)
    since: I64  # [programme, period] -> first day of the period (-1: no such period)
    space: KeySpace

    def of_events(
        self, programmes: npt.NDArray[Any], days: npt.NDArray[Any]
    ) -> npt.NDArray[np.int16]:
        """The period of each (programme, day); days outside the table clamp to its ends."""
        offsets = np.clip(days.astype(np.int64) - self.first_day, 0, self.lookup.shape[1] - 1)
        result: npt.NDArray[np.int16] = self.lookup[programmes.astype(np.int64), offsets]
        return result

    def representative_days(self, programmes: I64, periods: I64) -> I64:
        """The first day of each (programme, period)."""
        days: I64 = self.since[programmes, periods]
        return days

    def as_arrays(self) -> dict[str, npt.NDArray[Any]]:
        """For saving."""
        return {"period_lookup": self.lookup, "period_since": self.since}


def periods_of(
    timeline: Table, programme_count: int, first_year: int, years: int, measures: int
) -> Periods | None:
    """Periods of the full timeline; None when a programme's entries are not in day order
    (then a question must attribute day by day) or a programme has no entry at all."""
    programmes = np.asarray(timeline["programme"], dtype=np.int64)
    if programme_count == 0 or len(np.unique(programmes)) < programme_count:
        return None
    order = np.argsort(np.asarray(timeline["position"]), kind="stable")
    days = np.asarray(timeline["effective_day"], dtype=np.int64)
    first_day, last_day = int(days.min()), int(days.max())
    span = last_day - first_day + 1
    most = int(np.bincount(programmes, minlength=programme_count).max())
    lookup = np.zeros((programme_count, span), dtype=np.int16)
    since = np.full((programme_count, most), -1, dtype=np.int64)
    for code in range(programme_count):
        mine = order[programmes[order] == code]
        entry_days = days[mine]
        if bool(np.any(entry_days[1:] < entry_days[:-1])):
            return None
        since[code, : len(mine)] = entry_days
        for period, day in enumerate(entry_days[1:], start=1):
            lookup[code, day - first_day :] = period
    space = KeySpace(programme_count, most, measures, first_year, years)
    return Periods(first_day, lookup, since, space)


def fold_closed_periods(
    programme_day: Table, timeline: Table, sum_columns: tuple[str, ...]
) -> Table:
    """Day rows before each programme's latest handover, folded into one row per agency period
    (dated the period's first day); days of the current period stay as they are.

    The read store needs days only where a future handover could still split a period: the
    write side lets a handover take effect no earlier than the one before it, so only the
    current (last) period can ever be split. Attribution by date is unchanged by the folding.
    """
    programmes = np.asarray(programme_day["programme"], dtype=np.int64)
    days = np.asarray(programme_day["effective_day"], dtype=np.int64).copy()
    order = np.argsort(np.asarray(timeline["position"]), kind="stable")
    for code in np.unique(np.asarray(timeline["programme"])):
        mine = order[np.asarray(timeline["programme"])[order] == code]
        since = np.asarray(timeline["effective_day"], dtype=np.int64)[mine]
        if len(since) < 2 or bool(np.any(since[1:] < since[:-1])):
            continue  # one period, or entries out of day order: keep every day
        rows = (programmes == code) & (days < since[-1])
        period = np.searchsorted(since[1:], days[rows], side="right")
        days[rows] = since[period]
    years = np.asarray(programme_day["year"], dtype=np.int64)
    if len(days) == 0:
        return dict(programme_day)
    # One int64 key per (programme, year, day): a 1-D unique is far cheaper than rows.
    first_year, first_day = int(years.min()), int(days.min())
    year_span, day_span = int(years.max()) - first_year + 1, int(days.max()) - first_day + 1
    keys = (programmes * year_span + (years - first_year)) * day_span + (days - first_day)
    unique, inverse = np.unique(keys, return_inverse=True)
    rest, day_offsets = np.divmod(unique, day_span)
    programme_codes, year_offsets = np.divmod(rest, year_span)
    folded: Table = {
        "programme": programme_codes,
        "year": year_offsets + first_year,
        "effective_day": day_offsets + first_day,
    }
    for name in sum_columns:
        total = np.zeros(len(unique), dtype=np.int64)
        np.add.at(total, inverse.reshape(-1), np.asarray(programme_day[name], dtype=np.int64))
        folded[name] = total
    return folded
