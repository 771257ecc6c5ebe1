"""Reading an export back, proving it link by link: what the offline replay trusts.

Every format is read into batches of EVENT_SCHEMA. Each event's canonical bytes are rebuilt
from its columns (vectorised; keys in sorted order, strings JSON-quoted, `data` verbatim) and
hashed with its prev_hash; positions must run on by one and each prev_hash must be the hash
before. A batch reports its first failure; the caller stitches batches and checks the ends
(genesis, the manifest, the checkpoints). Nothing here needs a store, a broker or a network.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ledger.audit.event_table import (
    CHECKPOINT_SCHEMA,
    EVENT_SCHEMA,
    checkpoint_batch,
    event_batch,
)
from ledger.audit.export import EXTENSIONS, FORMATS, MANIFEST_FILE, file_sha256
from ledger.domain.errors import LedgerError
from schemas.chain import CHAIN_FIELDS, canonical_bytes

READ_BATCH_EVENTS: Final = 65_536
HASH_BYTES: Final = 32
# orjson escapes these inside strings; any other character stands as it is (UTF-8).
NEEDS_ESCAPE: Final = r'["\\\x00-\x1f]'
CANONICAL_KEYS: Final = tuple(sorted(n for n in EVENT_SCHEMA.names if n not in CHAIN_FIELDS))
MANIFEST_KEYS: Final = ("format", "first_position", "last_position", "events", "files")


class ExportTampered(LedgerError):
    """The export does not prove itself: names the first bad position (or file) and what."""


@dataclass(frozen=True, slots=True)
class BatchCheck:
    """What one batch proved: its ends, the hashes asked for, its first failure."""

    first_position: int
    first_prev_hash: str
    last_position: int
    last_hash: str
    hashes_at: dict[int, str]
    failure: tuple[int, str] | None


def load_manifest(directory: Path) -> dict[str, Any]:
    """manifest.json, with the keys the replay needs."""
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise LedgerError("DIR", str(directory), f"has no {MANIFEST_FILE}: not an export")
    try:
        manifest = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ExportTampered(MANIFEST_FILE, str(path), f"is not JSON ({exc})") from None
    missing = [
        key for key in MANIFEST_KEYS if not isinstance(manifest, dict) or key not in manifest
    ]
    if missing or manifest["format"] not in FORMATS:
        raise ExportTampered(MANIFEST_FILE, str(path), f"lacks or spoils {missing or ['format']}")
    return dict(manifest)


def file_problems(directory: Path, manifest: dict[str, Any]) -> list[str]:
    """Each listed file whose SHA-256 differs from the manifest's (or that is missing)."""
    problems = []
    extension = EXTENSIONS[manifest["format"]]
    expected = {f"events.{extension}", f"checkpoints.{extension}"}
    if set(manifest["files"]) != expected:
        problems.append(
            f"the manifest lists {sorted(manifest['files'])}, expected {sorted(expected)}"
        )
    for name, described in manifest["files"].items():
        path = directory / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif file_sha256(path) != described.get("sha256"):
            problems.append(f"{name}: SHA-256 differs from the manifest's")
    return problems


