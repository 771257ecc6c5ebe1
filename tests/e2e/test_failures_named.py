"""Every failure named: a missing ledger, a store that is a directory or not a database, an
unreachable PostgreSQL or broker, a read store or replay directory that cannot be written, a
stored event that is not JSON. One line naming what and where, the exit code of its kind (see
the README's table), never a traceback, never a password."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from commands.cli.main import EXIT_INTEGRITY, EXIT_UNAVAILABLE, EXIT_USAGE, main
from tests.fill import fill

PASSWORD = "s3cret-Pa55"
NOWHERE = "127.0.0.1:1"  # nothing listens on port 1


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """The CLI in this process: exit code, and everything it printed."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert PASSWORD not in out + err
    return code, out + err


@pytest.mark.parametrize(
    "command",
    [
        ["events"],
        ["history", "--recipient", "1280"],
        ["relay", "--once", "--bootstrap-servers", NOWHERE],
        ["verify", "--bootstrap-servers", NOWHERE],
    ],
)
def test_a_read_only_command_on_a_missing_ledger_creates_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, command: list[str]
) -> None:
    store = tmp_path / "typo" / "ledger.db"
    code, said = run(capsys, *command, "--store", f"sqlite:///{store}")
    assert code == EXIT_USAGE and f"no ledger at {store}" in said, said
    assert not store.exists() and not store.parent.exists()


def test_only_a_command_that_records_creates_a_ledger_and_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    store = f"sqlite:///{tmp_path / 'new' / 'ledger.db'}"
    lines = tmp_path / "none.jsonl"
    lines.write_text("")
    code, said = run(capsys, "submit", str(lines), "--store", store)
    assert code == 0 and "created a new ledger at" in said, said
    code, said = run(capsys, "submit", str(lines), "--store", store)
    assert code == 0 and "created a new ledger" not in said
    assert run(capsys, "events", "--store", store)[0] == 0


@pytest.mark.parametrize(
    ("make", "says"),
    [
        (lambda path: path.mkdir(), "it is a directory"),
        (lambda path: path.write_text("not a database\n"), "not an SQLite database"),
    ],
    ids=["a directory", "a text file"],
)
def test_a_store_that_is_not_a_ledger_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, make: object, says: str
) -> None:
    path = tmp_path / "ledger.db"
    make(path)  # type: ignore[operator]
    for command in (["events"], ["submit", "-"]):
        code, said = run(capsys, *command, "--store", f"sqlite:///{path}")
        assert code == EXIT_USAGE and says in said, said


def test_an_unreachable_postgresql_is_named_without_its_password(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, said = run(capsys, "events", "--store", f"postgresql://ledger:{PASSWORD}@{NOWHERE}/db")
    assert code == EXIT_UNAVAILABLE and "cannot reach the event store" in said, said
    assert "ledger:***@" in said


def test_an_unreachable_broker_is_named(sqlite_store_url: str) -> None:
    """In a process of its own: what a user sees on a terminal."""
    fill(sqlite_store_url, 10)
    done = subprocess.run(
        [sys.executable, "-m", "commands.cli.main", "verify", "--store", sqlite_store_url],
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": NOWHERE},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == EXIT_UNAVAILABLE, done.stderr
    assert "KAFKA_BOOTSTRAP_SERVERS" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize("which", ["--read-store", "--replay-dir"])
def test_a_read_side_store_that_cannot_be_written_is_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, which: str
) -> None:
    blocker = tmp_path / "a-file"  # a path under a file can never be created or written
    blocker.write_text("")
    places = {
        "--read-store": f"sqlite:///{tmp_path / 'read.db'}",
        "--replay-dir": str(tmp_path / "replay"),
    }
    places[which] = (
        f"sqlite:///{blocker}/read.db" if which == "--read-store" else str(blocker / "r")
    )
    code, said = run(
        capsys,
        "project",
        "--once",
        "--bootstrap-servers",
        NOWHERE,
        *(item for pair in places.items() for item in pair),
    )
    variable = "GRANT_LEDGER_READ_STORE" if which == "--read-store" else "GRANT_LEDGER_REPLAY_DIR"
    assert code == EXIT_UNAVAILABLE and variable in said, said


def test_a_stored_event_that_is_not_json_stops_verify_by_name(
    capsys: pytest.CaptureFixture[str], sqlite_store_url: str
) -> None:
    fill(sqlite_store_url, 10)
    path = sqlite_store_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        conn.execute(
            "UPDATE stored_events SET state = ? WHERE rowid = "
            "(SELECT rowid FROM stored_events WHERE topic LIKE '%Programme%' LIMIT 1 OFFSET 3)",
            (b"\xff\xfe not json",),
        )
    code, said = run(capsys, "verify", "--store", sqlite_store_url, "--bootstrap-servers", NOWHERE)
    assert code == EXIT_INTEGRITY and "is not valid UTF-8 JSON" in said, said
