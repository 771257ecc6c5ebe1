"""The as-of index's columns from its chunks' sums (asof_index._cumulative, posting_sums
index_columns): the same as numpy's chunk-by-chunk meaning, and malformed input refused by name."""

from typing import Any

import numpy as np
import pytest

from projections.replay import asof_index, posting_sums
from projections.replay.accumulators import BinSums, flag_words
from projections.replay.asof_index import SNAPSHOT_CHUNKS, CumulativeSums

I64 = np.int64
SIZE = 50 * 64 + 9  # bins of the key space: the last word is partly past it


def random_parts(chunks: int, seed: int) -> list[BinSums]:
    """Chunks' sums over random sorted bins (some chunks empty), sums of any sign."""
    rng = np.random.default_rng(seed)
    parts = []
    for _ in range(chunks):
        reached = np.unique(rng.integers(0, SIZE, int(rng.integers(0, 200))))
        parts.append(BinSums(reached.astype(I64), rng.integers(-(2**50), 2**50, len(reached))))
    return parts


def by_numpy(parts: list[BinSums]) -> dict[str, np.ndarray]:
    """What the index means, chunk by chunk in numpy."""
    bins = np.unique(np.concatenate([part.bins for part in parts] + [np.empty(0, I64)]))
    columns = [np.searchsorted(bins, part.bins) for part in parts]
    first_chunk = np.full(len(bins), len(parts), dtype=np.int32)
    for chunk in reversed(range(len(parts))):
        first_chunk[columns[chunk]] = chunk
    snapshots = np.zeros((len(parts) // SNAPSHOT_CHUNKS + 1, len(bins)), dtype=I64)
    running = np.zeros(len(bins), dtype=I64)
    for chunk, part in enumerate(parts):
        running[columns[chunk]] += part.sums
        if (chunk + 1) % SNAPSHOT_CHUNKS == 0:
            snapshots[(chunk + 1) // SNAPSHOT_CHUNKS] = running
    reached = np.zeros(flag_words(SIZE) * 64, dtype=np.bool_)
    reached[bins] = True
    return {
        "bins": bins,
        "first_chunk": first_chunk,
        "snapshots": snapshots,
        "chunk_columns": np.concatenate([*columns, np.empty(0, I64)]).astype(np.int32),
        "chunk_sums": np.concatenate([*(part.sums for part in parts), np.empty(0, I64)]),
        "words": np.packbits(reached, bitorder="little").view(np.uint64),
    }


@pytest.mark.parametrize(
    "chunks", [0, 1, SNAPSHOT_CHUNKS - 1, SNAPSHOT_CHUNKS, 3 * SNAPSHOT_CHUNKS + 5]
)
def test_the_index_columns_are_the_chunks_sums_by_numpy(chunks: int) -> None:
    """Bins, first chunks, each entry's column, snapshots and the bitmap, for chunk counts below,
    at and past the snapshots' spacing."""
    parts = random_parts(chunks, seed=chunks)
    index: CumulativeSums = asof_index._cumulative(parts, SIZE)
    for name, expected in by_numpy(parts).items():
        assert np.array_equal(getattr(index, name), expected), name
    set_bits = np.bitwise_count(index.words).astype(I64)
    assert np.array_equal(index.word_columns, np.cumsum(set_bits) - set_bits)


def test_a_bin_outside_the_key_space_is_named() -> None:
    """A bin past the key space (even inside the last word's spare bits) is not marked."""
    words = np.zeros(flag_words(SIZE), dtype=np.uint64)
    with pytest.raises(
        AssertionError, match=f"bin {SIZE} \\(entry 1\\): outside the key space of {SIZE} bins"
    ):
        posting_sums.mark_bins(np.array([0, SIZE], dtype=I64), SIZE, words)
    with pytest.raises(ValueError, match="not a bit per bin"):
        posting_sums.mark_bins(np.array([0], dtype=I64), SIZE, words[:-1])


def index_columns(**changed: Any) -> None:
    """index_columns over two chunks of two bins each, with some arguments replaced."""
    words = np.zeros(1, dtype=np.uint64)
    posting_sums.mark_bins(np.array([1, 5], dtype=I64), 64, words)
    arguments: dict[str, Any] = {
        "entry_bins": np.array([1, 5, 1, 5], dtype=I64),
        "entry_sums": np.array([10, 20, 30, 40], dtype=I64),
        "offsets": np.array([0, 2, 4], dtype=I64),
        "words": words,
        "word_columns": np.zeros(1, dtype=I64),
        "snapshot_chunks": 1,
        "bins": np.empty(2, dtype=I64),
        "first_chunk": np.empty(2, dtype=np.int32),
        "entry_columns": np.empty(4, dtype=np.int32),
        "snapshots": np.empty(6, dtype=I64),
    }
    arguments.update(changed)
    posting_sums.index_columns(*arguments.values())


def test_well_formed_input_gives_running_totals() -> None:
    """The fixture itself: totals after chunk 0 and after both."""
    snapshots = np.empty(6, dtype=I64)
    index_columns(snapshots=snapshots)
    assert snapshots.tolist() == [0, 0, 10, 20, 40, 60]


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"entry_bins": np.array([1, 5, 2, 5], dtype=I64)}, AssertionError, "entry 2: its bin"),
        ({"entry_bins": np.array([1, 5, -64, 5], dtype=I64)}, AssertionError, "entry 2"),
        ({"bins": np.empty(3, dtype=I64)}, ValueError, "bins and first chunks differ"),
        (
            {"bins": np.empty(3, dtype=I64), "first_chunk": np.empty(3, dtype=np.int32),
             "snapshots": np.empty(9, dtype=I64)},
            AssertionError,
            "one bin per column",
        ),
        ({"offsets": np.array([0, 3, 2], dtype=I64)}, ValueError, "do not ascend"),
        ({"offsets": np.array([0, 2, 3], dtype=I64)}, ValueError, "do not cover"),
        ({"snapshots": np.empty(4, dtype=I64)}, ValueError, "a row of columns"),
        ({"snapshot_chunks": 0}, ValueError, "a row of columns"),
        ({"entry_sums": np.zeros(4)}, ValueError, "expected native integers"),
        ({"entry_columns": np.empty(3, dtype=np.int32)}, ValueError, "differ in length"),
        # An entry's column is word_columns[word] plus the marked bins below it in the word: a
        # count that is not the bitmap's would write past the columns' first chunks and totals.
        ({"word_columns": np.ones(1, dtype=I64)}, AssertionError, "do not count them"),
        ({"word_columns": np.full(1, 1 << 40, dtype=I64)}, AssertionError, "do not count them"),
        ({"word_columns": np.full(1, -(1 << 40), dtype=I64)}, AssertionError, "do not count"),
    ],
)  # fmt: skip
def test_malformed_input_is_refused_by_name(
    changes: dict[str, Any], error: type[Exception], message: str
) -> None:
    """An unmarked bin, a bitmap that is not one bin per column, word columns that do not count
    its bits, offsets outside the entries, snapshots of the wrong shape, float sums: named, never
    read or written past."""
    with pytest.raises(error, match=message):
        index_columns(**changes)
