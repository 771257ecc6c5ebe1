"""Each event's canonical bytes joined, spelled, hashed and held to its claimed hash from its
columns (ledger/audit/row_digests.c, libcrypto)."""

from collections.abc import Sequence
from typing import Final

from typing_extensions import Buffer

# An Arrow binary column as its buffers: int32 offsets, data, the array's offset and length.
ColumnBuffers = tuple[Buffer, Buffer, int, int]
# A piece of each row: literal bytes; (PIECE_TEXT | PIECE_STRING, column);
# (PIECE_NULLABLE_STRING, column, validity bitmap or b""); a dictionary array's string piece
# with its values as the column and two more: its int32 indices buffer and their offset;
# (PIECE_INTEGER | PIECE_DAY | PIECE_INSTANT, values buffer, the array's offset).
Piece = (
    bytes
    | tuple[int, ColumnBuffers]
    | tuple[int, ColumnBuffers, Buffer]
    | tuple[int, Buffer, int]
    | tuple[int, ColumnBuffers, Buffer, int]
    | tuple[int, ColumnBuffers, Buffer, Buffer, int]
)

PIECE_TEXT: Final[int]
PIECE_STRING: Final[int]
PIECE_NULLABLE_STRING: Final[int]
PIECE_INTEGER: Final[int]
PIECE_DAY: Final[int]
PIECE_INSTANT: Final[int]
ROW_NEEDS_ESCAPING: Final[int]
ROW_IMPOSSIBLE: Final[int]
ROW_DIFFERS: Final[int]
DIGEST_BYTES: Final[int]

def proven_rows(
    prev_hashes: ColumnBuffers,
    hashes: ColumnBuffers,
    pieces: Sequence[Piece],
    /,
    *,
    sha_extensions: bool = True,
) -> bytes:
    """Each row's SHA-256 (its prev hash's 32 bytes, then each piece) held to its hash (both
    columns of lower-case hex): a flags byte a row (ROW_NEEDS_ESCAPING, ROW_IMPOSSIBLE,
    ROW_DIFFERS). sha_extensions=False hashes by libcrypto even where the CPU has the SHA
    extensions (the tests hold both to hashlib)."""

def canonical_rows(rows: int, pieces: Sequence[Piece], /) -> tuple[bytes, bytes, bytes]:
    """Each row's pieces joined: int64 offsets (rows + 1), the text, a flags byte a row."""
