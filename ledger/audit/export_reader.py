"""Reading an export back: its manifest, its files' hashes, its tables in batches.

Every format is read into batches of EVENT_SCHEMA, which ledger/audit/batch_proof.py proves
link by link; the caller stitches batches and checks the ends (genesis, the manifest, the
checkpoints). Nothing here needs a store, a broker or a network.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ledger.audit.event_table import (
    CHECKPOINT_SCHEMA,
    EVENT_SCHEMA,
    checkpoint_batch,
    event_batch,
)
from ledger.audit.export import EXTENSIONS, FORMATS, MANIFEST_FILE, file_sha256
from schemas.errors import IntegrityFailure, InvalidQuery, QueryParameter

READ_BATCH_EVENTS: Final = 65_536
MANIFEST_KEYS: Final = ("format", "first_position", "last_position", "events", "files")


class ExportTampered(IntegrityFailure):
    """The export does not prove itself: names the first bad position (or file) and what."""


class UnreadableLine(ExportTampered):
    """A line of a JSON Lines file that is not JSON; its value is the line's number (1-based)."""


def load_manifest(directory: Path) -> dict[str, Any]:
    """manifest.json, with the keys the replay needs."""
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise InvalidQuery(
            QueryParameter.EXPORT_DIRECTORY,
            str(directory),
            f"has no {MANIFEST_FILE}: not an export",
        )
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
                raise UnreadableLine("line", number, "is not JSON") from None
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


def checkpoint_rows(path: Path, file_format: str) -> list[dict[str, Any]]:
    """The export's checkpoints, in file order."""
    rows: list[dict[str, Any]] = []
    for batch in read_batches(path, file_format, CHECKPOINT_SCHEMA):
        rows += batch.to_pylist()
    return rows
