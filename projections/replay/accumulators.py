"""Exact integer group-by sums: a dense accumulator per key space, scatter-added with numpy.

np.add.at on int64 keeps öre exact (np.bincount's weights would go through float64). A bin
exists once any posting reached it, even when its amounts add up to zero, so beside the sums
each accumulator keeps "touched" flags.
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
        self.touched = np.zeros(size, dtype=np.bool_)

    def add(self, bins: npt.NDArray[np.intp], amounts: npt.NDArray[Any]) -> None:
        """Accumulate amounts per bin."""
        np.add.at(self.sums, bins, amounts)
        self.touched[bins] = True

    def add_sums(self, sums: BinSums) -> None:
        """Accumulate sums that are already grouped by bin."""
        self.sums[sums.bins] += sums.sums
        self.touched[sums.bins] = True

    def clear(self) -> None:
        """Empty again, whatever was added (after a pass that failed part way)."""
        self.sums[:] = 0
        self.touched[:] = False

    def take(self) -> BinSums:
        """The touched bins and their sums; the accumulator is empty again afterwards (one C
        pass: posting_sums.take_touched)."""
        touched = int(np.count_nonzero(self.touched))
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
