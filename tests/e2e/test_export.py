"""`grant-ledger export events|balances`: the published record and balances as files an auditor
takes away; typed Parquet, the topic's bytes in JSON Lines, hashes in the manifest."""

import csv
import io
import re
from pathlib import Path
from typing import Any

import duckdb
import openpyxl
import orjson
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from commands.cli.main import main
from commands.exports.workbook import FIRST_DATA_ROW, HEADER_ROW
from ledger.application.grant_ledger import GrantLedger
from ledger.application.published_log import store_envelopes
from ledger.audit.event_table import CHECKPOINT_SCHEMA, EVENT_SCHEMA
from ledger.audit.export import file_sha256
from ledger.infrastructure.kafka.reading import read_all
from projections.domain.rows import View
from tests.audited_ledger import CHECKPOINT_EVERY, AuditedLedger, audited  # noqa: F401 (fixture)
from tests.scenario_ledger import SCENARIO_EVENTS

pytestmark = pytest.mark.kafka


def export(audited: AuditedLedger, out: Path, *flags: str) -> dict[str, Any]:  # noqa: F811
    """Run `export events` and return the manifest."""
    args = ["export", "events", "--out", str(out), *flags]
    assert main([*args, *audited.store_flags(), *audited.kafka_flags()]) == 0
    manifest: dict[str, Any] = orjson.loads((out / "manifest.json").read_bytes())
    return manifest


def walk(audited: AuditedLedger) -> list[dict[str, Any]]:  # noqa: F811
    """The store's envelopes from genesis."""
    ledger = GrantLedger(audited.store_url)
    try:
        return list(store_envelopes(ledger))
    finally:
        ledger.close()


