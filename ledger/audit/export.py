"""`export events`: the published record written to files an auditor takes away.

`events.<ext>` (one row per envelope, EVENT_SCHEMA), `checkpoints.<ext>` (CHECKPOINT_SCHEMA) and
`manifest.json`: positions, count, first and last hash, the last checkpoint, each file's SHA-256,
the ledger version and the time of export. Written a chunk at a time: memory stays flat however
long the ledger is (JSON Lines are the topic's message values byte for byte).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, BinaryIO, Final, Protocol

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ledger.application.envelopes import published_value
from ledger.audit.event_table import (
    CHECKPOINT_SCHEMA,
    EVENT_SCHEMA,
    REPEATING_COLUMNS,
    checkpoint_batch,
    event_batch,
)
from ledger.audit.export_sources import ChainFollower, RecordSource, store_checkpoint
from ledger.domain.recorded import format_utc
from schemas.chain import canonical_bytes
from schemas.errors import InvalidQuery, QueryParameter

FORMATS: Final = ("jsonl", "parquet", "csv")
EXTENSIONS: Final = {"jsonl": "jsonl", "parquet": "parquet", "csv": "csv"}
MANIFEST_FILE: Final = "manifest.json"
MANIFEST_VERSION: Final = 1
# A Parquet row group: the offline replay's unit of work (fewer, larger groups cost it less).
ROW_GROUP_EVENTS: Final = 25_000
# Envelopes held as Python objects at once (some 4 KB each): a row group is gathered from
# batches of these already in Arrow's compact form (some 0.7 KB an event), so the export's
# memory is the row group's columns, not the row group's dictionaries.
CHUNK_EVENTS: Final = 5_000
assert ROW_GROUP_EVENTS % CHUNK_EVENTS == 0, "a row group is whole chunks"
HASH_READ_BYTES: Final = 1 << 20
PARQUET_COMPRESSION: Final = "zstd"
# Pages of up to 4 MiB (pyarrow's default is 1 MiB): a row group's column in one or two pages,
# fewer decompression contexts to set up when it is read (1M events: ~8% faster to read).
PARQUET_PAGE_BYTES: Final = 4 * 2**20
# The event table's text columns that are not dictionary-encoded (ids, hashes, `data`): their
# lengths first, then their bytes back to back, instead of a length before each value. Read a
# batch at a time rather than value by value (1M synthetic events: 0.49 against 0.46 µs an
# event to read, and a file 4% smaller); every Parquet reader reads it (DuckDB included).
_UNIQUE_TEXT_ENCODING: Final = {
    field.name: "DELTA_LENGTH_BYTE_ARRAY"
    for field in EVENT_SCHEMA
    if pa.types.is_string(field.type) and field.name not in REPEATING_COLUMNS
}
CHAIN_DEFINITION: Final = (
    "hash = SHA-256(bytes.fromhex(prev_hash) || canonical bytes), genesis prev_hash = 64 zeros; "
    "canonical bytes = the envelope without prev_hash and hash, JSON with sorted keys and no "
    "whitespace (UTF-8); `data` in CSV and Parquet is that JSON's `data` member, verbatim"
)


ToBatch = Callable[[list[dict[str, Any]]], pa.RecordBatch]


class TableWriter(Protocol):
    """Writes batches of one schema to one file."""

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Append rows."""

    def close(self) -> None:
        """Finish the file."""


class JsonLinesWriter:
    """One JSON object a line."""

    def __init__(self, path: Path, line: Callable[[dict[str, Any]], bytes]) -> None:
        self._file: BinaryIO = path.open("wb")
        self._line = line

    def write(self, rows: list[dict[str, Any]]) -> None:
        """The rows' lines."""
        self._file.write(b"".join(self._line(row) + b"\n" for row in rows))

    def close(self) -> None:
        """Flush and close."""
        self._file.close()


class ArrowFileWriter:
    """Batches into pyarrow's writer of a format: Parquet (a zstd row group of ROW_GROUP_EVENTS,
    gathered from the batches written) or CSV (a header, then RFC 4180 lines with ISO dates)."""

    def __init__(self, path: Path, schema: pa.Schema, to_batch: ToBatch, file_format: str) -> None:
        self._parquet = file_format == "parquet"
        self._writer: Any = (
            pq.ParquetWriter(
                path,
                schema,
                compression=PARQUET_COMPRESSION,
                use_dictionary=list(REPEATING_COLUMNS) if schema is EVENT_SCHEMA else True,
                column_encoding=_UNIQUE_TEXT_ENCODING if schema is EVENT_SCHEMA else None,
                data_page_size=PARQUET_PAGE_BYTES,
            )
            if self._parquet
            else pa_csv.CSVWriter(str(path), schema)
        )
        self._to_batch = to_batch
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0

    def write(self, rows: list[dict[str, Any]]) -> None:
        """The rows as one batch (Parquet: held until a row group is full)."""
        if not rows:
            return
        batch = self._to_batch(rows)
        if not self._parquet:
            self._writer.write_batch(batch)
            return
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        if self._pending_rows >= ROW_GROUP_EVENTS:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            table = pa.Table.from_batches(self._pending)
            self._writer.write_table(table, row_group_size=ROW_GROUP_EVENTS)
            self._pending, self._pending_rows = [], 0

    def close(self) -> None:
        """Finish the file (Parquet writes its last row group and its footer)."""
        if self._parquet:
            self._flush()
        self._writer.close()


