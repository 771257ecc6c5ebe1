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

I64 = npt.NDArray[np.int64]

# Dense accumulators are allocated once per pass: an int64 sum and a flag per bin. Above this
# many bins (160 MiB of sums) a key space is too large for this engine and it stops loudly.
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

    def take(self) -> BinSums:
        """The touched bins and their sums; the accumulator is empty again afterwards."""
        present = np.flatnonzero(self.touched)
        result = BinSums(present.astype(np.int64), self.sums[present])
        self.sums[present] = 0
        self.touched[present] = False
        return result
