"""An export's files as a tamperer (or a forger) handles them: read back as the exporter wrote
them, changed, written again with the manifest's SHA-256 fixed, and replayed by the CLI."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from commands.cli.main import main
from ledger.audit.event_table import CHECKPOINT_SCHEMA, EVENT_SCHEMA
from ledger.audit.export import file_sha256, open_writer
from ledger.audit.export_reader import read_batches
from ledger.domain.recorded import RECORDED_AT_FORMAT
from ledger.proof.signatures import CheckpointSigner
from schemas.chain import canonical_bytes, chain_hash
from tests.audited_ledger import AuditedLedger

FORMATS = ("parquet", "csv", "jsonl")
SIGNED_BY_RELAY = ("position", "hash", "events", "recorded_at")


@pytest.fixture(scope="module")
def exports(audited: AuditedLedger, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The scenario exported from the topic once per format (with the relay's checkpoints)."""
    found = {}
    for file_format in FORMATS:
        out = tmp_path_factory.mktemp(f"export-{file_format}")
        args = ["export", "events", "--out", str(out), "--format", file_format]
        assert main([*args, "--source", "kafka", *audited.kafka_flags()]) == 0
        found[file_format] = out
    return found


def copy_of(export: Path, into: Path) -> Path:
    """A copy of an export to tamper with."""
    into.mkdir()
    for file in export.iterdir():
        (into / file.name).write_bytes(file.read_bytes())
    return into


def replay(
    directory: Path, capsys: pytest.CaptureFixture[str], *flags: str
) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `audit replay`."""
    code = main(["audit", "replay", str(directory), *flags])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def envelopes_of(directory: Path, file_format: str) -> list[dict[str, Any]]:
    """The export's events back as envelopes."""
    rows = []
    for batch in read_batches(directory / f"events.{file_format}", file_format, EVENT_SCHEMA):
        for row in batch.to_pylist():
            row["recorded_at"] = row["recorded_at"].strftime(RECORDED_AT_FORMAT)
            row["effective_date"] = row["effective_date"].isoformat()
            row["data"] = orjson.loads(row["data"])
            rows.append(row)
    return rows


def checkpoints_of(directory: Path, file_format: str) -> list[dict[str, Any]]:
    """The export's checkpoints back as the relay's bodies (plus the export's `source`)."""
    path = directory / f"checkpoints.{file_format}"
    rows = [
        row
        for batch in read_batches(path, file_format, CHECKPOINT_SCHEMA)
        for row in batch.to_pylist()
    ]
    for row in rows:
        row["recorded_at"] = row["recorded_at"].strftime(RECORDED_AT_FORMAT)
    return rows


def rewrite(directory: Path, file_format: str, table: str, rows: list[dict[str, Any]]) -> None:
    """Write a table again as the exporter would, and fix the manifest's hash (a careful
    tamperer): only the chain and the signatures can tell."""
    path = directory / f"{table}.{file_format}"
    writer = open_writer(
        path, file_format, EVENT_SCHEMA if table == "events" else CHECKPOINT_SCHEMA
    )
    writer.write(rows)
    writer.close()
    manifest = orjson.loads((directory / "manifest.json").read_bytes())
    manifest["files"][path.name]["sha256"] = file_sha256(path)
    if table == "events":
        manifest["first_hash"], manifest["last_hash"] = rows[0]["hash"], rows[-1]["hash"]
    (directory / "manifest.json").write_bytes(orjson.dumps(manifest))


def rechained(envelopes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The envelopes with every hash and link recomputed from the first one's prev_hash."""
    prev_hash = envelopes[0]["prev_hash"]
    for envelope in envelopes:
        envelope["prev_hash"] = prev_hash
        envelope["hash"] = prev_hash = chain_hash(prev_hash, canonical_bytes(envelope))
    return envelopes


def signed(
    checkpoints: list[dict[str, Any]],
    signer_at: Callable[[int], CheckpointSigner],
    hash_at: Callable[[int], str] | None = None,
) -> list[dict[str, Any]]:
    """The checkpoints signed again as the relay signs (by `signer_at(position)`), each at the
    hash `hash_at(position)` when given; `source` kept as the export wrote it."""
    resigned = []
    for row in checkpoints:
        body = {name: row[name] for name in SIGNED_BY_RELAY}
        if hash_at is not None:
            body["hash"] = hash_at(row["position"])
        resigned.append({**signer_at(row["position"]).sign(body), "source": row["source"]})
    return resigned


def replayed_with_checkpoints(
    export: Path,
    file_format: str,
    into: Path,
    change: Callable[[list[dict[str, Any]]], None],
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, str, str, list[dict[str, Any]]]:
    """`audit replay` of a copy of the export whose checkpoint rows `change` altered (the
    manifest's hash fixed): (exit code, stdout, stderr, the rows as written)."""
    directory = copy_of(export, into)
    rows = checkpoints_of(directory, file_format)
    change(rows)
    rewrite(directory, file_format, "checkpoints", rows)
    return (*replay(directory, capsys), rows)
