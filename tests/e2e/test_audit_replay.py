"""`grant-ledger audit replay DIR`: from an export alone, the same balances as `balances`; every
tampering, in every format, stops it (exit 4) naming the first bad position and what is wrong."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from commands.cli.main import main
from ledger.audit.export import file_sha256
from projections.domain.rows import View
from tests.audited_ledger import AuditedLedger, audited  # noqa: F401 (fixture)
from tests.export_files import (
    FORMATS,
    copy_of,
    envelopes_of,
    exports,  # noqa: F401 (fixture)
    replay,
    replayed_with_checkpoints,
    rewrite,
)

pytestmark = pytest.mark.kafka

AS_OF: tuple[list[str], ...] = ([], ["--as-of-date", "2019-12-31"], ["--as-of-date", "2021-06-30"])
EXIT_INTEGRITY = 4


@pytest.mark.parametrize("file_format", FORMATS)
def test_replay_equals_balances_for_every_view_now_and_as_of_two_dates(
    audited: AuditedLedger,  # noqa: F811
    exports: dict[str, Path],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    file_format: str,
) -> None:
    """The same JSON rows as `balances` over the read store (or its replay store)."""
    for as_of in AS_OF:
        for view in View:
            question = ["--by", view.value, *as_of, "--format", "json"]
            assert main(["balances", *question, *audited.read_flags()]) == 0
            expected = capsys.readouterr().out
            code, out, err = replay(exports[file_format], capsys, *question)
            assert code == 0, err
            assert out == expected
            assert orjson.loads(out)


def test_table_output_is_balances_table(
    audited: AuditedLedger,  # noqa: F811
    exports: dict[str, Path],  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Printed exactly as `balances` prints them (SEK)."""
    flags = ["--by", "programme-year", "--programme", "sfs-2018-151"]
    assert main(["balances", *flags, *audited.read_flags()]) == 0
    expected = capsys.readouterr().out
    code, out, _ = replay(exports["parquet"], capsys, *flags)
    assert code == 0 and out == expected and " kr" in out


# --------------------------------------------------------------------------- tampering


def changed_amount(rows: list[dict[str, Any]]) -> int:
    """Raise the first disbursement after position 100 by one krona; returns its position."""
    row = next(r for r in rows if r["position"] > 100 and r["type"] == "FundsDisbursed")
    row["data"]["amount_ore"] += 100
    return int(row["position"])


def removed(rows: list[dict[str, Any]]) -> int:
    """Drop position 120."""
    del rows[119]
    return 120


def duplicated(rows: list[dict[str, Any]]) -> int:
    """Position 200 twice."""
    rows.insert(200, dict(rows[199]))
    return 201


def reordered(rows: list[dict[str, Any]]) -> int:
    """Positions 150 and 151 swapped."""
    rows[149], rows[150] = rows[150], rows[149]
    return 150


def dropped_at_the_end(rows: list[dict[str, Any]]) -> int:
    """The last event gone."""
    last = int(rows.pop()["position"])
    return last


TAMPERINGS: dict[str, Callable[[list[dict[str, Any]]], int]] = {
    "a changed amount": changed_amount,
    "a removed event": removed,
    "a duplicated event": duplicated,
    "reordered events": reordered,
    "the last event removed": dropped_at_the_end,
}


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize("tampering", list(TAMPERINGS))
def test_tampered_events_are_named_by_their_first_bad_position(
    exports: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file_format: str,
    tampering: str,
) -> None:
    """Even with the manifest's SHA-256 updated, the chain names the position; no balances."""
    directory = copy_of(exports[file_format], tmp_path / "tampered")
    rows = envelopes_of(directory, file_format)
    bad_position = TAMPERINGS[tampering](rows)
    rewrite(directory, file_format, "events", rows)
    code, out, err = replay(directory, capsys, "--format", "json")
    assert code == EXIT_INTEGRITY, err
    assert out == ""
    assert f"position {bad_position}:" in err, err


@pytest.mark.parametrize("file_format", FORMATS)
def test_a_checkpoint_off_the_chain_is_named(
    exports: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file_format: str,
) -> None:
    """A checkpoint whose hash is not the chain's at its position."""

    def off_the_chain(rows: list[dict[str, Any]]) -> None:
        rows[1]["hash"] = "ab" * 32

    code, _, err, rows = replayed_with_checkpoints(
        exports[file_format], file_format, tmp_path / "tampered", off_the_chain, capsys
    )
    assert code == EXIT_INTEGRITY
    assert f"position {rows[1]['position']}:" in err and "checkpoint" in err


@pytest.mark.parametrize("file_format", FORMATS)
def test_a_changed_byte_in_a_file_is_caught(
    exports: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file_format: str,
) -> None:
    """One byte flipped in the events file, the manifest untouched: exit 4, and a changed amount
    is named by its position."""
    directory = copy_of(exports[file_format], tmp_path / "tampered")
    path = directory / f"events.{file_format}"
    content = bytearray(path.read_bytes())
    if file_format == "parquet":
        content[len(content) // 3] ^= 0x01
        expected = "export does not prove itself"
    else:
        at = content.index(b"amount_ore", len(content) // 2)
        digit = content.index(b"2", at) if b"2" in content[at : at + 30] else at + 14
        content[digit] = ord("7") if content[digit] != ord("7") else ord("3")
        expected = "position "
    path.write_bytes(bytes(content))
    code, out, err = replay(directory, capsys)
    assert code == EXIT_INTEGRITY and out == ""
    assert expected in err, err


def test_not_an_export_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A directory without a manifest: exit 2 naming it."""
    code, _, err = replay(tmp_path, capsys)
    assert code == 2 and "manifest.json" in err


def test_a_line_that_is_not_json_is_named_by_its_position(
    exports: dict[str, Path],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A JSON Lines export with line 50 garbled (the manifest's SHA-256 updated): exit 4 naming
    position 50, the line's place in a record that starts at position 1."""
    directory = copy_of(exports["jsonl"], tmp_path / "garbled")
    path = directory / "events.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    lines[49] = b"{not json\n"
    path.write_bytes(b"".join(lines))
    manifest = orjson.loads((directory / "manifest.json").read_bytes())
    manifest["files"][path.name]["sha256"] = file_sha256(path)
    (directory / "manifest.json").write_bytes(orjson.dumps(manifest))
    code, out, err = replay(directory, capsys)
    assert code == EXIT_INTEGRITY and out == ""
    assert "position 50: line 50 is not JSON" in err, err
