"""Proving a batch of the export's event table link by link: what the offline replay trusts.

Each event's canonical bytes are rebuilt from its columns (keys in sorted order, strings
JSON-quoted, `data` verbatim) and hashed with its prev_hash; positions must run on by one and
each prev_hash must be the hash before. A batch reports its first failure (the lowest row); the
caller stitches batches together.

The canonical bytes are declared once, here, as pieces (`_canonical_pieces`: literal bytes, and
each column as the kind of value it is: text as it stands, a string to quote, an integer, a day,
an instant); a C loop (ledger/audit/row_digests.c) spells, joins and hashes each row behind its
prev_hash's 32 raw bytes from the Arrow buffers, with no Python object an event. The rare row it
cannot spell (a string JSON must escape) takes Python's own encoder. Comparisons run over whole
buffers and look for the row only when something differs.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa

from ledger.audit.event_table import EVENT_SCHEMA, column_buffers, column_bytes
from ledger.audit.row_digests import (
    DIGEST_BYTES,
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
from ledger.domain.recorded import format_utc
from schemas.chain import CHAIN_FIELDS, canonical_bytes

if TYPE_CHECKING:
    from ledger.audit.row_digests import Piece

HASH_BYTES: Final = DIGEST_BYTES
HASH_HEX_CHARS: Final = 2 * HASH_BYTES
CANONICAL_KEYS: Final = tuple(sorted(n for n in EVENT_SCHEMA.names if n not in CHAIN_FIELDS))
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class BatchCheck:
    """What one batch proved: its ends, the hashes asked for, its first failure."""

    first_position: int
    first_prev_hash: str
    last_position: int
    last_hash: str
    hashes_at: dict[int, str]
    failure: tuple[int, str] | None


def canonical_texts(batch: pa.RecordBatch) -> list[bytes]:
    """Each event's canonical bytes (the chain's input), as the proof hashes them."""
    offsets, text, flags = canonical_rows(batch.num_rows, _canonical_pieces(batch))
    ends = np.frombuffer(offsets, np.int64).tolist()
    texts = [text[start:end] for start, end in itertools.pairwise(ends)]
    for row in np.flatnonzero(np.frombuffer(flags, np.uint8) & ROW_NEEDS_ESCAPING).tolist():
        texts[row] = canonical_bytes(_row_envelope(batch, row))
    return texts


def _canonical_pieces(batch: pa.RecordBatch) -> list[Piece]:
    """Each row's canonical bytes as pieces for the C loop: literal bytes between columns (the
    quotes of string members included) and each column as the kind of piece it is spelled by."""
    pieces: list[Piece] = []
    literal = ""
    for number, name in enumerate(CANONICAL_KEYS):
        literal += ("{" if number == 0 else ",") + f'"{name}":'
        column = batch.column(name)
        field = EVENT_SCHEMA.field(name)
        closing = ""
        if name == "recorded_at":
            literal, piece, closing = literal + '"', _values(PIECE_INSTANT, column), 'Z"'
        elif name == "effective_date":
            literal, piece, closing = literal + '"', _values(PIECE_DAY, column), '"'
        elif pa.types.is_integer(field.type):
            piece = _values(PIECE_INTEGER, column)
        elif name == "data":
            piece = (PIECE_TEXT, column_buffers(column))
        elif field.nullable:
            piece = _string_piece(PIECE_NULLABLE_STRING, column)
        else:
            literal, piece, closing = literal + '"', _string_piece(PIECE_STRING, column), '"'
        pieces += [literal.encode(), piece]
        literal = closing
    pieces.append((literal + "}").encode())
    return pieces


def _string_piece(kind: int, column: pa.Array) -> Piece:
    """A string column as a piece; a dictionary array (as Parquet's repeating columns are read)
    as its values and each row's index, never decoded to a string a row."""
    dictionary = pa.types.is_dictionary(column.type)
    rows = column.indices if dictionary else column
    validity = (rows.buffers()[0] or b"") if column.null_count else b""
    values = column_buffers(column.dictionary if dictionary else column)
    if not dictionary:
        return (kind, values, validity) if kind == PIECE_NULLABLE_STRING else (kind, values)
    assert rows.type == pa.int32(), f"dictionary indices of {rows.type}, not int32"
    indices = (rows.buffers()[1] or b"", rows.offset)
    if kind == PIECE_NULLABLE_STRING:
        return (kind, values, validity, *indices)
    return (kind, values, *indices)


def _values(kind: int, column: pa.Array) -> Piece:
    """A fixed-width column as its values buffer (nulls hold anything: the row is missing)."""
    values = column.buffers()[1]
    return (kind, values if values is not None else b"", column.offset)


def _missing(batch: pa.RecordBatch) -> npt.NDArray[np.bool_]:
    """Rows without a value a canonical member must have (a forged CSV cell, a JSON line):
    they have no canonical bytes and fail at their own position like any altered row."""
    missing = np.zeros(batch.num_rows, dtype=np.bool_)
    for name in CANONICAL_KEYS:
        column = batch.column(name)
        if column.null_count and not EVENT_SCHEMA.field(name).nullable:
            missing |= np.asarray(column.is_null())
    return missing


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
    bad_hash = _first_bad_hash(batch)
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


def _first_bad_hash(batch: pa.RecordBatch) -> int:
    """The first row that does not hash to its hash, or misses a value it must have (`rows`
    when none)."""
    bad = _missing(batch)
    prev, claimed = batch.column("prev_hash"), batch.column("hash")
    flags = np.frombuffer(
        proven_rows(column_buffers(prev), column_buffers(claimed), _canonical_pieces(batch)),
        np.uint8,
    )
    bad |= (flags & ROW_IMPOSSIBLE) != 0
    escaped = ((flags & ROW_NEEDS_ESCAPING) != 0) & ~bad
    bad |= ((flags & ROW_DIFFERS) != 0) & ~escaped
    for row in np.flatnonzero(escaped).tolist():
        bad[row] = not _hashes_exactly(batch, row, prev[row].as_py(), claimed[row].as_py())
    return int(np.argmax(bad)) if bad.any() else len(bad)


def _hashes_exactly(batch: pa.RecordBatch, row: int, prev: str, claimed: str) -> bool:
    """Whether the row, its canonical bytes made by Python's encoder, hashes to its claim."""
    try:
        prev_bytes = bytes.fromhex(prev)
    except ValueError:
        return False
    row_bytes = prev_bytes + canonical_bytes(_row_envelope(batch, row))
    return len(prev_bytes) == HASH_BYTES and hashlib.sha256(row_bytes).hexdigest() == claimed


def _hash_wide(column: pa.Array) -> bool:
    """Whether every value holds a hash's width of text (then rows compare as fixed slices)."""
    _, offsets = column_bytes(column)
    return not column.null_count and bool((np.diff(offsets) == HASH_HEX_CHARS).all())


def _first_bad_link(prev_hashes: pa.Array, hashes: pa.Array) -> int:
    """The first row whose prev_hash (as text) is not the row before's hash (`rows`: none)."""
    rows = len(hashes)
    if rows < 2:
        return rows
    if _hash_wide(prev_hashes) and _hash_wide(hashes):
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


def _row_envelope(batch: pa.RecordBatch, row: int) -> dict[str, Any]:
    """One row as the envelope (for the rare string that JSON must escape)."""
    values = {name: batch.column(name)[row].as_py() for name in CANONICAL_KEYS}
    values["recorded_at"] = format_utc(values["recorded_at"])
    values["effective_date"] = values["effective_date"].isoformat()
    # `data` as it stands in the export, not parsed and spelled again: text that parses to the
    # same JSON (a member twice, the first one forged) must not hash as the original.
    values["data"] = orjson.Fragment(values["data"])
    return values
