"""Sums of the counted events by scanning the columns chunk by chunk, without an as-of index.

The way for stores out of position order, for columns from any other source (an export file,
a test), and for questions the as-of index cannot answer.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from projections.domain.asof import AsOf
from projections.replay import posting_sums
from projections.replay.agency_periods import DaySpan, agency_periods
from projections.replay.columns import CodeNames, ReplayColumns
from projections.replay.counting import EventWindow, counted
from projections.replay.key_spaces import PairIndex, YearSpan
from projections.replay.layout import EventColumns, TimelineColumns
from projections.replay.range_sums import (
    EVERY_SUM,
    Accumulators,
    KeyTables,
    QuestionSums,
    Wanted,
    add_postings,
)

# Events per chunk of a pass: the temporaries of one chunk (about 40 bytes per event) stay in
# the CPU caches' reach, and the as-of index keeps a boundary every chunk, so an as-of question
# scans at most this many events. Measured on a decade's 10 M events against 1 << 18: the
# question's scan halves (a position question 1.5-4 ms faster) for ~10 ms more rebuild; 1 << 16
# cost the rebuild ~40 ms more.
CHUNK_EVENTS = 1 << 17


def chunk_windows(events: EventColumns, chunk_events: int = CHUNK_EVENTS) -> list[EventWindow]:
    """The store in consecutive windows of `chunk_events` events."""
    starts = range(0, len(events), chunk_events)
    if len(starts) == 0:
        return []
    # A sum per window: np.add.reduceat's generic loop over the uint8 counts took 4x longer.
    counts = events.posting_count
    postings = [int(counts[start : start + chunk_events].sum(dtype=np.int64)) for start in starts]
    posting_starts = np.concatenate([[0], np.cumsum(postings, dtype=np.int64)]).tolist()
    return [
        EventWindow(
            start,
            min(start + chunk_events, len(events)),
            posting_starts[chunk],
            posting_starts[chunk + 1],
        )
        for chunk, start in enumerate(starts)
    ]


def pair_flags(names: CodeNames) -> npt.NDArray[np.bool_]:
    """A flag per (programme, recipient) code pair, none set yet (see `mark_pairs`)."""
    return np.zeros(max(len(names.programmes), 1) * _recipient_codes(names), dtype=np.bool_)


def mark_pairs(
    seen: npt.NDArray[np.bool_], events: EventColumns, window: EventWindow, names: CodeNames
) -> None:
    """Flag the (programme, recipient) pairs of the window's events (in C: a recipient code
    outside the table's width is an AssertionError, where numpy would flag another pair)."""
    posting_sums.mark_pairs(
        events.programme,
        events.recipient,
        window.start,
        window.stop,
        _recipient_codes(names),
        seen,
    )


def _recipient_codes(names: CodeNames) -> int:
    return max(len(names.recipients), 1)


def scanned_sums(
    columns: ReplayColumns,
    names: CodeNames,
    as_of: AsOf,
    programme: int | None,
    *,
    timeline: TimelineColumns,
    position_sorted: bool,
    wanted: Wanted = EVERY_SUM,
) -> QuestionSums:
    """Every chunk scanned; agency periods from the timeline entries the question knows."""
    events = columns.events
    windows = chunk_windows(events)
    years = YearSpan.of(columns.postings.year)
    seen = pair_flags(names)
    for window in windows:
        mark_pairs(seen, events, window, names)
    pairs = PairIndex.of_flags(seen, _recipient_codes(names), names, years)
    days = (
        DaySpan.between(int(events.effective_day.min()), int(events.effective_day.max()))
        if len(events)
        else DaySpan(0, 1)
    )
    keys = KeyTables(pairs, agency_periods(timeline, len(names.programmes), days, years), years)
    into = Accumulators.for_keys(keys, wanted)
    for window in windows:
        question = counted(events, window, as_of, programme, position_sorted=position_sorted)
        add_postings(events, columns.postings, question, keys, into)
    return into.take(keys)
