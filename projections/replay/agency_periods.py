"""Agency periods: the stretches of a programme's days that one agency administers.

Money is attributed to the agency in charge on its effective day. Between two timeline entries of
a programme (in day order) every day has the same agency under the full timeline and under any
prefix of it (a question that knows fewer handovers maps later periods to the last one it knows).
So sums per (period, year) attribute exactly like sums per day, at a fraction of the bins; a
period's sums are reported on its first day.

A programme whose entries are not in day order (only in a ledger the write side did not check),
or that has none, is attributed day by day: each of its days is a period.

For the read store the last period is split once more, at the programme's latest effective day
L: a handover can take effect no earlier than the acts already in the books (the write side's
rule, `Programme.hand_over`), so no later handover can split the days before L, and the read
store keeps them as one row; days from L on stay apart. `folded_before` says where that fold
ends, and the read store refuses a handover that would reach back into folded days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from projections.replay.key_spaces import Keys, YearSpan
from projections.replay.layout import EventColumns, TimelineColumns

I64 = npt.NDArray[np.int64]
NO_DAY = np.iinfo(np.int64).min


@dataclass(frozen=True)
class DaySpan:
    """The effective days a period table covers; other days clamp to its ends."""

    first: int
    count: int

    @classmethod
    def between(cls, first: int, last: int) -> DaySpan:
        """first .. last inclusive."""
        assert last >= first, (first, last)
        return cls(first, last - first + 1)


@dataclass(frozen=True)
class AgencyPeriods:
    """Every (programme, day) mapped to a period, and what each period is."""

    days: DaySpan
    lookup: Keys  # [programme * days.count + day - days.first] -> key part of the period
    programme: I64  # period -> programme code
    first_day: I64  # period -> the day its sums are reported on
    # Programme code -> first day kept apart in the read store (days before it are folded).
    folded_before: dict[int, int]

    @property
    def count(self) -> int:
        """Number of periods."""
        return len(self.programme)

    @property
    def programme_count(self) -> int:
        """Programme codes the table has rows for."""
        return len(self.lookup) // self.days.count

    def keys(
        self, programme: npt.NDArray[np.intp], day: npt.NDArray[np.int32], *, clamp: bool
    ) -> Keys:
        """Per event: the key part of its period. `programme` is overwritten (scratch)."""
        flat = programme
        flat *= self.days.count
        if clamp:
            flat += np.clip(day, self.days.first, self.days.first + self.days.count - 1)
        else:
            flat += day
        flat -= self.days.first
        keys: Keys = self.lookup[flat]
        return keys


def agency_periods(
    timeline: TimelineColumns,
    programme_count: int,
    days: DaySpan,
    years: YearSpan,
    latest_days: I64 | None = None,
) -> AgencyPeriods:
    """Periods of these timeline entries; split at each programme's latest day when given."""
    order = np.argsort(timeline.position, kind="stable")
    entry_programmes = timeline.programme[order]
    entry_days = timeline.effective_day[order].astype(np.int64)
    all_days = np.arange(days.first, days.first + days.count, dtype=np.int64)
    local = np.empty((programme_count, days.count), dtype=np.int64)
    programmes: list[I64] = []
    first_days: list[I64] = []
    folded_before: dict[int, int] = {}
    for code in range(programme_count):
        mine = entry_days[entry_programmes == code]
        if len(mine) == 0 or bool(np.any(mine[1:] < mine[:-1])):
            starts = all_days  # day by day
            reported = all_days
        else:
            cuts = list(mine[1:])
            if latest_days is not None and latest_days[code] > mine[-1]:
                cuts.append(latest_days[code])
                folded_before[code] = int(latest_days[code])
            elif latest_days is not None:
                folded_before[code] = int(mine[-1])
            # A Python set of these few days: numpy's unique imports numpy.ma on first use (40 ms
            # of a fresh process's rebuild, measured).
            starts = np.array(sorted({days.first, *map(int, cuts)}), dtype=np.int64)
            reported = starts.copy()
            reported[0] = mine[0]  # days before the first entry already have its agency
        offset = sum(len(p) for p in programmes)
        local[code] = offset + np.searchsorted(starts, all_days, side="right") - 1
        programmes.append(np.full(len(starts), code, dtype=np.int64))
        first_days.append(reported)
    count = sum(len(p) for p in programmes)
    lookup = years.unit_keys(count)[local.ravel()]
    return AgencyPeriods(
        days,
        lookup,
        np.concatenate(programmes) if programmes else np.empty(0, dtype=np.int64),
        np.concatenate(first_days) if first_days else np.empty(0, dtype=np.int64),
        folded_before,
    )


def latest_days(
    events: EventColumns,
    programme_count: int,
    chunk_events: int,
    chunk_last_day: I64,
    days: DaySpan,
) -> I64:
    """Per programme the latest effective day of its events (NO_DAY: none).

    Chunks are read in decreasing order of their latest day, and only until no unread chunk can
    hold a later day of any programme: usually the last one or two.
    """
    latest = np.full(programme_count, NO_DAY, dtype=np.int64)
    seen = np.zeros(programme_count * days.count, dtype=np.bool_)
    for chunk in np.argsort(-chunk_last_day, kind="stable").tolist():
        if programme_count == 0 or int(chunk_last_day[chunk]) <= int(latest.min()):
            break
        window = slice(chunk * chunk_events, (chunk + 1) * chunk_events)
        flat = events.programme[window].astype(np.intp) * days.count
        flat += events.effective_day[window]
        flat -= days.first
        seen[flat] = True
        by_programme = seen.reshape(programme_count, days.count)
        any_day = by_programme.any(axis=1)
        last_offset = days.count - 1 - np.argmax(by_programme[:, ::-1], axis=1)
        latest = np.where(any_day, last_offset + days.first, NO_DAY)
    return latest
