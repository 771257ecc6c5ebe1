"""SHA-256 of each row of pieces joined (the C loop of ledger/audit/row_digests.c): every row's
digest is hashlib's of its prev hash and its pieces concatenated, for any lengths, any number of
pieces, sliced columns and no rows at all; buffers that do not hold what they claim (a forged
export) are a ValueError naming the piece, never a read out of bounds."""

import hashlib
import random
import struct
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.audit.row_digests import sha256_rows

if TYPE_CHECKING:
    from ledger.audit.row_digests import ColumnBuffers

DIGEST_BYTES = 32
LARGE_VALUE_BYTES = 70_000  # over 64 KiB: many SHA-256 blocks, bigger than any buffer inside
LONG_COLUMN_ROWS = 20_000


def buffers(column: pa.Array) -> "ColumnBuffers":
    """A binary or string column as the C loop takes it."""
    _, offsets, data = column.buffers()
    return (offsets or b"", data or b"", column.offset, len(column))


def reference(prev: bytes, pieces: list[bytes | list[bytes]]) -> bytes:
    """hashlib, a row at a time over the row's bytes joined in Python."""
    rows = len(prev) // DIGEST_BYTES
    return b"".join(
        hashlib.sha256(
            prev[row * DIGEST_BYTES : (row + 1) * DIGEST_BYTES]
            + b"".join(p if isinstance(p, bytes) else p[row] for p in pieces)
        ).digest()
        for row in range(rows)
    )


@st.composite
def rows_of_pieces(draw: st.DrawFn) -> tuple[bytes, list[bytes | list[bytes]], list[int]]:
    """Prev hashes, pieces (literals, columns of bytes or text) and each column's slice start."""
    rows = draw(st.integers(0, 12))
    prev = draw(st.binary(min_size=rows * DIGEST_BYTES, max_size=rows * DIGEST_BYTES))
    value = st.one_of(st.binary(max_size=300), st.text(max_size=80).map(lambda text: text.encode()))
    pieces: list[bytes | list[bytes]] = []
    starts = []
    for _ in range(draw(st.integers(0, 24))):
        if draw(st.booleans()):
            pieces.append(draw(st.binary(max_size=40)))
        else:
            pieces.append(draw(st.lists(value, min_size=rows, max_size=rows)))
            starts.append(draw(st.integers(0, 3)))
    return prev, pieces, starts


def as_columns(
    pieces: list[bytes | list[bytes]], starts: list[int], text: bool
) -> "list[bytes | ColumnBuffers]":
    """Each column piece as an Arrow column sliced `start` rows into a longer one."""
    native: list[bytes | ColumnBuffers] = []
    column_starts = iter(starts)
    for piece in pieces:
        if isinstance(piece, bytes):
            native.append(piece)
            continue
        start = next(column_starts)
        padded = [b"x" * start] * start + piece + [b"tail"]
        column = pa.array(padded, pa.binary()).slice(start, len(piece))
        if text and all(is_utf8(v) for v in piece):
            column = pa.array([v.decode() for v in padded], pa.string()).slice(start, len(piece))
        native.append(buffers(column))
    return native


def is_utf8(value: bytes) -> bool:
    """Whether a value is text (a string column may hold it)."""
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


@settings(max_examples=200, deadline=None)
@given(case=rows_of_pieces(), text=st.booleans())
def test_every_row_is_hashlibs_digest_of_its_pieces_joined(
    case: tuple[bytes, list[bytes | list[bytes]], list[int]], text: bool
) -> None:
    """Empty values, unicode, sliced columns, 0 to 24 pieces, no rows at all."""
    prev, pieces, starts = case
    assert sha256_rows(prev, as_columns(pieces, starts, text)) == reference(prev, pieces)


def test_one_row_of_no_pieces_is_the_hash_of_its_prev_hash() -> None:
    prev = bytes(range(DIGEST_BYTES))
    assert sha256_rows(prev, []) == hashlib.sha256(prev).digest()


def test_no_rows_give_no_digests() -> None:
    assert sha256_rows(b"", [b"{", buffers(pa.array([], pa.binary())), b"}"]) == b""


