"""Each row's SHA-256 held to its claimed hash (the C loop of ledger/audit/row_digests.c): a row
passes exactly when its claim is hashlib's digest of its prev hash and its pieces concatenated,
for any lengths, any number of pieces, sliced columns and no rows at all; a claim or prev hash
that is not 64 lower-case hex digits never passes. Integers, days, instants and nullable strings
are spelled as the envelope spells them (Python's own formatting is the reference), and what it
cannot spell is flagged, not guessed. Buffers that do not hold what they claim (a forged export)
are a ValueError naming the piece or column, never a read out of bounds."""

import hashlib
import itertools
import random
import struct
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.audit.row_digests import (
    PIECE_DAY,
    PIECE_INSTANT,
    PIECE_INTEGER,
    PIECE_NULLABLE_STRING,
    PIECE_STRING,
    PIECE_TEXT,
    ROW_DIFFERS,
    ROW_IMPOSSIBLE,
    ROW_NEEDS_ESCAPING,
    canonical_rows,
    proven_rows,
)

if TYPE_CHECKING:
    from ledger.audit.row_digests import ColumnBuffers, Piece

DIGEST_BYTES = 32
LARGE_VALUE_BYTES = 70_000  # over 64 KiB: many SHA-256 blocks, bigger than any buffer inside
LONG_COLUMN_ROWS = 20_000
FIRST_DAY = (date(1, 1, 1) - date(1970, 1, 1)).days
LAST_DAY = (date(9999, 12, 31) - date(1970, 1, 1)).days
MICROS_PER_DAY = 86_400_000_000
FIRST_MICRO = FIRST_DAY * MICROS_PER_DAY
LAST_MICRO = (LAST_DAY + 1) * MICROS_PER_DAY - 1


def buffers(column: pa.Array) -> "ColumnBuffers":
    """A binary or string column as the C loop takes it."""
    _, offsets, data = column.buffers()
    return (offsets or b"", data or b"", column.offset, len(column))


def hex_column(raw: bytes) -> "ColumnBuffers":
    """32-byte hashes as the export's column of lower-case hex text."""
    rows = len(raw) // DIGEST_BYTES
    texts = [raw[row * DIGEST_BYTES : (row + 1) * DIGEST_BYTES].hex() for row in range(rows)]
    return buffers(pa.array(texts, pa.string()))


def flags_of(
    prev: bytes, pieces: "list[Piece]", claimed: bytes, *, sha_extensions: bool = True
) -> list[int]:
    """Each row's flags, its prev hash and claim given as raw bytes."""
    prev_column, claimed_column = hex_column(prev), hex_column(claimed)
    return list(proven_rows(prev_column, claimed_column, pieces, sha_extensions=sha_extensions))


def held(prev: bytes, pieces: "list[bytes | ColumnBuffers]", digests: bytes) -> bool:
    """Whether the loop's digest of every row is `digests`' (text columns, never flagged): each
    row passes its own digest as its claim, and fails any other; by the SHA extensions (two rows
    at a time, where this CPU has them) and by libcrypto alike."""
    native: list[Piece] = [p if isinstance(p, bytes) else (PIECE_TEXT, p) for p in pieces]
    rows = len(prev) // DIGEST_BYTES
    other = bytes(byte ^ 1 for byte in digests)
    return all(
        flags_of(prev, native, digests, sha_extensions=extensions) == [0] * rows
        and flags_of(prev, native, other, sha_extensions=extensions) == [ROW_DIFFERS] * rows
        for extensions in (True, False)
    )


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
    assert held(prev, as_columns(pieces, starts, text), reference(prev, pieces))


def test_one_row_of_no_pieces_is_the_hash_of_its_prev_hash() -> None:
    prev = bytes(range(DIGEST_BYTES))
    assert held(prev, [], hashlib.sha256(prev).digest())


def test_no_rows_give_no_digests() -> None:
    assert held(b"", [b"{", buffers(pa.array([], pa.binary())), b"}"], b"")


@pytest.mark.parametrize("rows", [1, 2, 3, 257, 513])
def test_rows_of_every_length_across_sha_blocks_pair_up_right(rows: int) -> None:
    """Rows of 0 to 300 bytes next to each other (two messages hashed at once share their
    common blocks, the longer finishes alone), odd counts and more rows than a block of 256."""
    generator = random.Random(rows)
    values = [generator.randbytes(generator.randrange(0, 300)) for _ in range(rows)]
    prev = generator.randbytes(rows * DIGEST_BYTES)
    assert held(prev, [buffers(pa.array(values, pa.binary()))], reference(prev, [values]))


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
    assert held(prev, native, reference(prev, pieces))


