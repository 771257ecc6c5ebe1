"""Exact integer group-by sums: a dense accumulator per key space, scatter-added with numpy.

np.add.at on int64 keeps öre exact (np.bincount's weights would go through float64). A bin
exists once any posting reached it, even when its amounts add up to zero, so beside the sums
each accumulator keeps "touched" flags: a bit a bin, 64 to a word (bin 64w + b is bit b of word
w), so that they stay in the CPU's caches beside the sums and a take visits only set bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from projections.replay import posting_sums

I64 = npt.NDArray[np.int64]

# Dense accumulators are allocated once per pass: an int64 sum and a flag per bin. Above this
# many bins (160 MiB of sums) a key space gets a sparse accumulator instead (sorting, slower).
DENSE_BINS_MAX = 20 * 1024 * 1024
WORD_BITS = 64


def flag_words(bins: int) -> int:
    """The words of touched flags `bins` bins take (a bit each)."""
    return -(-bins // WORD_BITS)


def bits_of(bins: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint64]]:
    """Each bin's flag word and its bit in that word."""
    as_int = np.asarray(bins, dtype=np.int64)
    return as_int // WORD_BITS, np.left_shift(np.uint64(1), (as_int % WORD_BITS).astype(np.uint64))


@dataclass(frozen=True)
class BinSums:
    """The bins some postings reached (sorted) and the sum of their amounts per bin."""

    bins: I64
    sums: I64

    @classmethod
    def empty(cls) -> BinSums:
        """No bin reached."""
        return cls(np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.bins)


class DenseSums:
    """A reusable dense accumulator: add bins many times, take the touched ones out.

    Allocated once (fresh memory costs page faults on every use), cleared where touched.
    """

    def __init__(self, size: int) -> None:
        assert 0 <= size <= DENSE_BINS_MAX, f"{size} bins: too many for dense sums"
        self.size = size
        self.sums = np.zeros(size, dtype=np.int64)
        self.touched = np.zeros(flag_words(size), dtype=np.uint64)

    def add(self, bins: npt.NDArray[np.intp], amounts: npt.NDArray[Any]) -> None:
        """Accumulate amounts per bin."""
        np.add.at(self.sums, bins, amounts)
        self._mark(bins)

    def add_sums(self, sums: BinSums) -> None:
        """Accumulate sums that are already grouped by bin."""
        self.sums[sums.bins] += sums.sums
        self._mark(sums.bins)

    def _mark(self, bins: npt.NDArray[Any]) -> None:
        words, bits = bits_of(bins)
        np.bitwise_or.at(self.touched, words, bits)

    def reached(self) -> npt.NDArray[np.bool_]:
        """A flag per bin: whether any posting reached it since the last take."""
        words, bits = bits_of(np.arange(self.size))
        flags: npt.NDArray[np.bool_] = (self.touched[words] & bits) != 0
        return flags

    def clear(self) -> None:
        """Empty again, whatever was added (after a pass that failed part way)."""
        self.sums[:] = 0
        self.touched[:] = 0

    def take(self) -> BinSums:
        """The touched bins and their sums; the accumulator is empty again afterwards (one C
        pass over the set bits: posting_sums.take_touched)."""
        touched = int(np.bitwise_count(self.touched).sum(dtype=np.int64))
        bins = np.empty(touched, dtype=np.int64)
        sums = np.empty(touched, dtype=np.int64)
        taken = posting_sums.take_touched(self.sums, self.touched, bins, sums)
        assert taken == touched, (taken, touched)
        return BinSums(bins, sums)


class SparseSums:
    """The same as DenseSums for key spaces too large for an array per bin: the added bins are
    kept and grouped by sorting when taken."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._bins: list[npt.NDArray[np.intp]] = []
        self._amounts: list[npt.NDArray[Any]] = []

    def add(self, bins: npt.NDArray[np.intp], amounts: npt.NDArray[Any]) -> None:
        """Accumulate amounts per bin."""
        self._bins.append(bins)
        self._amounts.append(amounts)

    def add_sums(self, sums: BinSums) -> None:
        """Accumulate sums that are already grouped by bin."""
        self.add(sums.bins, sums.sums)

    def take(self) -> BinSums:
        """The touched bins and their sums; the accumulator is empty again afterwards."""
        if not self._bins:
            return BinSums.empty()
        bins, inverse = np.unique(np.concatenate(self._bins), return_inverse=True)
        sums = np.zeros(len(bins), dtype=np.int64)
        np.add.at(sums, inverse.reshape(-1), np.concatenate(self._amounts))
        self._bins, self._amounts = [], []
        return BinSums(bins.astype(np.int64), sums)


def accumulator_for(size: int) -> DenseSums | SparseSums:
    """Dense sums for a key space that fits, else sparse ones."""
    return DenseSums(size) if size <= DENSE_BINS_MAX else SparseSums(size)