def test_values_over_64_kib() -> None:
    generator = random.Random(7)
    values = [generator.randbytes(LARGE_VALUE_BYTES + row) for row in range(3)] + [b""]
    prev = generator.randbytes(len(values) * DIGEST_BYTES)
    pieces: list[bytes | list[bytes]] = [b"[", values, b"]", values[::-1]]
    native: list[bytes | ColumnBuffers] = [
        b"[",
        buffers(pa.array(values)),
        b"]",
        buffers(pa.array(values[::-1])),
    ]
    assert sha256_rows(prev, native) == reference(prev, pieces)


def test_a_long_column_and_a_slice_deep_inside_it() -> None:
    generator = random.Random(11)
    values = [generator.randbytes(generator.randrange(0, 700)) for _ in range(LONG_COLUMN_ROWS)]
    prev = generator.randbytes(LONG_COLUMN_ROWS * DIGEST_BYTES)
    column = pa.array(values, pa.binary())
    assert sha256_rows(prev, [b"a", buffers(column)]) == reference(prev, [b"a", values])
    inner = prev[1_000 * DIGEST_BYTES : 10_000 * DIGEST_BYTES]
    assert sha256_rows(inner, [buffers(column.slice(1_000, 9_000))]) == reference(
        inner, [values[1_000:10_000]]
    )


def offsets_of(*values: int) -> bytes:
    """An int32 offsets buffer."""
    return struct.pack(f"<{len(values)}i", *values)


PREV_TWO_ROWS = bytes(2 * DIGEST_BYTES)
MALFORMED = {
    "offsets decreasing": ((offsets_of(0, 4, 2), b"abcd", 0, 2), "offsets decrease at row 1"),
    "offsets past the data": ((offsets_of(0, 2, 9), b"abcd", 0, 2), "past its data buffer"),
    "huge last offset": ((offsets_of(0, 2, 2**31 - 1), b"abcd", 0, 2), "past its data buffer"),
    "negative first offset": ((offsets_of(-4, 0, 2), b"abcd", 0, 2), "first offset is negative"),
    "offsets too short": ((offsets_of(0, 2), b"abcd", 0, 2), "too few for 2 values"),
    "offset beyond offsets": ((offsets_of(0, 2, 4), b"abcd", 1, 2), "too few for 2 values"),
    "huge array offset": ((offsets_of(0, 2, 4), b"abcd", 2**61, 2), "too few for 2 values"),
    "array offset past Py_ssize_t": ((offsets_of(0, 2, 4), b"abcd", 2**70, 2), "too large"),
    "negative array offset": ((offsets_of(0, 2, 4), b"abcd", -1, 2), "2 values from offset -1"),
    "fewer values than rows": ((offsets_of(0, 2), b"abcd", 0, 1), "1 values from offset 0"),
    "more values than rows": ((offsets_of(0, 1, 2, 3), b"abcd", 0, 3), "expected 2"),
    "a ragged offsets buffer": ((b"\x00" * 11, b"abcd", 0, 2), "too few for 2 values"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_column_buffers_are_a_value_error_naming_the_piece(case: str) -> None:
    piece, reason = MALFORMED[case]
    with pytest.raises(ValueError, match=f"^piece 2: .*{reason}"):
        sha256_rows(PREV_TWO_ROWS, [b"{", buffers(pa.array([b"ok", b"ok"])), piece, b"}"])


def test_prev_hashes_of_a_partial_row_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="prev hashes: 33 bytes"):
        sha256_rows(bytes(33), [])


@pytest.mark.parametrize(
    "piece",
    [
        "text",
        None,
        bytearray(b"x"),
        (b"", b""),
        (offsets_of(0), b"", "0", 0),
        (offsets_of(0), "data", 0, 0),
        (None, b"", 0, 0),
    ],
)
def test_a_piece_of_another_shape_is_a_type_error_naming_it(piece: object) -> None:
    with pytest.raises(TypeError, match=r"^piece 1: "):
        pieces: list[Any] = [b"{", piece]  # not what the types allow: what a caller could pass
        sha256_rows(bytes(DIGEST_BYTES), pieces)
