"""`grant-ledger balances`: bad input names the flag and value; output shows SEK or integer öre."""

import json
from pathlib import Path

import pytest

from commands.cli.balances import render_table
from commands.cli.main import EXIT_UNAVAILABLE, EXIT_USAGE, main
from projections.domain.rows import FIELDS, View
from projections.store.read_store import ReadStore
from tests.ledgers.balances_each_way import apply_envelopes
from tests.ledgers.envelopes import synthetic_envelopes


@pytest.fixture
def read_store_url(tmp_path: Path) -> str:
    """A read store with a small synthetic ledger applied."""
    url = f"sqlite:///{tmp_path / 'read.db'}"
    with ReadStore.open(url) as read_store:
        apply_envelopes(read_store, list(synthetic_envelopes(400)))
    return url


@pytest.mark.parametrize(
    ("flags", "flag", "value"),
    [
        (["--by", "municipality"], "--by", "municipality"),
        (["--format", "xml"], "--format", "xml"),
        (["--as-of-date", "2020-13-01"], "--as-of-date", "2020-13-01"),
        (["--as-known-at", "yesterday"], "--as-known-at", "yesterday"),
        (["--at-position", "-3"], "--at-position", "-3"),
        (["--year", "20x1"], "--year", "20x1"),
        (["--programme", "no-such-programme"], "--programme", "no-such-programme"),
        (["--recipient", "9999"], "--recipient", "9999"),
        (["--by", "agency-year", "--recipient", "0180"], "--recipient", "0180"),
    ],
)
def test_bad_input_is_refused_naming_the_flag_and_value(
    read_store_url: str, flags: list[str], flag: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A LedgerError: exit code 2, the flag and the value in the message."""
    assert main(["balances", "--read-store", read_store_url, *flags]) == EXIT_USAGE
    error = capsys.readouterr().err
    assert f"{flag}={value!r}" in error, error


def test_json_gives_integer_ore_with_the_field_names(
    read_store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """JSON rows carry the documented field names and whole öre."""
    assert (
        main(
            [
                "balances",
                "--read-store",
                read_store_url,
                "--by",
                "programme-year",
                "--format",
                "json",
            ]
        )
        == 0
    )
    rows = json.loads(capsys.readouterr().out)
    assert rows and list(rows[0]) == list(FIELDS[View.PROGRAMME_YEAR])
    assert all(isinstance(row["appropriated_ore"], int) for row in rows)
    assert all(row["available_ore"] == row["appropriated_ore"] - row["awarded_ore"] for row in rows)


def test_csv_has_a_header_and_one_line_per_row(
    read_store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """CSV: the field names, then integer öre."""
    assert (
        main(["balances", "--read-store", read_store_url, "--by", "agency-year", "--format", "csv"])
        == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ",".join(FIELDS[View.AGENCY_YEAR])
    assert len(lines) > 1 and lines[1].split(",")[2].lstrip("-").isdigit()


def test_table_shows_kronor() -> None:
    """Money columns in SEK, right-aligned; a note when nothing matches."""
    table = render_table(
        FIELDS[View.AGENCY_YEAR],
        [
            {
                "agency": "delmos",
                "year": 2021,
                "awarded_ore": 16_000_000_000,
                "disbursed_ore": 5,
                "recovered_ore": -100,
            }
        ],
    )
    assert "160 000 000,00 kr" in table
    assert "0,05 kr" in table and "-1,00 kr" in table
    assert "(no balances)" in render_table(FIELDS[View.AGENCY_YEAR], [])


def test_as_of_needs_a_replay_store(
    tmp_path: Path, read_store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An as-of question without a replay store says how to get one (exit 3: the projector
    fills it, so asking again later can work)."""
    code = main(
        [
            "balances",
            "--read-store",
            read_store_url,
            "--replay-dir",
            str(tmp_path / "none"),
            "--at-position",
            "5",
        ]
    )
    assert code == EXIT_UNAVAILABLE
    assert "grant-ledger project" in capsys.readouterr().err
