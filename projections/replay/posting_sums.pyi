"""Type stubs of the C extension projections/replay/posting_sums.c."""

from typing import Any, Final

import numpy as np
import numpy.typing as npt

# The measure slots the loops are specialised for (key_spaces.MEASURE_SLOTS).
ENGINE_MEASURE_SLOTS: Final[int]

def scatter(
    programme: npt.NDArray[np.uint16],
    recipient: npt.NDArray[np.int32],
    day: npt.NDArray[np.int32],
    kind: npt.NDArray[np.uint8],
    posting_count: npt.NDArray[np.uint8],
    year: npt.NDArray[np.int16],
    amount: npt.NDArray[np.int64],
    start: int,
    stop: int,
    posting_start: int,
    posting_stop: int,
    mask: npt.NDArray[np.bool_] | None,
    measures: npt.NDArray[np.intp],
    pairs: npt.NDArray[np.intp] | None,
    recipient_codes: int,
    periods: npt.NDArray[np.intp] | None,
    days_first: int,
    days_count: int,
    clamp: bool,
    year_first: int,
    year_count: int,
    measure_slots: int,
    grant_sums: Any,
    grant_touched: Any,
    period_sums: Any,
    period_touched: Any,
    grant_words: npt.NDArray[np.uint64] | None = None,
    grant_word_columns: npt.NDArray[np.int64] | None = None,
    period_words: npt.NDArray[np.uint64] | None = None,
    period_word_columns: npt.NDArray[np.int64] | None = None,
) -> None:
    """Add the window's counted postings to dense grant and period accumulators."""

def mark_pairs(
    programme: npt.NDArray[np.uint16],
    recipient: npt.NDArray[np.int32],
    start: int,
    stop: int,
    recipient_codes: int,
    seen: npt.NDArray[np.bool_],
) -> None:
    """Flag the (programme, recipient) pairs of the window's events."""

def grant_rows(
    bins: npt.NDArray[np.int64],
    sums: npt.NDArray[np.int64],
    pair_programme: npt.NDArray[np.int64],
    pair_recipient: npt.NDArray[np.int64],
    year_first: int,
    year_count: int,
    measure_slots: int,
    grant_slots: npt.NDArray[np.intp],
    out: npt.NDArray[np.int64],
) -> int:
    """The recipient-year rows of sorted grant bin sums, column after column in `out`."""

def sums_before(
    bins: npt.NDArray[np.int64],
    first_chunk: npt.NDArray[np.int32],
    snapshot: npt.NDArray[np.int64],
    chunk_columns: npt.NDArray[np.int32],
    chunk_sums: npt.NDArray[np.int64],
    since_start: int,
    since_stop: int,
    boundary: int,
    plus_sums: npt.NDArray[np.int64],
    plus_touched: npt.NDArray[np.uint64],
    out_bins: npt.NDArray[np.int64],
    out_sums: npt.NDArray[np.int64],
) -> int:
    """An as-of index's sums before a chunk boundary, a question's own sums added."""

def take_touched(
    sums: npt.NDArray[np.int64],
    touched: npt.NDArray[np.uint64],
    out_bins: npt.NDArray[np.int64],
    out_sums: npt.NDArray[np.int64],
) -> int:
    """A dense accumulator's touched bins and sums, cleared as they are taken."""

def mark_bins(bins: npt.NDArray[np.int64], size: int, words: npt.NDArray[np.uint64]) -> None:
    """Mark bins in a bitmap, a bit a bin."""

def index_columns(
    entry_bins: npt.NDArray[np.int64],
    entry_sums: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    words: npt.NDArray[np.uint64],
    word_columns: npt.NDArray[np.int64],
    snapshot_chunks: int,
    bins: npt.NDArray[np.int64],
    first_chunk: npt.NDArray[np.int32],
    entry_columns: npt.NDArray[np.int32],
    snapshots: npt.NDArray[np.int64],
) -> None:
    """An as-of index's columns, first chunks and running totals from its chunks' sums."""
