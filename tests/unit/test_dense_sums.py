"""A dense accumulator (DenseSums): exact sums per bin, a touched bit per bin, taken out sorted."""

import numpy as np
import pytest

from projections.replay import posting_sums
from projections.replay.accumulators import WORD_BITS, DenseSums, flag_words

I64 = np.int64
# Not a multiple of a word: the last word's high bits are past the last bin.
SIZE = 5 * WORD_BITS + 17


def reference(bins: np.ndarray, amounts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The touched bins (sorted) and their sums, by numpy."""
    sums = np.zeros(SIZE, dtype=I64)
    np.add.at(sums, bins, amounts)
    touched = np.unique(bins)
    return touched, sums[touched]


def test_a_take_gives_every_touched_bin_in_order_with_its_exact_sum() -> None:
    """Word edges, the last bin, repeats and sums that cancel to zero (such a bin still counts)."""
    rng = np.random.default_rng(7)
    edges = np.array([0, WORD_BITS - 1, WORD_BITS, 2 * WORD_BITS - 1, SIZE - 1], dtype=I64)
    bins = np.concatenate([edges, rng.integers(0, SIZE, 500), [3, 3]])
    amounts = np.concatenate([rng.integers(-(2**40), 2**40, len(bins) - 2), [5, -5]])
    accumulator = DenseSums(SIZE)
    accumulator.add(bins, amounts)
    expected_bins, expected_sums = reference(bins, amounts)
    assert np.flatnonzero(accumulator.reached()).tolist() == expected_bins.tolist()
    taken = accumulator.take()
    assert taken.bins.tolist() == expected_bins.tolist()
    assert taken.sums.tolist() == expected_sums.tolist()
    assert not accumulator.touched.any() and not accumulator.sums.any()
    assert len(accumulator.take()) == 0


def test_the_flags_are_a_bit_a_bin() -> None:
    """SIZE bins take flag_words(SIZE) words; bin 64w + b is bit b of word w."""
    accumulator = DenseSums(SIZE)
    assert accumulator.touched.shape == (flag_words(SIZE),) == (6,)
    accumulator.add(np.array([WORD_BITS + 2]), np.array([1]))
    assert accumulator.touched.tolist() == [0, 0b100, 0, 0, 0, 0]


def test_a_flag_past_the_last_sum_is_refused_and_left() -> None:
    """A bit for a bin the sums do not hold is never read as one of them."""
    sums = np.zeros(SIZE, dtype=I64)
    touched = np.zeros(flag_words(SIZE), dtype=np.uint64)
    touched[-1] = np.uint64(1) << np.uint64(17)  # bin SIZE itself
    out = np.empty(SIZE, dtype=I64), np.empty(SIZE, dtype=I64)
    with pytest.raises(ValueError, match="past the last sum"):
        posting_sums.take_touched(sums, touched, *out)
    assert int(touched[-1]) == 1 << 17


def test_more_touched_bins_than_the_outputs_hold_is_refused() -> None:
    """The outputs are sized by the caller: a short one is a ValueError, not a write past it."""
    accumulator = DenseSums(SIZE)
    accumulator.add(np.array([1, 2, 3]), np.array([1, 1, 1]))
    out = np.empty(2, dtype=I64), np.empty(2, dtype=I64)
    with pytest.raises(ValueError, match="more touched bins than the outputs hold"):
        posting_sums.take_touched(accumulator.sums, accumulator.touched, *out)


def test_flags_of_the_wrong_width_are_refused() -> None:
    """A flag byte a bin (the old layout) or a word too few: refused by name."""
    sums = np.zeros(SIZE, dtype=I64)
    out = np.empty(1, dtype=I64), np.empty(1, dtype=I64)
    with pytest.raises(ValueError, match="touched: expected a 1-d array of 8-byte"):
        posting_sums.take_touched(sums, np.zeros(SIZE, dtype=np.bool_), *out)
    with pytest.raises(ValueError, match="not a bit per sum"):
        posting_sums.take_touched(sums, np.zeros(flag_words(SIZE) - 1, dtype=np.uint64), *out)