def read_batches(path: Path, file_format: str, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """A table of the export (events or checkpoints) in batches of `schema`."""
    if file_format == "parquet":
        handle = pq.ParquetFile(path)
        if not handle.schema_arrow.equals(schema):
            raise ExportTampered(path.name, str(path), "its columns are not the export's")
        yield from handle.iter_batches(batch_size=READ_BATCH_EVENTS)
    elif file_format == "csv":
        convert = pa_csv.ConvertOptions(column_types=schema, strings_can_be_null=True)
        try:
            reader = pa_csv.open_csv(
                path, read_options=pa_csv.ReadOptions(block_size=1 << 24), convert_options=convert
            )
            for batch in reader:
                yield batch.select(schema.names).cast(schema)
        except (pa.ArrowInvalid, ValueError) as exc:
            raise ExportTampered(
                path.name, str(path), f"cannot be read as the export's CSV: {exc}"
            ) from None
    else:
        yield from _json_lines(path, schema)


def _json_lines(path: Path, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    lines: list[dict[str, Any]] = []
    with path.open("rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                lines.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                raise ExportTampered("line", number, "is not JSON") from None
            if len(lines) == READ_BATCH_EVENTS:
                yield _lines_batch(lines, schema, path)
                lines = []
    if lines:
        yield _lines_batch(lines, schema, path)


def _lines_batch(lines: list[dict[str, Any]], schema: pa.Schema, path: Path) -> pa.RecordBatch:
    try:
        return event_batch(lines) if schema is EVENT_SCHEMA else checkpoint_batch(lines)
    except (KeyError, TypeError, ValueError, pa.ArrowInvalid) as exc:
        raise ExportTampered(path.name, str(path), f"a line is not an envelope: {exc!r}") from None


def _quoted(column: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise('"', column, '"', "")


def _instant_texts(column: pa.Array) -> pa.Array:
    """UTC timestamps as the envelope spells them, without the `Z` (numpy: the fast way)."""
    micros = np.asarray(column.cast(pa.int64()), dtype=np.int64).astype("datetime64[us]")
    return pa.array(np.datetime_as_string(micros, unit="us"), type=pa.string())


def canonical_texts(batch: pa.RecordBatch) -> pa.Array:
    """Each event's canonical bytes (the chain's input), as one string array.

    Literal text between columns is merged into one piece (the quotes of string members
    included), so the whole row is one join over the columns.
    """
    pieces: list[Any] = []
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
        pieces += [literal, value]
        literal = closing
    pieces.append(literal + "}")
    return pc.binary_join_element_wise(*pieces, "")


def _needs_escape(batch: pa.RecordBatch) -> npt.NDArray[np.bool_]:
    flags = np.zeros(batch.num_rows, dtype=np.bool_)
    for name in CANONICAL_KEYS:
        field = EVENT_SCHEMA.field(name)
        if pa.types.is_string(field.type) and name != "data":
            matched = pc.match_substring_regex(batch.column(name), NEEDS_ESCAPE)
            flags |= np.asarray(pc.fill_null(matched, False))
    return flags


def _hex_rows(column: pa.Array) -> bytes:
    """A column of 64-character hex hashes as their raw bytes, 32 a row."""
    text = "".join(column.to_pylist())
    try:
        return bytes.fromhex(text)
    except ValueError:
        return b""  # some hash is not hex: every row then fails its own comparison


def check_batch(batch: pa.RecordBatch, wanted: set[int]) -> BatchCheck:
    """Prove one batch: positions run on by one, each event hashes to its hash, each prev_hash
    is the hash before; the hashes at `wanted` positions are returned."""
    positions = np.asarray(batch.column("position"), dtype=np.int64)
    hashes = batch.column("hash").to_pylist()
    prev_hashes = batch.column("prev_hash").to_pylist()
    failure = _first_failure(batch, positions, hashes, prev_hashes)
    rows = np.flatnonzero(np.isin(positions, sorted(wanted))).tolist() if wanted else []
    hashes_at = {int(positions[row]): hashes[row] for row in rows}
    return BatchCheck(
        int(positions[0]), prev_hashes[0], int(positions[-1]), hashes[-1], hashes_at, failure
    )


def _first_failure(
    batch: pa.RecordBatch, positions: npt.NDArray[np.int64], hashes: list[str], prev: list[str]
) -> tuple[int, str] | None:
    first = int(positions[0])
    steps = np.flatnonzero(np.diff(positions) != 1)
    order_at = int(steps[0]) + 1 if len(steps) else len(positions)
    computed = _hashes(batch)
    claimed = _hex_rows(batch.column("hash"))
    rows = len(positions)
    bad_hash = (
        next(
            (
                i
                for i in range(rows)
                if computed[i * HASH_BYTES : (i + 1) * HASH_BYTES]
                != claimed[i * HASH_BYTES : (i + 1) * HASH_BYTES]
            ),
            rows,
        )
        if computed != claimed
        else rows
    )
    bad_link = next((i for i in range(1, rows) if prev[i] != hashes[i - 1]), rows)
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


def _hashes(batch: pa.RecordBatch) -> bytes:
    """SHA-256(prev_hash || canonical bytes) of every row, 32 bytes each."""
    texts = canonical_texts(batch)
    escaped = _needs_escape(batch)
    prev = _hex_rows(batch.column("prev_hash"))
    if len(prev) != HASH_BYTES * batch.num_rows:
        return b""
    offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32)
    bounds = offsets[texts.offset : texts.offset + len(texts) + 1].tolist()
    data = memoryview(texts.buffers()[2])
    escaped_rows = set(np.flatnonzero(escaped).tolist())
    sha256 = hashlib.sha256
    digests = bytearray(HASH_BYTES * batch.num_rows)
    # The hot loop: plain ints and slices only (numpy scalars cost ten times as much here).
    for row, (begin, end) in enumerate(itertools.pairwise(bounds)):
        start = row * HASH_BYTES
        digest = sha256(prev[start : start + HASH_BYTES])
        if row in escaped_rows:
            digest.update(canonical_bytes(_row_envelope(batch, row)))
        else:
            digest.update(data[begin:end])
        digests[start : start + HASH_BYTES] = digest.digest()
    return bytes(digests)


def _row_envelope(batch: pa.RecordBatch, row: int) -> dict[str, Any]:
    """One row as the envelope (for the rare string that JSON must escape)."""
    values = {name: batch.column(name)[row].as_py() for name in CANONICAL_KEYS}
    values["recorded_at"] = values["recorded_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    values["effective_date"] = values["effective_date"].isoformat()
    values["data"] = orjson.loads(values["data"])
    return values


def checkpoint_rows(path: Path, file_format: str) -> list[dict[str, Any]]:
    """The export's checkpoints, in file order."""
    rows: list[dict[str, Any]] = []
    for batch in read_batches(path, file_format, CHECKPOINT_SCHEMA):
        rows += batch.to_pylist()
    return rows
