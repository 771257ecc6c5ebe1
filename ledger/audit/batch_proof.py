"""Proving a batch of the export's event table link by link: what the offline replay trusts.

Each event's canonical bytes are rebuilt from its columns (vectorised; keys in sorted order,
strings JSON-quoted, `data` verbatim) and hashed with its prev_hash; positions must run on by
one and each prev_hash must be the hash before. A batch reports its first failure (the lowest
row); the caller stitches batches together.

The work is column-wise but for the one step that cannot be: SHA-256 per event. The canonical
bytes are declared once, as pieces (literal bytes and Arrow columns, `_canonical_pieces`); the
hot path hands their buffers to a C loop (ledger/audit/row_digests.c) that joins and hashes each
row behind its prev_hash's 32 raw bytes with no Python object an event. Comparisons run over
whole buffers and look for the row only when something differs.
"""

from __future__ import annotations

import binascii
import hashlib
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ledger.audit.event_table import EVENT_SCHEMA, column_buffers, column_bytes
from ledger.audit.row_digests import sha256_rows
from ledger.domain.recorded import format_utc
from schemas.chain import CHAIN_FIELDS, canonical_bytes

HASH_BYTES: Final = 32
HASH_HEX_CHARS: Final = 2 * HASH_BYTES
# orjson escapes these inside strings; any other character stands as it is (UTF-8, where no
# byte of a multi-byte character is below 0x80).
NEEDS_ESCAPE_BYTES: Final = (ord('"'), ord("\\"))
FIRST_PRINTABLE_BYTE: Final = 0x20
CANONICAL_KEYS: Final = tuple(sorted(n for n in EVENT_SCHEMA.names if n not in CHAIN_FIELDS))
INSTANT_TEXT_TEMPLATE: Final = b"0000-00-00T00:00:00.000000"
FOUR_DIGIT_YEARS: Final = (1_000, 9_999)
MICROS_PER_DAY: Final = 86_400_000_000
DAYS_PER_ERA: Final = 146_097  # 400 Gregorian years
DAYS_0000_03_01_TO_EPOCH: Final = 719_468
I64 = npt.NDArray[np.int64]
TWO_DIGITS: Final = np.frombuffer(
    "".join(f"{number:02d}" for number in range(100)).encode(), dtype=np.uint8
).reshape(100, 2)
THREE_DIGITS: Final = np.frombuffer(
    "".join(f"{number:03d}" for number in range(1_000)).encode(), dtype=np.uint8
).reshape(1_000, 3)
SECONDS_PER_DAY: Final = 86_400


def _clock_texts() -> npt.NDArray[np.uint8]:
    """`HH:MM:SS` of every second of a day, a row each (691 KB)."""
    hour, minute_second = np.divmod(np.arange(SECONDS_PER_DAY), 3_600)
    minute, second = np.divmod(minute_second, 60)
    texts = np.full((SECONDS_PER_DAY, 8), ord(":"), dtype=np.uint8)
    for start, value in ((0, hour), (3, minute), (6, second)):
        texts[:, start : start + 2] = TWO_DIGITS[value]
    return texts


CLOCK_TEXTS: Final = _clock_texts()
DATE_CHARS: Final = len("YYYY-MM-DD")
assert INSTANT_TEXT_TEMPLATE[DATE_CHARS:] == b"T00:00:00.000000"
LOWER_HEX_DIGITS: Final = b"0123456789abcdef"


@dataclass(frozen=True, slots=True)
class BatchCheck:
    """What one batch proved: its ends, the hashes asked for, its first failure."""

    first_position: int
    first_prev_hash: str
    last_position: int
    last_hash: str
    hashes_at: dict[int, str]
    failure: tuple[int, str] | None