def envelope_line(envelope: dict[str, Any]) -> bytes:
    """An envelope exactly as the relay puts it on the topic."""
    return published_value(canonical_bytes(envelope), envelope["prev_hash"], envelope["hash"])


def _checkpoint_line(checkpoint: dict[str, Any]) -> bytes:
    return orjson.dumps({name: checkpoint.get(name) for name in CHECKPOINT_SCHEMA.names})


def open_writer(path: Path, file_format: str, schema: pa.Schema) -> TableWriter:
    """The writer of a format for one of the export's tables."""
    events = schema is EVENT_SCHEMA
    to_batch: ToBatch = event_batch if events else checkpoint_batch
    if file_format in ("parquet", "csv"):
        return ArrowFileWriter(path, schema, to_batch, file_format)
    assert file_format == "jsonl", file_format
    return JsonLinesWriter(path, envelope_line if events else _checkpoint_line)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(HASH_READ_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def ledger_version() -> str:
    """The installed grant-ledger's version."""
    return metadata.version("grant-ledger")


def export_events(
    source: RecordSource,
    directory: Path,
    file_format: str,
    *,
    first_position: int,
    checkpoint_every: int,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Write the record's files and manifest into `directory`; returns the manifest."""
    if file_format not in FORMATS:
        raise InvalidQuery(
            QueryParameter.FORMAT, file_format, f"expected one of {', '.join(FORMATS)}"
        )
    directory.mkdir(parents=True, exist_ok=True)
    exported_at = datetime.now(tz=UTC)
    extension = EXTENSIONS[file_format]
    events_path = directory / f"events.{extension}"
    follower = ChainFollower(first_position)
    derive = source.checkpoints_from_topic is None
    derived: list[dict[str, Any]] = []
    last: dict[str, Any] | None = None
    writer = open_writer(events_path, file_format, EVENT_SCHEMA)
    try:
        for chunk in _chunks(source.envelopes, CHUNK_EVENTS):
            for envelope in chunk:
                follower.follow(envelope)
                if derive and envelope["position"] % checkpoint_every == 0:
                    derived.append(store_checkpoint(envelope, exported_at))
            writer.write(chunk)
            last = chunk[-1]
            if progress is not None:
                progress(last["position"] - first_position + 1)
    finally:
        writer.close()
    if last is None:
        raise InvalidQuery(
            QueryParameter.EXPORT_FROM_POSITION, first_position, "no events to export there"
        )
    if derive and (not derived or derived[-1]["position"] != last["position"]):
        derived.append(store_checkpoint(last, exported_at))  # the chain's tip, as the relay does
    checkpoints = (
        derived if source.checkpoints_from_topic is None else source.checkpoints_from_topic
    )
    checkpoints_path = directory / f"checkpoints.{extension}"
    _write_whole(checkpoints_path, file_format, CHECKPOINT_SCHEMA, checkpoints)
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "ledger_version": ledger_version(),
        "exported_at": format_utc(exported_at),
        "format": file_format,
        "source": source.described,
        "first_position": first_position,
        "last_position": last["position"],
        "events": last["position"] - first_position + 1,
        "first_prev_hash": follower.first_prev_hash,
        "first_hash": follower.first_hash,
        "last_hash": last["hash"],
        "checkpoints": len(checkpoints),
        "last_checkpoint": _manifest_checkpoint(checkpoints[-1]) if checkpoints else None,
        "chain": CHAIN_DEFINITION,
        "files": {
            path.name: {"sha256": file_sha256(path), "bytes": path.stat().st_size}
            for path in (events_path, checkpoints_path)
        },
    }
    (directory / MANIFEST_FILE).write_bytes(
        orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n"
    )
    return manifest


def _write_whole(
    path: Path, file_format: str, schema: pa.Schema, rows: list[dict[str, Any]]
) -> None:
    """One file of `rows` at once (the checkpoints: few, unlike the events written in chunks)."""
    writer = open_writer(path, file_format, schema)
    try:
        writer.write(rows)
    finally:
        writer.close()


def _manifest_checkpoint(checkpoint: dict[str, Any]) -> dict[str, Any]:
    return {name: checkpoint.get(name) for name in CHECKPOINT_SCHEMA.names}


def _chunks(envelopes: Iterable[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for envelope in envelopes:
        chunk.append(envelope)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
