"""Exact integer group-by sums with numpy: dense bins when the key space is small, else compacted.

np.add.at on int64 keeps öre exact (np.bincount's weights would go through float64).
"""

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

# Above this many bins the keys are compacted with np.unique first: a dense int64 accumulator
# of this size is 128 MiB, plus its counts.
DENSE_BINS_MAX = 16 * 1024 * 1024

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class BinSums:
    """Per bin that received a posting: the bin, the sum of its amounts and how many there were."""

    bins: I64
    sums: I64
    counts: I64


def sum_bins(bins: npt.NDArray[Any], amounts: I64, *, size: int) -> BinSums:
    """Sum `amounts` per bin; bins are in [0, size)."""
    assert len(bins) == len(amounts)
    if size <= DENSE_BINS_MAX:
        sums = np.zeros(size, dtype=np.int64)
        np.add.at(sums, bins, amounts)
        counts = np.bincount(bins, minlength=size)
        present = np.flatnonzero(counts)
        return BinSums(present.astype(np.int64), sums[present], counts[present].astype(np.int64))
    present_bins, inverse = np.unique(bins, return_inverse=True)
    sums = np.zeros(len(present_bins), dtype=np.int64)
    np.add.at(sums, inverse, amounts)
    counts = np.bincount(inverse, minlength=len(present_bins)).astype(np.int64)
    return BinSums(present_bins.astype(np.int64), sums, counts)


def merge(parts: list[BinSums]) -> BinSums:
    """Add several bin sums (e.g. of chunks) into one."""
    parts = [part for part in parts if len(part.bins)]
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return BinSums(empty, empty, empty)
    if len(parts) == 1:
        return parts[0]
    bins = np.concatenate([part.bins for part in parts])
    sums = np.concatenate([part.sums for part in parts])
    counts = np.concatenate([part.counts for part in parts])
    size = int(bins.max()) + 1
    if size <= DENSE_BINS_MAX:
        # Scatter-add into a dense array: no sort.
        dense_sums = np.zeros(size, dtype=np.int64)
        dense_counts = np.zeros(size, dtype=np.int64)
        np.add.at(dense_sums, bins, sums)
        np.add.at(dense_counts, bins, counts)
        present = np.flatnonzero(dense_counts)
        return BinSums(present.astype(np.int64), dense_sums[present], dense_counts[present])
    unique_bins, inverse = np.unique(bins, return_inverse=True)
    merged_sums = np.zeros(len(unique_bins), dtype=np.int64)
    merged_counts = np.zeros(len(unique_bins), dtype=np.int64)
    np.add.at(merged_sums, inverse, sums)
    np.add.at(merged_counts, inverse, counts)
    return BinSums(unique_bins.astype(np.int64), merged_sums, merged_counts)


def pivot(
    keys: I64, measures: I64, sums: I64, counts: I64, measure_count: int
) -> tuple[I64, I64, npt.NDArray[np.bool_]]:
    """Rows per key with one column per measure: (keys, sums[n, m], reached[n, m])."""
    unique_keys, inverse = np.unique(keys, return_inverse=True)
    table = np.zeros((len(unique_keys), measure_count), dtype=np.int64)
    reached = np.zeros((len(unique_keys), measure_count), dtype=np.bool_)
    table[inverse, measures] = sums
    reached[inverse, measures] = counts > 0
    return unique_keys.astype(np.int64), table, reached


class DenseSums:
    """A reusable dense accumulator: add bins many times, take the touched ones out.

    Allocated once (fresh memory costs page faults on every use), cleared where touched.
    Counts are kept as "touched" flags: a row exists once any posting reached it.
    """

    def __init__(self, size: int) -> None:
        assert size <= DENSE_BINS_MAX, size
        self.size = size
        self.sums = np.zeros(size, dtype=np.int64)
        self.touched = np.zeros(size, dtype=np.bool_)

    def add(self, bins: npt.NDArray[Any], amounts: I64) -> None:
        """Accumulate amounts per bin."""
        np.add.at(self.sums, bins, amounts)
        self.touched[bins] = True

    def take(self) -> BinSums:
        """The touched bins and their sums; the accumulator is empty again afterwards."""
        present = np.flatnonzero(self.touched)
        result = BinSums(
            present.astype(np.int64), self.sums[present], np.ones(len(present), dtype=np.int64)
        )
        self.sums[present] = 0
        self.touched[present] = False
        return result