def test_a_long_column_and_a_slice_deep_inside_it() -> None:
    generator = random.Random(11)
    values = [generator.randbytes(generator.randrange(0, 700)) for _ in range(LONG_COLUMN_ROWS)]
    prev = generator.randbytes(LONG_COLUMN_ROWS * DIGEST_BYTES)
    column = pa.array(values, pa.binary())
    assert held(prev, [b"a", buffers(column)], reference(prev, [b"a", values]))
    inner = prev[1_000 * DIGEST_BYTES : 10_000 * DIGEST_BYTES]
    assert held(
        inner, [buffers(column.slice(1_000, 9_000))], reference(inner, [values[1_000:10_000]])
    )


def offsets_of(*values: int) -> bytes:
    """An int32 offsets buffer."""
    return struct.pack(f"<{len(values)}i", *values)


TWO_HASHES = hex_column(bytes(2 * DIGEST_BYTES))
ONE_HASH = hex_column(bytes(DIGEST_BYTES))
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
    column, reason = MALFORMED[case]
    ok = buffers(pa.array([b"ok", b"ok"]))
    with pytest.raises(ValueError, match=f"^piece 2: .*{reason}"):
        pieces: list[Piece] = [b"{", (PIECE_TEXT, ok), (PIECE_STRING, column), b"}"]
        proven_rows(TWO_HASHES, TWO_HASHES, pieces)


# The rows are the prev_hash column's: a count of values is held against it, not against two.
COUNTED = ("fewer values than rows", "more values than rows")


@pytest.mark.parametrize("column", ["prev_hash", "hash"])
@pytest.mark.parametrize("case", sorted(set(MALFORMED) - set(COUNTED)))
def test_malformed_hash_columns_are_a_value_error_naming_them(case: str, column: str) -> None:
    forged, reason = MALFORMED[case]
    prev, claimed = (forged, TWO_HASHES) if column == "prev_hash" else (TWO_HASHES, forged)
    with pytest.raises(ValueError, match=f"^{column}: .*{reason}"):
        proven_rows(prev, claimed, [])


def test_a_hash_column_of_another_length_than_prev_hash_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"^hash: 1 values from offset 0, expected 2"):
        proven_rows(TWO_HASHES, ONE_HASH, [])


GOOD = hashlib.sha256(bytes(DIGEST_BYTES)).hexdigest()
NOT_A_HASH = {
    "upper case": GOOD.upper(),
    "63 digits": GOOD[:-1],
    "65 digits": GOOD + "0",
    "not hex": "g" + GOOD[1:],
    "empty": "",
    "null": None,
}


@pytest.mark.parametrize("case", sorted(NOT_A_HASH))
def test_a_claimed_hash_or_prev_hash_that_is_not_64_lower_case_hex_digits_differs(
    case: str,
) -> None:
    """The chain spells hashes in lower-case hex: anything else never passes, whatever it
    would decode to."""
    text = NOT_A_HASH[case]
    good_prev, good_claim = buffers(pa.array(["0" * 64])), buffers(pa.array([GOOD]))
    forged = buffers(pa.array([text], pa.string()))
    assert list(proven_rows(good_prev, good_claim, [])) == [0]
    assert list(proven_rows(good_prev, forged, [])) == [ROW_DIFFERS]
    assert list(proven_rows(forged, good_claim, [])) == [ROW_DIFFERS]


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
        (PIECE_TEXT, "text"),
        (PIECE_TEXT, (offsets_of(0, 0), b"", 0, 1), b""),
        (PIECE_NULLABLE_STRING, (offsets_of(0, 0), b"", 0, 1)),
        (PIECE_INTEGER, b"", "0"),
        (PIECE_DAY, None, 0),
        (99, b"", 0),
        (-1, b"", 0),
    ],
)
def test_a_piece_of_another_shape_is_a_type_error_naming_it(piece: object) -> None:
    with pytest.raises(TypeError, match=r"^piece 1: "):
        pieces: list[Any] = [b"{", piece]  # not what the types allow: what a caller could pass
        proven_rows(ONE_HASH, ONE_HASH, pieces)


def spelled(pieces: "list[Piece]", rows: int) -> tuple[list[bytes], list[int]]:
    """Each row's pieces joined by the C loop, and its flags."""
    offsets, text, flags = canonical_rows(rows, pieces)
    ends = struct.unpack(f"<{rows + 1}q", offsets)
    return [text[start:end] for start, end in itertools.pairwise(ends)], list(flags)


def values_piece(kind: int, column: pa.Array) -> "Piece":
    """A fixed-width column as the loop takes it: its values buffer and the array's offset."""
    return (kind, column.buffers()[1], column.offset)


def sliced(values: list[Any], arrow_type: pa.DataType, start: int) -> pa.Array:
    """The values as an array `start` rows into a longer one (a non-zero array offset)."""
    filler = values[:1] * start if values else []
    return pa.array(filler + values + values[:1], arrow_type).slice(start, len(values))