def test_parquet_has_typed_columns_and_every_envelope(
    audited: AuditedLedger,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Dates as dates, instants as UTC timestamps, int64 integers, data as its JSON text;
    from the store, checkpoints where the relay makes them (every N and the tip)."""
    monkeypatch.setenv("GRANT_LEDGER_CHECKPOINT_EVERY", str(CHECKPOINT_EVERY))
    manifest = export(audited, tmp_path, "--format", "parquet")
    table = pq.read_table(tmp_path / "events.parquet")
    assert table.schema.equals(EVENT_SCHEMA)
    assert str(table.schema.field("recorded_at").type) == "timestamp[us, tz=UTC]"
    assert str(table.schema.field("effective_date").type) == "date32[day]"
    rows = table.to_pylist()
    envelopes = walk(audited)
    assert [row["position"] for row in rows] == list(range(1, SCENARIO_EVENTS + 1))
    for row, envelope in zip(rows, envelopes, strict=True):
        assert orjson.loads(row["data"]) == envelope["data"]
        assert row["effective_date"].isoformat() == envelope["effective_date"]
        assert row["recorded_at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ") == envelope["recorded_at"]
        assert row["hash"] == envelope["hash"] and row["note"] == envelope["note"]
    assert manifest["events"] == SCENARIO_EVENTS
    assert (manifest["first_position"], manifest["last_position"]) == (1, SCENARIO_EVENTS)
    assert manifest["first_hash"] == envelopes[0]["hash"]
    assert manifest["last_hash"] == envelopes[-1]["hash"]
    assert manifest["ledger_version"] and manifest["exported_at"].endswith("Z")
    for name, described in manifest["files"].items():
        assert described["sha256"] == file_sha256(tmp_path / name)
    checkpoints = pq.read_table(tmp_path / "checkpoints.parquet")
    assert checkpoints.schema.equals(CHECKPOINT_SCHEMA)
    assert [c["position"] for c in checkpoints.to_pylist()] == [100, 200, 300, 365]
    assert manifest["last_checkpoint"]["hash"] == envelopes[-1]["hash"]


def test_json_lines_are_the_topics_messages_byte_for_byte(
    audited: AuditedLedger,  # noqa: F811
    tmp_path: Path,
) -> None:
    """From the store or from the topic: each line is the value the relay published."""
    export(audited, tmp_path / "store", "--format", "jsonl")
    manifest = export(audited, tmp_path / "kafka", "--format", "jsonl", "--source", "kafka")
    on_topic = {
        orjson.loads(record.value)["position"]: record.value
        for record in read_all(audited.settings.bootstrap_servers or "", audited.settings.topic)
    }
    expected = b"".join(on_topic[p] + b"\n" for p in sorted(on_topic))
    assert (tmp_path / "store" / "events.jsonl").read_bytes() == expected
    assert (tmp_path / "kafka" / "events.jsonl").read_bytes() == expected
    checkpoints = [
        orjson.loads(line)
        for line in (tmp_path / "kafka" / "checkpoints.jsonl").read_bytes().splitlines()
    ]
    assert {c["source"] for c in checkpoints} == {"topic"}
    assert [c["position"] for c in checkpoints][-1] == SCENARIO_EVENTS
    assert manifest["source"]["topic"] == audited.settings.topic
    assert CHECKPOINT_EVERY in [c["position"] for c in checkpoints]


def test_csv_reads_back_with_the_same_content(
    audited: AuditedLedger,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CSV: a header of the envelope's fields, ISO dates, data as JSON text."""
    monkeypatch.setenv("GRANT_LEDGER_CHECKPOINT_EVERY", str(CHECKPOINT_EVERY))
    export(audited, tmp_path, "--format", "csv", "--from-position", "101", "--to-position", "250")
    table = pa_csv.read_csv(
        tmp_path / "events.csv",
        convert_options=pa_csv.ConvertOptions(column_types=EVENT_SCHEMA, strings_can_be_null=True),
    )
    envelopes = walk(audited)[100:250]
    assert table.column("position").to_pylist() == list(range(101, 251))
    assert [orjson.loads(text) for text in table.column("data").to_pylist()] == [
        e["data"] for e in envelopes
    ]
    assert table.column("note").to_pylist() == [e["note"] for e in envelopes]
    manifest = orjson.loads((tmp_path / "manifest.json").read_bytes())
    assert manifest["first_prev_hash"] == envelopes[0]["prev_hash"]
    assert [
        c["position"]
        for c in csv.DictReader(io.StringIO((tmp_path / "checkpoints.csv").read_text()))
    ] == ["200", "250"]


@pytest.mark.parametrize(
    ("flags", "field"),
    [
        (["--format", "xml"], "--format"),
        (["--from-position", "0"], "--from-position"),
        (["--from-position", "9", "--to-position", "3"], "--to-position"),
        (["--from-position", "9999"], "--from-position"),
        (["--source", "ftp"], "--source"),
    ],
)
def test_bad_flags_are_refused_by_name(
    audited: AuditedLedger,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    flags: list[str],
    field: str,
) -> None:
    """Exit 2 naming the flag; nothing is written."""
    args = ["export", "events", "--out", str(tmp_path / "x"), *flags, *audited.store_flags()]
    assert main(args) == 2
    assert f"{field}=" in capsys.readouterr().err
    assert not (tmp_path / "x" / "manifest.json").exists()


@pytest.mark.parametrize("file_format", ["csv", "parquet", "xlsx"])
@pytest.mark.parametrize("as_of", [[], ["--as-of-date", "2019-12-31"]])
def test_balance_files_hold_what_balances_prints(
    audited: AuditedLedger,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file_format: str,
    as_of: list[str],
) -> None:
    """Every view, now and as of a date: the file's rows are `balances --format json`'s."""
    for view in View:
        question = ["--by", view.value, *as_of, *audited.read_flags()]
        assert main(["balances", *question, "--format", "json"]) == 0
        expected = orjson.loads(capsys.readouterr().out)
        out = tmp_path / f"{view.value}.{file_format}"
        assert (
            main(["export", "balances", *question, "--out", str(out), "--format", file_format]) == 0
        )
        assert expected and read_balance_file(out, file_format) == expected


def read_balance_file(path: Path, file_format: str) -> list[dict[str, Any]]:
    """The rows of an exported balance file, money in öre."""
    if file_format == "parquet":
        records: list[dict[str, Any]] = pq.read_table(path).to_pylist()
        return records
    if file_format == "csv":
        return [
            {
                k: v
                if not (v.lstrip("-").isdigit() and k not in ("recipient", "county"))
                else int(v)
                for k, v in row.items()
            }
            for row in csv.DictReader(path.open(encoding="utf-8"))
        ]
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    rows = list(sheet.iter_rows(values_only=True))
    header = [str(h).replace(" (kr)", "_ore") for h in rows[HEADER_ROW]]
    assert rows[-1][0] == "Totalt", "a totals row closes the sheet"
    return [
        {
            name: _ore(value) if name.endswith("_ore") else value
            for name, value in zip(header, row, strict=True)
        }
        for row in rows[FIRST_DATA_ROW:-1]
    ]


README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readmes_duckdb_query_reads_an_export(
    audited: AuditedLedger,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The query shown to auditors runs on a Parquet export and gives `balances`' disbursements."""
    query = re.search(r"```sql\n(SELECT json_extract_string.*?)```", README.read_text(), re.S)
    assert query is not None, "the README's DuckDB example"
    export(audited, tmp_path / "export", "--format", "parquet")
    sql = query.group(1).replace("'export/", f"'{tmp_path / 'export'}/")
    relation = duckdb.sql(sql)
    assert relation is not None, sql
    rows = relation.fetchall()
    assert (
        main(["balances", "--by", "recipient-year", "--format", "json", *audited.read_flags()]) == 0
    )
    expected = [
        (row["recipient"], row["year"], row["disbursed_ore"])
        for row in orjson.loads(capsys.readouterr().out)
        if row["disbursed_ore"]
    ]
    assert sorted(rows) == sorted(expected) and rows


def _ore(kronor: object) -> int:
    """A sheet's amount in kronor (a number) as öre."""
    assert isinstance(kronor, int | float), kronor
    return round(kronor * 100)
