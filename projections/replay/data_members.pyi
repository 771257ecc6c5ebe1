"""Members of the export's `data` column read in C (projections/replay/data_members.c)."""

from typing import Any

import numpy as np
import numpy.typing as npt

from ledger.audit.row_digests import ColumnBuffers

# The rows asked for: int64 indexes into the column (C-contiguous), in the order wanted.
Rows = npt.NDArray[np.signedinteger[Any]]

def integer_members(data: ColumnBuffers, rows: Rows, key: bytes, /) -> bytes:
    """int64 of the leftmost `KEY-?[0-9]+` in each of the rows (0 where none)."""

def string_members(data: ColumnBuffers, rows: Rows, key: bytes, /) -> tuple[bytes, bytes, bytes]:
    """(int32 offsets, strings, uint8 found) of the first `KEY([^"]*)"` in each of the rows."""

def year_maps(data: ColumnBuffers, rows: Rows, key: bytes, /) -> tuple[bytes, bytes, bytes]:
    """(int64 counts, years, amounts) of the first `KEY{"YYYY":amount,...}` in each row."""
