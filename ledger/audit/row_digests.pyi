"""SHA-256 of each row of pieces joined (ledger/audit/row_digests.c, libcrypto)."""

from collections.abc import Sequence

from typing_extensions import Buffer

# An Arrow binary column as its buffers: int32 offsets, data, the array's offset and length.
ColumnBuffers = tuple[Buffer, Buffer, int, int]

def sha256_rows(prev_hashes: Buffer, pieces: Sequence[bytes | ColumnBuffers], /) -> bytes:
    """The 32-byte SHA-256 of each row (its 32-byte prev hash, then each piece), in row order."""
