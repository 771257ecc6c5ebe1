"""The as-of index: zone maps and cumulative sums per chunk of the position-ordered store.

An as-of question (by position, effective date and/or recording time) counts a set of events.
Chunks of CHUNK_EVENTS events whose zone (position, effective day and recorded_at ranges) lies
wholly inside the question come from the cumulative sums at a chunk boundary; only the chunks
the cut-off straddles, and events appended after the index was built, are scanned. Agency
attribution uses sums per agency period, which hold for any question whose known timeline is a
prefix of the indexed one.

Built by `rebuild` in its one pass over the store (the same pass yields the read store's totals),
kept beside the columns, valid for the store generation it was built for.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from projections.domain.asof import AsOf
from projections.replay import accumulators, posting_sums
from projections.replay.accumulators import BinSums, DenseSums, flag_words
from projections.replay.agency_periods import DaySpan, agency_periods, latest_days
from projections.replay.columns import CodeNames, ReplayColumns
from projections.replay.counting import Counted, EventWindow, counted
from projections.replay.key_spaces import PairIndex, YearSpan
from projections.replay.layout import EventColumns, TimelineColumns
from projections.replay.range_sums import (
    EVERY_SUM,
    Accumulators,
    ColumnWords,
    KeyTables,
    QuestionSums,
    Wanted,
    add_postings,
)
from projections.replay.scan import CHUNK_EVENTS, chunk_windows, mark_pairs, pair_flags
from projections.replay.totals import known_entries

I64 = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]

# Grant-years later appends may bring (applications look ahead) while the index still answers.
LATER_YEARS_HEADROOM = 2
# Threads summing the pass's chunks (the C loops release the GIL).
PASS_THREADS = 2
# A running total of the sums is kept at every this many chunk boundaries (every 2 M events); a
# question adds at most this many chunks' own sums to one.
SNAPSHOT_CHUNKS = 16


@dataclass(frozen=True)
class ChunkZones:
    """Per chunk: the range of each as-of dimension, and where its postings start."""

    position_min: I64
    position_max: I64
    day_min: I64
    day_max: I64
    recorded_min: I64
    recorded_max: I64
    posting_start: I64  # one more than chunks: the last is the end of the postings

    @property
    def count(self) -> int:
        """Number of chunks."""
        return len(self.position_min)

    def _limits(self, as_of: AsOf) -> list[tuple[int, I64, I64]]:
        bounds = (
            (as_of.at_position, self.position_min, self.position_max),
            (as_of.as_of_day, self.day_min, self.day_max),
            (as_of.known_at_us, self.recorded_min, self.recorded_max),
        )
        return [(limit, low, high) for limit, low, high in bounds if limit is not None]

    def leading_and_stop(self, as_of: AsOf) -> tuple[int, int]:
        """(chunks wholly counted from the start, the end of the chunks that count at all)."""
        whole = np.ones(self.count, dtype=np.bool_)
        some = np.ones(self.count, dtype=np.bool_)
        for limit, low, high in self._limits(as_of):
            whole &= high <= limit
            some &= low <= limit
        leading = self.count if bool(whole.all()) else int(np.argmin(whole))
        touched = np.flatnonzero(some)
        stop = max(int(touched[-1]) + 1, leading) if len(touched) else leading
        return leading, stop


@dataclass(frozen=True)
class CumulativeSums:
    """Sums of every chunk before each boundary, for every bin some chunk reached.

    Kept as a running total every `snapshot_chunks` boundaries (the spacing it was built with,
    SNAPSHOT_CHUNKS, kept with it) plus each chunk's own sums: a bin's
    money moves during a few chunks only, so this is a fraction of a total at every boundary.
    """

    bins: I64  # sorted
    first_chunk: npt.NDArray[np.int32]  # the chunk that first reached each bin
    snapshots: I64  # [boundary // snapshot_chunks, bin]: running totals
    chunk_offsets: I64  # chunk k's sums are entries chunk_offsets[k] .. chunk_offsets[k + 1]
    chunk_columns: npt.NDArray[np.int32]  # which bin (its column in `bins`)
    chunk_sums: I64
    # A bin's column without a search: bit b of word w is set when bin 64w + b is one of `bins`;
    # its column is the set bits before it (word_columns[w] + the set bits below b in word w).
    # A question's straddled chunks are summed straight into the index's columns with it.
    words: npt.NDArray[np.uint64]
    word_columns: I64
    snapshot_chunks: int

    def before(self, boundary: int, plus: DenseSums | None = None) -> BinSums:
        """Sums of the chunks before `boundary`, for the bins they reached; with `plus` (a
        question's own sums, e.g. of the events it counts in a straddled chunk, summed in this
        index's columns: `column_words`) added. One C pass over the index's bins
        (posting_sums.sums_before)."""
        assert 0 <= boundary < len(self.chunk_offsets), f"boundary {boundary} outside the chunks"
        assert plus is None or plus.size == len(self.bins), "plus sums are per index column"
        snapshot = boundary // self.snapshot_chunks
        out_bins = np.empty(len(self.bins), dtype=np.int64)
        out_sums = np.empty(len(self.bins), dtype=np.int64)
        count = posting_sums.sums_before(
            self.bins,
            self.first_chunk,
            self.snapshots[snapshot],
            self.chunk_columns,
            self.chunk_sums,
            int(self.chunk_offsets[snapshot * self.snapshot_chunks]),
            int(self.chunk_offsets[boundary]),
            boundary,
            NO_SUMS if plus is None else plus.sums,
            NO_FLAGS if plus is None else plus.touched,
            out_bins,
            out_sums,
        )
        return BinSums(out_bins[:count], out_sums[:count])

    @property
    def column_words(self) -> ColumnWords:
        """How a bin of the key space finds its column in this index."""
        return ColumnWords(self.words, self.word_columns)


NO_SUMS = np.empty(0, dtype=np.int64)
NO_FLAGS = np.empty(0, dtype=np.uint64)


@dataclass(frozen=True)
class AsOfIndex:
    """Zone maps and cumulative sums of one store generation."""

    generation: int
    events: int
    chunk_events: int
    keys: KeyTables
    zones: ChunkZones
    grants: CumulativeSums
    periods: CumulativeSums
    timeline_positions: I64  # sorted: a new entry since makes the index decline

    def totals(self) -> QuestionSums:
        """The sums of every indexed event."""
        return QuestionSums(
            self.keys, self.grants.before(self.zones.count), self.periods.before(self.zones.count)
        )


@dataclass(frozen=True)
class Prepared:
    """What the pass needs before it sums: the chunks, their zones and the key tables."""

    windows: list[EventWindow]
    zones: ChunkZones
    keys: KeyTables


def prepare(
    columns: ReplayColumns, names: CodeNames, *, chunk_events: int = CHUNK_EVENTS
) -> Prepared | None:
    """Chunks, zones and key tables of a position-ordered store (None: empty)."""
    events = columns.events
    if len(events) == 0:
        return None
    windows = chunk_windows(events, chunk_events)
    seen = pair_flags(names)
    zones = _zones_marking_pairs(events, windows, names, seen)
    years = YearSpan.of(columns.postings.year, later_years=LATER_YEARS_HEADROOM)
    pairs = PairIndex.of_flags(seen, max(len(names.recipients), 1), names, years)
    days = DaySpan.between(int(zones.day_min.min()), int(zones.day_max.max()))
    programme_count = len(names.programmes)
    latest = latest_days(events, programme_count, chunk_events, zones.day_max, days)
    periods = agency_periods(columns.timeline, programme_count, days, years, latest)
    return Prepared(windows, zones, KeyTables(pairs, periods, years))


def build(
    columns: ReplayColumns, names: CodeNames, generation: int, *, chunk_events: int = CHUNK_EVENTS
) -> AsOfIndex | None:
    """One pass over a position-ordered store: per chunk its zone and its sums (None: empty)."""
    prepared = prepare(columns, names, chunk_events=chunk_events)
    if prepared is None:
        return None
    keys = prepared.keys
    grant_parts, period_parts = _chunk_sums(columns, prepared)
    return AsOfIndex(
        generation,
        len(columns.events),
        chunk_events,
        keys,
        prepared.zones,
        _cumulative(grant_parts, keys.grant_space.size),
        _cumulative(period_parts, keys.period_space.size),
        np.sort(columns.timeline.position.astype(np.int64)),
    )


def _chunk_sums(columns: ReplayColumns, prepared: Prepared) -> tuple[list[BinSums], list[BinSums]]:
    """Each chunk's grant and period sums. PASS_THREADS threads take every PASS_THREADS-th chunk
    each, with accumulators of their own: the scatter and the take run in C without the GIL, so
    the pass uses the second core once the digests beside it are done. A chunk's sums do not
    depend on which thread summed it. A chunk that fails stops the pass with its error: the
    earliest such chunk's, as one thread would name it (the first bad event in the store), not
    whichever thread's was looked at first."""
    windows, keys = prepared.windows, prepared.keys
    grant_parts: list[BinSums | None] = [None] * len(windows)
    period_parts: list[BinSums | None] = [None] * len(windows)
    threads = max(1, min(PASS_THREADS, len(windows)))
    failures: dict[int, Exception] = {}
    failures_lock = threading.Lock()

    def earliest_failure() -> int:
        with failures_lock:
            return min(failures, default=len(windows))

    def sum_chunks(first: int) -> None:
        into = Accumulators.for_keys(keys)
        # Past a chunk that failed nothing is needed; the chunks before it still are (one of
        # them may fail first).
        for chunk in range(first, len(windows), threads):
            if chunk > earliest_failure():
                return
            try:
                add_postings(
                    columns.events, columns.postings, Counted(windows[chunk], None), keys, into
                )
                taken = into.take(keys)
            except Exception as error:
                with failures_lock:
                    failures[chunk] = error
                return
            grant_parts[chunk], period_parts[chunk] = taken.grants, taken.periods

    if threads == 1:
        sum_chunks(0)
    else:
        with ThreadPoolExecutor(threads, thread_name_prefix="pass") as pool:
            for done in [pool.submit(sum_chunks, first) for first in range(threads)]:
                done.result()
    if failures:
        raise failures[min(failures)]
    grants = [part for part in grant_parts if part is not None]
    periods = [part for part in period_parts if part is not None]
    assert len(grants) == len(periods) == len(windows), "every chunk summed"
    return grants, periods


def _zones_marking_pairs(
    events: EventColumns,
    windows: list[EventWindow],
    names: CodeNames,
    seen: npt.NDArray[np.bool_],
) -> ChunkZones:
    """Per chunk the range of each as-of dimension (positions ascend: first and last); in the
    same read of the chunk, its (programme, recipient) pairs flagged in `seen`."""
    columns: tuple[npt.NDArray[Any], ...] = (events.effective_day, events.recorded_at_us)
    lows: list[list[int]] = [[], []]
    highs: list[list[int]] = [[], []]
    for window in windows:
        mark_pairs(seen, events, window, names)
        for column, low, high in zip(columns, lows, highs, strict=True):
            values = column[window.events]
            low.append(int(values.min()))
            high.append(int(values.max()))

    def array(values: list[int]) -> I64:
        return np.array(values, dtype=np.int64)

    return ChunkZones(
        position_min=events.position[[window.start for window in windows]].astype(np.int64),
        position_max=events.position[[window.stop - 1 for window in windows]].astype(np.int64),
        day_min=array(lows[0]),
        day_max=array(highs[0]),
        recorded_min=array(lows[1]),
        recorded_max=array(highs[1]),
        posting_start=array([0, *(window.posting_stop for window in windows)]),
    )


def _cumulative(parts: list[BinSums], size: int) -> CumulativeSums:
    """The chunks' sums over the bins any chunk reached, with running totals now and then: the
    bitmap of the reached bins is made first, and gives each entry its column (one C pass,
    posting_sums.index_columns)."""
    entry_bins = np.concatenate([part.bins for part in parts]) if parts else NO_SUMS
    entry_sums = np.concatenate([part.sums for part in parts]) if parts else NO_SUMS
    offsets = np.zeros(len(parts) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([len(part) for part in parts])
    words = np.zeros(flag_words(size), dtype=np.uint64)
    posting_sums.mark_bins(entry_bins, size, words)
    set_bits = np.bitwise_count(words).astype(np.int64)
    word_columns = np.zeros(len(words), dtype=np.int64)
    np.cumsum(set_bits[:-1], out=word_columns[1:])
    columns = int(set_bits.sum())
    bins = np.empty(columns, dtype=np.int64)
    first_chunk = np.empty(columns, dtype=np.int32)
    entry_columns = np.empty(len(entry_bins), dtype=np.int32)
    snapshots = np.empty((len(parts) // SNAPSHOT_CHUNKS + 1, columns), dtype=np.int64)
    posting_sums.index_columns(
        entry_bins,
        entry_sums,
        offsets,
        words,
        word_columns,
        SNAPSHOT_CHUNKS,
        bins,
        first_chunk,
        entry_columns,
        snapshots.reshape(-1),
    )
    return CumulativeSums(
        bins,
        first_chunk,
        snapshots,
        offsets,
        entry_columns,
        entry_sums,
        words,
        word_columns,
        SNAPSHOT_CHUNKS,
    )


# --------------------------------------------------------------------------- questions


def indexed_sums(
    columns: ReplayColumns,
    index: AsOfIndex,
    as_of: AsOf,
    programme: int | None,
    wanted: Wanted = EVERY_SUM,
) -> QuestionSums | None:
    """The counted sums via the index, or None when it cannot answer (then: scan everything)."""
    if not _still_valid(columns, index, as_of):
        return None
    events, keys = columns.events, index.keys
    appended = EventWindow.of(events, index.events, len(events), int(index.zones.posting_start[-1]))
    if appended.stop > appended.start:
        tail = events.rows(appended.events)
        keys = KeyTables(
            keys.pairs.with_pairs_of(tail.programme, tail.recipient, keys.years),
            keys.periods,
            keys.years,
            clamp_days=True,
        )
    leading, stop = index.zones.leading_and_stop(as_of)
    straddled = EventWindow.of(
        events,
        leading * index.chunk_events,
        min(stop * index.chunk_events, index.events),
        int(index.zones.posting_start[leading]),
    )
    if appended.stop == appended.start and _columns_fit(index):
        # Every bin the straddled chunks reach is one of the index's: summed in its columns.
        into = Accumulators(
            DenseSums(len(index.grants.bins)) if wanted.grants else None,
            DenseSums(len(index.periods.bins)) if wanted.periods else None,
            index.grants.column_words,
            index.periods.column_words,
        )
        if straddled.stop > straddled.start:
            question = counted(events, straddled, as_of, programme, position_sorted=True)
            add_postings(events, columns.postings, question, keys, into)
        grants, periods = into.grants, into.periods
        assert isinstance(grants, DenseSums | None) and isinstance(periods, DenseSums | None)
        return QuestionSums(
            keys,
            None if grants is None else index.grants.before(leading, grants),
            None if periods is None else index.periods.before(leading, periods),
        )
    into = Accumulators.for_keys(keys, wanted)
    for window in (straddled, appended):
        if window.stop > window.start:
            question = counted(events, window, as_of, programme, position_sorted=True)
            add_postings(events, columns.postings, question, keys, into)
    if into.grants is not None:
        into.grants.add_sums(index.grants.before(leading))
    if into.periods is not None:
        into.periods.add_sums(index.periods.before(leading))
    return into.take(keys)


def _columns_fit(index: AsOfIndex) -> bool:
    """The index's columns fit dense accumulators (any index of a real ledger does)."""
    return max(len(index.grants.bins), len(index.periods.bins)) <= accumulators.DENSE_BINS_MAX


def _still_valid(columns: ReplayColumns, index: AsOfIndex, as_of: AsOf) -> bool:
    """The index answers this question over these columns (see the module docstring)."""
    timeline = columns.timeline
    if not np.array_equal(np.sort(timeline.position.astype(np.int64)), index.timeline_positions):
        return False  # a handover arrived after the index was built
    if len(columns.events) > index.events and not _appended_fit(columns, index):
        return False  # appended events use programmes or years outside the index's tables
    return _known_is_prefix(timeline, as_of)


def _appended_fit(columns: ReplayColumns, index: AsOfIndex) -> bool:
    """Events appended since the index: inside its programmes and grant-years."""
    appended = columns.events.rows(slice(index.events, len(columns.events)))
    years = columns.postings.year[int(index.zones.posting_start[-1]) :]
    return int(
        appended.programme.max()
    ) < index.keys.periods.programme_count and index.keys.years.contains(years)


def _known_is_prefix(timeline: TimelineColumns, as_of: AsOf) -> bool:
    """Per programme, the entries the question knows are the first ones by position."""
    if as_of.at_position is None and as_of.known_at_us is None:
        return True
    known = known_entries(timeline, as_of)
    order = np.argsort(timeline.position, kind="stable")
    programmes, known = timeline.programme[order], known[order]
    # The few entries' programmes as a Python set: numpy's unique would import numpy.ma.
    for code in sorted(set(programmes.tolist())):
        flags = known[programmes == code]
        # Known entries first, then only unknown ones: no True after a False.
        if bool(np.any(flags[1:] & ~flags[:-1])):
            return False
    return True
