"""An as-of index's sums at a chunk boundary (CumulativeSums.before, one C pass): the same bins
and sums as adding the chunks up with numpy, with or without a question's own sums, at every
boundary. A question's events are summed straight into the index's columns (its bitmap of
reached bins): the same sums as by bin; a bin the index never reached, or a chunk entry outside
the bins, is named."""

from dataclasses import dataclass

import numpy as np
import pytest

from projections.replay import asof_index, posting_sums
from projections.replay.accumulators import BinSums, DenseSums, flag_words
from projections.replay.asof_index import SNAPSHOT_CHUNKS, AsOfIndex, CumulativeSums
from projections.replay.columns import ReplayColumns
from projections.replay.counting import Counted, EventWindow
from projections.replay.range_sums import Accumulators, ColumnWords, add_postings
from tests.ledgers.vectorised import synthetic_columns

EVENTS = 30_000
CHUNK_EVENTS = 512  # ~60 chunks: several snapshots, boundaries between them


def added_up(sums: CumulativeSums, boundary: int, plus: DenseSums | None) -> BinSums:
    """The sums by numpy, chunk by chunk from the start (the meaning of `before`)."""
    totals = np.zeros(len(sums.bins), dtype=np.int64)
    stop = int(sums.chunk_offsets[boundary])
    np.add.at(totals, sums.chunk_columns[:stop], sums.chunk_sums[:stop])
    reached = sums.first_chunk < boundary
    if plus is not None:
        totals += plus.sums
        reached |= plus.reached()
    return BinSums(sums.bins[reached], totals[reached])


@dataclass(frozen=True)
class Indexed:
    """An index of synthetic columns, the columns, and half of one chunk's events."""

    index: AsOfIndex
    columns: ReplayColumns
    window: EventWindow


@pytest.fixture(scope="module")
def indexed() -> Indexed:
    """An index over ~60 chunks, and the first half of chunk 13."""
    columns, dictionaries, _ = synthetic_columns(EVENTS)
    built = asof_index.build(columns, dictionaries.names(), 1, chunk_events=CHUNK_EVENTS)
    assert built is not None and built.zones.count > 3 * SNAPSHOT_CHUNKS
    chunk = 13
    start = chunk * CHUNK_EVENTS
    window = EventWindow.of(
        columns.events, start, start + CHUNK_EVENTS // 2, int(built.zones.posting_start[chunk])
    )
    return Indexed(built, columns, window)


def in_columns(indexed: Indexed, words: ColumnWords | None = None) -> DenseSums:
    """The window's grant sums, summed in the index's columns."""
    index = indexed.index
    into = Accumulators(
        DenseSums(len(index.grants.bins)), None, words or index.grants.column_words, None
    )
    counted = Counted(indexed.window, None)
    add_postings(indexed.columns.events, indexed.columns.postings, counted, index.keys, into)
    assert isinstance(into.grants, DenseSums)
    return into.grants


def assert_same(left: BinSums, right: BinSums) -> None:
    """Same bins, same sums."""
    assert np.array_equal(left.bins, right.bins)
    assert np.array_equal(left.sums, right.sums)


def test_every_boundary_sums_as_adding_the_chunks_up(indexed: Indexed) -> None:
    """From the first boundary to the last, grants and periods, without a question's sums."""
    index = indexed.index
    for sums in (index.grants, index.periods):
        for boundary in range(index.zones.count + 1):
            assert_same(sums.before(boundary), added_up(sums, boundary, None))


def test_sums_in_the_index_columns_are_the_sums_by_bin(indexed: Indexed) -> None:
    """The column of each bin is its place among the index's bins."""
    index = indexed.index
    by_bin = Accumulators.for_keys(index.keys)
    counted = Counted(indexed.window, None)
    add_postings(indexed.columns.events, indexed.columns.postings, counted, index.keys, by_bin)
    expected = by_bin.take(index.keys).grants
    assert expected is not None and len(expected) > 0
    columns = in_columns(indexed)
    touched = np.flatnonzero(columns.reached())
    assert np.array_equal(index.grants.bins[touched], expected.bins)
    assert np.array_equal(columns.sums[touched], expected.sums)


def test_a_questions_own_sums_are_added_in_the_index_bins(indexed: Indexed) -> None:
    """Half a chunk's sums on top of each boundary up to that chunk (bins reached only by them
    count too)."""
    index, plus = indexed.index, in_columns(indexed)
    for boundary in (0, 1, SNAPSHOT_CHUNKS, SNAPSHOT_CHUNKS + 5, 13):
        assert_same(index.grants.before(boundary, plus), added_up(index.grants, boundary, plus))


def test_a_bin_the_index_never_reached_is_named(indexed: Indexed) -> None:
    """A bin of the window taken out of the index's bitmap: the scatter names it, not a column
    of another bin."""
    words = indexed.index.grants.column_words
    first = int(np.flatnonzero(in_columns(indexed).reached())[0])
    bin_ = int(indexed.index.grants.bins[first])
    holed = words.words.copy()
    holed[bin_ // 64] &= ~np.uint64(1 << (bin_ % 64))
    with pytest.raises(AssertionError, match="a bin the as-of index never reached"):
        in_columns(indexed, ColumnWords(holed, words.word_columns))
    short = ColumnWords(words.words[: bin_ // 64], words.word_columns[: bin_ // 64])
    with pytest.raises(AssertionError, match="outside the accumulator"):
        in_columns(indexed, short)


def test_malformed_input_is_refused_by_name(indexed: Indexed) -> None:
    """A chunk entry pointing past the bins, lengths that differ, a window outside the entries,
    plus sums not one per column."""
    sums = indexed.index.grants
    n = len(sums.bins)
    out = (np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64))
    no_sums, no_flags = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.uint64)
    columns = sums.chunk_columns.copy()
    columns[0] = n

    def call(
        chunk_columns: np.ndarray, first: np.ndarray, stop: int, plus: np.ndarray = no_sums
    ) -> int:
        flags = no_flags if plus is no_sums else np.zeros(flag_words(len(plus)), np.uint64)
        return posting_sums.sums_before(
            sums.bins, first, sums.snapshots[0], chunk_columns, sums.chunk_sums,
            0, stop, 1, plus, flags, *out,
        )  # fmt: skip

    with pytest.raises(AssertionError, match="chunk entry 0"):
        call(columns, sums.first_chunk, 1)
    with pytest.raises(ValueError, match="differ in length"):
        call(sums.chunk_columns, sums.first_chunk[1:], 1)
    with pytest.raises(ValueError, match="outside the chunk columns"):
        call(sums.chunk_columns, sums.first_chunk, len(columns) + 1)
    with pytest.raises(ValueError, match="one per index bin"):
        call(sums.chunk_columns, sums.first_chunk, 1, np.zeros(n - 1, dtype=np.int64))
    with pytest.raises(ValueError, match="one per index bin"):
        posting_sums.sums_before(
            sums.bins, sums.first_chunk, sums.snapshots[0], sums.chunk_columns, sums.chunk_sums,
            0, 1, 1, np.zeros(n, np.int64), np.zeros(flag_words(n) + 1, np.uint64), *out,
        )  # fmt: skip