@settings(max_examples=100, deadline=None)
@given(
    numbers=st.lists(st.integers(-(2**63), 2**63 - 1), max_size=30),
    start=st.integers(0, 3),
)
def test_integers_are_spelled_in_decimal_as_python_spells_them(
    numbers: list[int], start: int
) -> None:
    column = sliced([*numbers, -(2**63), 2**63 - 1, 0, -1], pa.int64(), start)
    texts, flags = spelled([values_piece(PIECE_INTEGER, column)], len(column))
    assert texts == [str(n).encode() for n in column.to_pylist()]
    assert flags == [0] * len(column)


@settings(max_examples=100, deadline=None)
@given(days=st.lists(st.dates(), max_size=30), start=st.integers(0, 3))
def test_days_of_years_1_to_9999_are_spelled_as_isoformat(days: list[date], start: int) -> None:
    """Leap days, centuries and years before 1000 (zero-padded, as date.isoformat pads)."""
    every = [*days, date(1, 1, 1), date(9999, 12, 31), date(2000, 2, 29), date(1900, 3, 1)]
    column = sliced(every, pa.date32(), start)
    texts, flags = spelled([values_piece(PIECE_DAY, column)], len(column))
    assert texts == [d.isoformat().encode() for d in column.to_pylist()]
    assert flags == [0] * len(column)


@settings(max_examples=100, deadline=None)
@given(micros=st.lists(st.integers(FIRST_MICRO, LAST_MICRO), max_size=30), start=st.integers(0, 3))
def test_instants_of_years_1_to_9999_are_spelled_as_the_envelope_spells_them(
    micros: list[int], start: int
) -> None:
    """Microseconds, before 1970 (floor, not truncation) and years before 1000."""
    every = [*micros, FIRST_MICRO, LAST_MICRO, -1, 0, 951782400000001]
    column = sliced(every, pa.int64(), start)
    texts, flags = spelled([values_piece(PIECE_INSTANT, column)], len(column))
    expected = np.datetime_as_string(np.array(column.to_pylist(), "datetime64[us]"), unit="us")
    assert texts == [text.encode() for text in expected.tolist()]
    assert flags == [0] * len(column)


OUTSIDE_DAYS = [FIRST_DAY - 1, LAST_DAY + 1, -(2**31), 2**31 - 1]


def test_a_day_or_instant_outside_years_1_to_9999_is_flagged_impossible_not_spelled() -> None:
    """No envelope holds one (Python's dates end there): the row fails, never wraps into a
    year that would spell like another row's."""
    days = pa.array([*OUTSIDE_DAYS, 0], pa.int32())
    _, flags = spelled([values_piece(PIECE_DAY, days)], len(days))
    assert flags == [ROW_IMPOSSIBLE] * len(OUTSIDE_DAYS) + [0]
    micros = pa.array([FIRST_MICRO - 1, LAST_MICRO + 1, -(2**63), 2**63 - 1, 0], pa.int64())
    _, flags = spelled([values_piece(PIECE_INSTANT, micros)], len(micros))
    assert flags == [ROW_IMPOSSIBLE] * 4 + [0]


ESCAPED = ['"', "\\", "\n", "\x00", "\x1f", 'say "hi"']
PLAIN = ["", "a", "å€😀", "\x7f", "{}:,'"]


@pytest.mark.parametrize("start", [0, 1, 9])
def test_nullable_strings_are_null_or_quoted_and_json_escapes_are_flagged(start: int) -> None:
    strings = [None, *PLAIN, None, *ESCAPED]
    column = sliced(strings, pa.string(), start)
    validity = column.buffers()[0]
    texts, flags = spelled([(PIECE_NULLABLE_STRING, buffers(column), validity or b"")], len(column))
    assert texts == [b"null" if s is None else f'"{s}"'.encode() for s in strings]
    assert flags == [0] * (len(PLAIN) + 2) + [ROW_NEEDS_ESCAPING] * len(ESCAPED)


def test_strings_are_verbatim_and_flagged_where_json_escapes() -> None:
    column = pa.array(PLAIN + ESCAPED, pa.string())
    texts, flags = spelled([(PIECE_STRING, buffers(column))], len(column))
    assert texts == [s.encode() for s in PLAIN + ESCAPED]
    assert flags == [0] * len(PLAIN) + [ROW_NEEDS_ESCAPING] * len(ESCAPED)
    texts, flags = spelled([(PIECE_TEXT, buffers(column))], len(column))
    assert flags == [0] * len(column), "text (JSON already) is never flagged"


