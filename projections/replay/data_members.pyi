"""Members of the export's `data` column read in C (projections/replay/data_members.c)."""

from typing import Final

import numpy as np
import numpy.typing as npt

from ledger.audit.row_digests import ColumnBuffers

# What a row asks for, its code in `reads`; READ_ONE_YEAR + j reads the amount key j.
READ_NOTHING: Final[int]
READ_YEAR_MAP: Final[int]
READ_ONE_YEAR: Final[int]

# A uint8 code a row (C-contiguous), one of the READ_ codes.
Reads = npt.NDArray[np.uint8]
# (int64 postings a row, int64 years, int64 amounts, int32 recipient offsets (a row + 1),
# uint8 recipient found a row, the recipients' UTF-8 bytes).
RowMembers = tuple[bytes, bytes, bytes, bytes, bytes, bytes]

def row_members(
    data: ColumnBuffers,
    reads: Reads,
    recipient_key: bytes,
    map_key: bytes,
    year_key: bytes,
    amount_keys: tuple[bytes, ...],
    /,
) -> RowMembers:
    """Each row's postings (by its code: none, its map of years at `map_key`, or the year at
    `year_key` and the amount at its amount key) and its first `recipient_key` string."""
