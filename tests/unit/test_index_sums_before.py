"""An as-of index's sums at a chunk boundary (CumulativeSums.before, one C pass): the same bins
and sums as adding the chunks up with numpy, with or without a question's own sums, at every
boundary; a question's bin the index never reached, or a chunk entry outside the bins, is named."""

import numpy as np
import pytest

from projections.replay import asof_index, posting_sums
from projections.replay.accumulators import BinSums
from projections.replay.asof_index import SNAPSHOT_CHUNKS, AsOfIndex, CumulativeSums
from projections.replay.counting import Counted, EventWindow
from projections.replay.range_sums import Accumulators, add_postings
from tests.ledgers.vectorised import synthetic_columns

EVENTS = 30_000
CHUNK_EVENTS = 1_024  # ~30 chunks: several snapshots, boundaries between them


def added_up(sums: CumulativeSums, boundary: int, plus: BinSums | None) -> BinSums:
    """The sums by numpy, chunk by chunk from the start (the meaning of `before`)."""
    totals = np.zeros(len(sums.bins), dtype=np.int64)
    stop = int(sums.chunk_offsets[boundary])
    np.add.at(totals, sums.chunk_columns[:stop], sums.chunk_sums[:stop])
    reached = sums.first_chunk < boundary
    if plus is not None and len(plus):
        columns = np.searchsorted(sums.bins, plus.bins)
        totals[columns] += plus.sums
        reached[columns] = True
    return BinSums(sums.bins[reached], totals[reached])


@pytest.fixture(scope="module")
def index() -> tuple[AsOfIndex, BinSums]:
    """An index of synthetic columns, and the grant sums of half of one chunk's events."""
    columns, dictionaries, _ = synthetic_columns(EVENTS)
    built = asof_index.build(columns, dictionaries.names(), 1, chunk_events=CHUNK_EVENTS)
    assert built is not None and built.zones.count > 3 * SNAPSHOT_CHUNKS
    chunk = 13
    start = chunk * CHUNK_EVENTS
    window = EventWindow.of(
        columns.events, start, start + CHUNK_EVENTS // 2, int(built.zones.posting_start[chunk])
    )
    into = Accumulators.for_keys(built.keys)
    add_postings(columns.events, columns.postings, Counted(window, None), built.keys, into)
    plus = into.take(built.keys).grants
    assert plus is not None and len(plus) > 0
    return built, plus


def assert_same(left: BinSums, right: BinSums) -> None:
    """Same bins, same sums."""
    assert np.array_equal(left.bins, right.bins)
    assert np.array_equal(left.sums, right.sums)


def test_every_boundary_sums_as_adding_the_chunks_up(index: tuple[AsOfIndex, BinSums]) -> None:
    """From the first boundary to the last, grants and periods, without a question's sums."""
    built, _ = index
    for sums in (built.grants, built.periods):
        for boundary in range(built.zones.count + 1):
            assert_same(sums.before(boundary), added_up(sums, boundary, None))


def test_a_questions_own_sums_are_added_in_the_index_bins(
    index: tuple[AsOfIndex, BinSums],
) -> None:
    """Half a chunk's sums on top of each boundary up to that chunk (bins reached only by them
    count too)."""
    built, plus = index
    for boundary in (0, 1, SNAPSHOT_CHUNKS, SNAPSHOT_CHUNKS + 5, 13):
        assert_same(built.grants.before(boundary, plus), added_up(built.grants, boundary, plus))


def test_a_bin_the_index_never_reached_is_named(index: tuple[AsOfIndex, BinSums]) -> None:
    """Before the first bin, between two, past the last, out of order."""
    built, plus = index
    bins = built.grants.bins
    gaps = np.flatnonzero(np.diff(bins) > 1)
    assert len(gaps) > 0 and bins[0] > 0
    for stray in (int(bins[0]) - 1, int(bins[gaps[0]]) + 1, int(bins[-1]) + 1):
        with pytest.raises(AssertionError, match="a bin the index never reached"):
            built.grants.before(3, BinSums(np.array([stray]), np.array([1])))
    backwards = BinSums(plus.bins[::-1].copy(), plus.sums[::-1].copy())
    with pytest.raises(AssertionError, match="plus bin"):
        built.grants.before(3, backwards)


def test_malformed_input_is_refused_by_name(index: tuple[AsOfIndex, BinSums]) -> None:
    """A chunk entry pointing past the bins, lengths that differ, a window outside the entries."""
    built, _ = index
    sums = built.grants
    n = len(sums.bins)
    out = (np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64))
    empty = np.empty(0, dtype=np.int64)
    columns = sums.chunk_columns.copy()
    columns[0] = n

    def call(chunk_columns: np.ndarray, first: np.ndarray, stop: int) -> int:
        return posting_sums.sums_before(
            sums.bins, first, sums.snapshots[0], chunk_columns, sums.chunk_sums,
            0, stop, 1, empty, empty, *out,
        )  # fmt: skip

    with pytest.raises(AssertionError, match="chunk entry 0"):
        call(columns, sums.first_chunk, 1)
    with pytest.raises(ValueError, match="differ in length"):
        call(sums.chunk_columns, sums.first_chunk[1:], 1)
    with pytest.raises(ValueError, match="outside the chunk columns"):
        call(sums.chunk_columns, sums.first_chunk, len(columns) + 1)