def test_the_digest_is_of_the_spelled_row() -> None:
    """proven_rows hashes exactly what canonical_rows joins, behind the prev hash."""
    numbers = pa.array([7, -12], pa.int64())
    notes = pa.array(["x", None], pa.string())
    pieces: list[Piece] = [
        b"{",
        values_piece(PIECE_INTEGER, numbers),
        b",",
        (PIECE_NULLABLE_STRING, buffers(notes), notes.buffers()[0] or b""),
        b"}",
    ]
    prev = bytes(range(2 * DIGEST_BYTES))
    assert flags_of(prev, pieces, reference(prev, [[b'{7,"x"}', b"{-12,null}"]])) == [0, 0]


FORGED_VALUES = {
    "values too short": ((PIECE_INTEGER, bytes(15), 0), "too few for 2 rows"),
    "offset past the values": ((PIECE_INSTANT, bytes(16), 1), "too few for 2 rows"),
    "negative offset": ((PIECE_DAY, bytes(8), -1), "from offset -1"),
    "days of 4 bytes, 7 given": ((PIECE_DAY, bytes(7), 0), "too few for 2 rows"),
}


@pytest.mark.parametrize("case", sorted(FORGED_VALUES))
def test_forged_values_buffers_are_a_value_error_naming_the_piece(case: str) -> None:
    piece, reason = FORGED_VALUES[case]
    with pytest.raises(ValueError, match=f"^piece 1: .*{reason}"):
        proven_rows(TWO_HASHES, TWO_HASHES, [b"{", piece, b"}"])


def test_a_validity_bitmap_shorter_than_its_rows_is_a_value_error() -> None:
    column = pa.array(["a", None] * 9, pa.string()).slice(2, 16)  # needs bits 2..17: 3 bytes
    piece: Piece = (PIECE_NULLABLE_STRING, buffers(column), b"\xff\xff")
    sixteen = hex_column(bytes(16 * DIGEST_BYTES))
    with pytest.raises(ValueError, match=r"^piece 0: its validity bitmap is too short"):
        proven_rows(sixteen, sixteen, [piece])


def dictionary_piece(kind: int, column: pa.Array) -> "Piece":
    """A dictionary array of strings as the loop takes it: its values, and each row's index."""
    indices = column.indices
    validity = (indices.buffers()[0] or b"") if column.null_count else b""
    values, index_buffer = buffers(column.dictionary), indices.buffers()[1]
    if kind == PIECE_NULLABLE_STRING:
        return (kind, values, validity, index_buffer, indices.offset)
    return (kind, values, index_buffer, indices.offset)


@pytest.mark.parametrize("start", [0, 3])
@pytest.mark.parametrize("kind", ["string", "nullable"])
def test_a_dictionary_array_spells_as_its_strings_do(start: int, kind: str) -> None:
    """Parquet's repeating columns read as dictionaries: each row is its value's text, nulls
    `null`, escapes flagged, slices honoured."""
    values = [*PLAIN, *ESCAPED] * 3 + ([None, "a", None] if kind == "nullable" else [])
    plain = sliced(values, pa.string(), start)
    encoded = pc.dictionary_encode(plain)
    if kind == "nullable":
        expected = spelled(
            [(PIECE_NULLABLE_STRING, buffers(plain), plain.buffers()[0] or b"")], len(plain)
        )
        got = spelled([dictionary_piece(PIECE_NULLABLE_STRING, encoded)], len(plain))
    else:
        expected = spelled([(PIECE_STRING, buffers(plain))], len(plain))
        got = spelled([dictionary_piece(PIECE_STRING, encoded)], len(plain))
    assert got == expected


def test_a_null_rows_index_is_never_read() -> None:
    """Arrow leaves a null's index undefined: a wild one there is not an error."""
    indices = pa.array([0, 7_000, 1], pa.int32())
    validity = bytes([0b101])
    values = buffers(pa.array(["x", "y"], pa.string()))
    piece: Piece = (PIECE_NULLABLE_STRING, values, validity, indices.buffers()[1], 0)
    assert spelled([piece], 3) == ([b'"x"', b"null", b'"y"'], [0, 0, 0])


FORGED_INDICES = {
    "an index past the dictionary": ([0, 2], 0, "row 1 names value 2 of a dictionary of 2"),
    "a negative index": ([-1, 0], 0, "row 0 names value -1"),
    "too few indices": ([0], 0, "its indices hold too few for 2 rows"),
    "an offset past the indices": ([0, 1], 1, "its indices hold too few for 2 rows from 1"),
}


@pytest.mark.parametrize("case", sorted(FORGED_INDICES))
def test_forged_dictionary_indices_are_a_value_error_naming_the_piece(case: str) -> None:
    indices, offset, reason = FORGED_INDICES[case]
    values = buffers(pa.array(["x", "y"], pa.string()))
    piece: Piece = (PIECE_STRING, values, struct.pack(f"<{len(indices)}i", *indices), offset)
    with pytest.raises(ValueError, match=f"^piece 1: {reason}"):
        proven_rows(TWO_HASHES, TWO_HASHES, [b"{", piece, b"}"])