def _quoted(column: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise('"', column, '"', "")


def _instant_texts(column: pa.Array) -> pa.Array:
    """UTC timestamps as the envelope spells them, without the `Z`: `YYYY-MM-DDTHH:MM:SS.ffffff`.

    Each row's text is gathered from tables, not formatted (numpy's own formatting costs half a
    microsecond an event): its date from the batch's distinct days (a batch spans few), its
    `HH:MM:SS` from a table of the day's seconds, its microseconds from one of three digits.
    Years outside 1000..9999 (never recorded, but an export may be forged) take numpy's
    formatting, which pads them as before.
    """
    micros = np.asarray(column.cast(pa.int64()), dtype=np.int64)
    days, micro_of_day = np.divmod(micros, MICROS_PER_DAY)
    distinct_days, day_of_row = np.unique(days, return_inverse=True)
    year, month, day = _civil_dates(distinct_days)
    if not ((year >= FOUR_DIGIT_YEARS[0]).all() and (year <= FOUR_DIGIT_YEARS[1]).all()):
        as_text = np.datetime_as_string(micros.astype("datetime64[us]"), unit="us")
        return pa.array(as_text, type=pa.string())
    dates = np.empty((len(distinct_days), DATE_CHARS), dtype=np.uint8)
    dates[:] = np.frombuffer(INSTANT_TEXT_TEMPLATE[:DATE_CHARS], dtype=np.uint8)
    for start, value in ((0, year // 100), (2, year % 100), (5, month), (8, day)):
        dates[:, start : start + 2] = TWO_DIGITS[value]
    second_of_day, micro = np.divmod(micro_of_day, 1_000_000)
    milli, micro_of_milli = np.divmod(micro, 1_000)
    text = np.empty((len(micros), len(INSTANT_TEXT_TEMPLATE)), dtype=np.uint8)
    text[:, :DATE_CHARS] = dates[day_of_row]
    text[:, DATE_CHARS] = ord("T")
    text[:, DATE_CHARS + 1 : DATE_CHARS + 9] = CLOCK_TEXTS[second_of_day]
    text[:, DATE_CHARS + 9] = ord(".")
    text[:, DATE_CHARS + 10 : DATE_CHARS + 13] = THREE_DIGITS[milli]
    text[:, DATE_CHARS + 13 :] = THREE_DIGITS[micro_of_milli]
    width = len(INSTANT_TEXT_TEMPLATE)
    offsets = np.arange(0, (len(micros) + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(
        len(micros), pa.py_buffer(offsets), pa.py_buffer(text.tobytes())
    )


def _civil_dates(days: I64) -> tuple[I64, I64, I64]:
    """(year, month, day) of days since 1970-01-01, proleptic Gregorian (H. Hinnant's
    days_from_civil inverse, whole-array)."""
    shifted = days + DAYS_0000_03_01_TO_EPOCH
    era = np.floor_divide(shifted, DAYS_PER_ERA)
    day_of_era = shifted - era * DAYS_PER_ERA
    year_of_era = (
        day_of_era - day_of_era // 1_460 + day_of_era // 36_524 - day_of_era // 146_096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_from_march = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_from_march + 2) // 5 + 1
    month = np.where(month_from_march < 10, month_from_march + 3, month_from_march - 9)
    year = year_of_era + era * 400 + (month <= 2)
    return year, month, day


def canonical_texts(batch: pa.RecordBatch) -> pa.Array:
    """Each event's canonical bytes (the chain's input), as one string array."""
    return pc.binary_join_element_wise(*_canonical_pieces(batch), b"").cast(pa.string())


def _canonical_pieces(batch: pa.RecordBatch) -> list[bytes | pa.Array]:
    """Each row's canonical bytes as pieces to join: literal bytes and binary columns.

    Literal text between columns is merged into one piece (the quotes of string members
    included), so a row is one join over the columns (binary: a string column is the same
    buffers, cast for free).
    """
    pieces: list[bytes | pa.Array] = []
    literal = ""
    for number, name in enumerate(CANONICAL_KEYS):
        literal += ("{" if number == 0 else ",") + f'"{name}":'
        column = batch.column(name)
        field = EVENT_SCHEMA.field(name)
        if name == "recorded_at":
            literal, value, closing = literal + '"', _instant_texts(column), 'Z"'
        elif name == "effective_date":
            literal, value, closing = literal + '"', pc.cast(column, pa.string()), '"'
        elif pa.types.is_integer(field.type):
            value, closing = pc.cast(column, pa.string()), ""
        elif name == "data":
            value, closing = column, ""
        elif field.nullable:
            value, closing = pc.if_else(pc.is_null(column), "null", _quoted(column)), ""
        else:
            literal, value, closing = literal + '"', column, '"'
        pieces += [literal.encode(), value.cast(pa.binary())]
        literal = closing
    pieces.append((literal + "}").encode())
    return pieces


def _needs_escape(batch: pa.RecordBatch) -> npt.NDArray[np.bool_]:
    """Rows with a string member JSON must escape (a quote, a backslash, a control
    character): their canonical bytes are not the plain join of the columns."""
    flags = np.zeros(batch.num_rows, dtype=np.bool_)
    for name in CANONICAL_KEYS:
        field = EVENT_SCHEMA.field(name)
        if not pa.types.is_string(field.type) or name == "data" or not batch.num_rows:
            continue
        data, offsets = column_bytes(batch.column(name))
        used = data[offsets[0] : offsets[-1]]
        special = (
            (used < FIRST_PRINTABLE_BYTE)
            | (used == NEEDS_ESCAPE_BYTES[0])
            | (used == NEEDS_ESCAPE_BYTES[1])
        )
        if special.any():
            # A null's slot may hold bytes too: flagging it only sends it the slow, exact way.
            at = np.flatnonzero(special) + offsets[0]
            flags[np.searchsorted(offsets, at, side="right") - 1] = True
    return flags


def _hex_rows(column: pa.Array) -> bytes:
    """A column of 64-character hex hashes as their raw bytes, 32 a row (b"" if some value
    is not hex: every row then fails its own comparison)."""
    text = _lower_hex_text(column)
    if text is not None:
        return binascii.unhexlify(text)
    # Anything but lower-case hashes of the right length: Python's own reading, as ever.
    try:
        return bytes.fromhex("".join(column.to_pylist()))
    except (TypeError, ValueError):
        return b""


def _lower_hex_text(column: pa.Array) -> bytes | None:
    """The column's text when every value is 64 lower-case hex digits (raw bytes and text
    then compare alike), else None."""
    if column.null_count or not len(column):
        return None
    data, offsets = column_bytes(column)
    if not (np.diff(offsets) == HASH_HEX_CHARS).all():
        return None
    text = data[offsets[0] : offsets[-1]].tobytes()
    return None if text.translate(None, LOWER_HEX_DIGITS) else text


def check_batch(batch: pa.RecordBatch, wanted: set[int]) -> BatchCheck:
    """Prove one batch: positions run on by one, each event hashes to its hash, each prev_hash
    is the hash before; the hashes at `wanted` positions are returned."""
    positions = np.asarray(batch.column("position"), dtype=np.int64)
    hashes, prev_hashes = batch.column("hash"), batch.column("prev_hash")
    failure = _first_failure(batch, positions)
    rows = np.flatnonzero(np.isin(positions, sorted(wanted))).tolist() if wanted else []
    hashes_at = {int(positions[row]): hashes[row].as_py() for row in rows}
    return BatchCheck(
        int(positions[0]),
        prev_hashes[0].as_py(),
        int(positions[-1]),
        hashes[-1].as_py(),
        hashes_at,
        failure,
    )


def _first_failure(batch: pa.RecordBatch, positions: I64) -> tuple[int, str] | None:
    first = int(positions[0])
    steps = np.flatnonzero(np.diff(positions) != 1)
    order_at = int(steps[0]) + 1 if len(steps) else len(positions)
    rows = len(positions)
    computed, missing = _hashes(batch)
    bad_hash = _first_bad_hash(computed, _hex_rows(batch.column("hash")), missing)
    bad_link = _first_bad_link(batch.column("prev_hash"), batch.column("hash"))
    row = min(order_at, bad_hash, bad_link)
    if row == rows:
        return None
    if row == order_at:
        found, expected = int(positions[row]), int(positions[row - 1]) + 1
        what = (
            "appears twice (a duplicated event)"
            if found < expected and found in positions[:row]
            else f"holds position {found}: events removed or reordered"
        )
        return expected, f"expected position {expected}, the record {what}"
    position = first + row
    if row == bad_hash:
        return position, "its content does not hash to its hash: the event was altered"
    return position, f"its prev_hash is not the hash of position {position - 1}"


def _first_bad_hash(computed: bytes, claimed: bytes, missing: npt.NDArray[np.bool_]) -> int:
    """The first row whose computed hash is not its claimed one, or that misses a value it
    must have (`rows` when none)."""
    rows = len(missing)
    first_missing = int(np.argmax(missing)) if missing.any() else rows
    if computed == claimed:
        return first_missing
    if len(computed) == len(claimed) == HASH_BYTES * rows:
        differs = np.frombuffer(computed, np.uint8).reshape(rows, HASH_BYTES) != np.frombuffer(
            claimed, np.uint8
        ).reshape(rows, HASH_BYTES)
        return min(first_missing, int(np.argmax(differs.any(axis=1))))
    first_different = next(
        (
            i
            for i in range(rows)
            if computed[i * HASH_BYTES : (i + 1) * HASH_BYTES]
            != claimed[i * HASH_BYTES : (i + 1) * HASH_BYTES]
        ),
        rows,
    )
    return min(first_missing, first_different)


def _first_bad_link(prev_hashes: pa.Array, hashes: pa.Array) -> int:
    """The first row whose prev_hash (as text) is not the row before's hash (`rows`: none)."""
    rows = len(hashes)
    if rows < 2:
        return rows
    if _lower_hex_text(prev_hashes) is not None and _lower_hex_text(hashes) is not None:
        prev_data, prev_offsets = column_bytes(prev_hashes)
        data, offsets = column_bytes(hashes)
        following = prev_data[prev_offsets[1] : prev_offsets[-1]]
        preceding = data[offsets[0] : offsets[-2]]
        if np.array_equal(following, preceding):
            return rows
        differs = following.reshape(rows - 1, HASH_HEX_CHARS) != preceding.reshape(
            rows - 1, HASH_HEX_CHARS
        )
        return 1 + int(np.argmax(differs.any(axis=1)))
    prev, claimed = prev_hashes.to_pylist(), hashes.to_pylist()
    return next((i for i in range(1, rows) if prev[i] != claimed[i - 1]), rows)


def _hashes(batch: pa.RecordBatch) -> tuple[bytes, npt.NDArray[np.bool_]]:
    """SHA-256(prev_hash || canonical bytes) of every row, 32 bytes each (b"" when some
    prev_hash is not a hash), and the rows missing a value they must have."""
    rows = batch.num_rows
    missing = np.zeros(rows, dtype=np.bool_)
    prev = _hex_rows(batch.column("prev_hash"))
    if len(prev) != HASH_BYTES * rows:
        return b"", missing
    pieces = _canonical_pieces(batch)
    for piece in pieces:
        # A row missing a value (a forged CSV or JSON line) has no canonical bytes: whatever
        # was hashed there, it fails at its own position like any altered row.
        if isinstance(piece, pa.Array) and piece.null_count:
            missing |= np.asarray(piece.is_null())
    digests = sha256_rows(
        prev, [column_buffers(p) if isinstance(p, pa.Array) else p for p in pieces]
    )
    escaped = np.flatnonzero(_needs_escape(batch) & ~missing).tolist()
    if not escaped:
        return digests, missing
    exact = bytearray(digests)
    for row in escaped:
        start = row * HASH_BYTES
        row_bytes = prev[start : start + HASH_BYTES] + canonical_bytes(_row_envelope(batch, row))
        exact[start : start + HASH_BYTES] = hashlib.sha256(row_bytes).digest()
    return bytes(exact), missing


def _row_envelope(batch: pa.RecordBatch, row: int) -> dict[str, Any]:
    """One row as the envelope (for the rare string that JSON must escape)."""
    values = {name: batch.column(name)[row].as_py() for name in CANONICAL_KEYS}
    values["recorded_at"] = format_utc(values["recorded_at"])
    values["effective_date"] = values["effective_date"].isoformat()
    values["data"] = orjson.loads(values["data"])
    return values
