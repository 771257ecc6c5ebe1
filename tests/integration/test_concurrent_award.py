"""Two OS processes racing on one programme: the last money of a year is awarded once, a command
is recorded once (SQLite and PostgreSQL).

Each worker is a real `python -c` process with its own GrantLedger. The test hands each worker its
command, waits until both have read the programme and say "ready", then releases them together by
writing "go" to both stdins back to back (the barrier).
"""

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from eventsourcing.postgres import PostgresApplicationRecorder

from ledger.application.grant_ledger import GrantLedger
from ledger.infrastructure.table_setup import TABLE_SETUP_LOCK_KEY
from tests.builders import (
    MALMO,
    STOCKHOLM,
    application,
    as_line,
    award,
    establish,
    set_appropriation,
)
from tests.conftest import postgres_base_url

WORKER = r"""
import sys

import orjson

from commands.batch.parsing import parse_command
from ledger.application.grant_ledger import GrantLedger
from schemas.errors import LedgerError

ledger = GrantLedger(store_url=sys.argv[1])
print("started", flush=True)
while True:
    line = sys.stdin.readline()
    if not line:
        break
    command = parse_command(line)
    # Read the programme before the race, so both workers decide on the same state.
    ledger.programme(ledger.programme_of_application(command.application_id))
    print("ready", flush=True)
    sys.stdin.readline()  # the barrier
    try:
        result = {"ok": True, **ledger.execute(command).as_dict()}
    except LedgerError as error:
        result = {"ok": False, "error": type(error).__name__, **error.as_dict()}
    print(orjson.dumps(result).decode(), flush=True)
ledger.close()
"""
WORKER_TIMEOUT_S = 120
APPROPRIATION = 1_000_000
AWARD_ROUNDS = 5
SAME_COMMAND_ROUNDS = 3
YEARS = range(2018, 2018 + max(AWARD_ROUNDS, SAME_COMMAND_ROUNDS))


class Worker:
    """One racing OS process, driven line by line over its stdin/stdout."""

    def __init__(self, store_url: str, cwd: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WORKER, store_url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=cwd,
        )
        self._watchdog = threading.Timer(WORKER_TIMEOUT_S, self.process.kill)
        self._watchdog.start()

    def expect(self, word: str) -> None:
        """Wait for the worker to say `word`."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line.strip() == word, f"worker said {line!r}; stderr: {self._stderr()}"

    def send(self, line: str) -> None:
        """Write one line to the worker."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def result(self) -> dict[str, Any]:
        """The worker's outcome or refusal of the command it raced with."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"worker died; stderr: {self._stderr()}"
        result: dict[str, Any] = orjson.loads(line)
        return result

    def _stderr(self) -> str:
        self.stop()
        assert self.process.stderr is not None
        return self.process.stderr.read()

    def stop(self) -> None:
        """Close stdin (the worker exits) and reap it; kill it if it does not."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._watchdog.cancel()


@pytest.fixture
def prepared_store(store_url: str) -> str:
    """The store with SFS 2018:151, 1 000 000 öre for each year and two applications a year."""
    prepare(store_url, YEARS)
    return store_url


@pytest.fixture
def workers(prepared_store: str, tmp_path: Path) -> Iterator[tuple[Worker, Worker]]:
    """Two worker processes on the prepared store, started and waiting for commands.

    They start one after the other, not together: see the startup test at the end.
    """
    pair: list[Worker] = []
    try:
        for _ in range(2):  # one after the other: see test_processes_starting_together_...
            pair.append(Worker(prepared_store, tmp_path))
            pair[-1].expect("started")
        yield pair[0], pair[1]
    finally:
        for worker in pair:
            worker.stop()
            if worker.process.stdout is not None:
                worker.process.stdout.close()
            if worker.process.stderr is not None:
                worker.process.stderr.close()


def race(pair: tuple[Worker, Worker], lines: tuple[bytes, bytes]) -> list[dict[str, Any]]:
    """Give each worker its command, wait until both are ready, release both, collect results."""
    for worker, line in zip(pair, lines, strict=True):
        worker.send(line.decode())
    for worker in pair:
        worker.expect("ready")
    for worker in pair:
        worker.send("go")
    return [worker.result() for worker in pair]


def prepare(store_url: str, years: range) -> None:
    """SFS 2018:151 with 1 000 000 öre for each year and two applications asking for all of it."""
    ledger = GrantLedger(store_url=store_url)
    try:
        ledger.execute(establish())
        for year in years:
            ledger.execute(set_appropriation(year, APPROPRIATION))
            ledger.execute(application(f"malmo-{year}", {year: APPROPRIATION}, recipient=MALMO))
            ledger.execute(
                application(f"stockholm-{year}", {year: APPROPRIATION}, recipient=STOCKHOLM)
            )
    finally:
        ledger.close()


def test_two_processes_racing_for_the_last_money_of_a_year_award_it_once(
    store_url: str, workers: tuple[Worker, Worker]
) -> None:
    """Of two simultaneous awards of a year's whole appropriation exactly one is recorded; the other
    is refused on amounts_ore.YEAR with 0 öre available."""
    years = range(2018, 2018 + AWARD_ROUNDS)
    winners = []
    for year in years:
        commands = (
            award(f"malmo-{year}", {year: APPROPRIATION}),
            award(f"stockholm-{year}", {year: APPROPRIATION}),
        )
        results = race(workers, (as_line(commands[0]), as_line(commands[1])))
        accepted = [r for r in results if r["ok"]]
        refused = [r for r in results if not r["ok"]]
        assert len(accepted) == 1, results
        assert len(refused) == 1, results
        assert accepted[0]["event_type"] == "GrantAwarded"
        assert accepted[0]["duplicate"] is False
        assert refused[0]["error"] == "RuleViolation"
        assert refused[0]["field"] == f"amounts_ore.{year}"
        assert refused[0]["value"] == APPROPRIATION
        assert "exceeds the 0 öre still available" in refused[0]["message"]
        winners.append(accepted[0])

    ledger = GrantLedger(store_url=store_url)
    try:
        programme = ledger.programme("sfs-2018-151")
        for year in years:
            assert programme.awarded_ore[year] == APPROPRIATION
            assert programme.available_ore(year) == 0
        awards = [
            (position, event)
            for position, (_, event) in enumerate(ledger.programme_events(), start=1)
            if event.data.type == "GrantAwarded"
        ]
        assert [position for position, _ in awards] == [w["position"] for w in winners]
        assert [event.command_id for _, event in awards] == [w["command_id"] for w in winners]
    finally:
        ledger.close()


def test_two_processes_sending_the_same_command_record_it_once(
    store_url: str, workers: tuple[Worker, Worker]
) -> None:
    """The same command (same command_id) sent by two processes at once is recorded once, and both
    report the same position."""
    years = range(2018, 2018 + SAME_COMMAND_ROUNDS)
    for year in years:
        line = as_line(award(f"malmo-{year}", {year: APPROPRIATION}))
        results = race(workers, (line, line))
        assert all(r["ok"] for r in results), results
        assert results[0]["position"] == results[1]["position"]
        assert results[0]["aggregate_version"] == results[1]["aggregate_version"]
        assert sorted(r["duplicate"] for r in results) == [False, True]

    ledger = GrantLedger(store_url=store_url)
    try:
        events = [event for _, event in ledger.programme_events()]
        awards = [event for event in events if event.data.type == "GrantAwarded"]
        assert len(awards) == SAME_COMMAND_ROUNDS
        assert len({event.command_id for event in awards}) == SAME_COMMAND_ROUNDS
        programme = ledger.programme("sfs-2018-151")
        assert [programme.awarded_ore[year] for year in years] == [APPROPRIATION] * len(years)
    finally:
        ledger.close()


# --------------------------------------------------------------- starting together


STARTUP = (
    "import sys; from ledger.application.grant_ledger import GrantLedger; "
    "GrantLedger(store_url=sys.argv[1]).close()"
)


@pytest.mark.postgres
def test_processes_starting_together_on_postgresql_all_start(postgres_store_url: str) -> None:
    """A ledger process starts even while another process is creating or checking the schema."""
    ledger = GrantLedger(store_url=postgres_store_url)  # the tables exist
    recorder = ledger.recorder
    assert isinstance(recorder, PostgresApplicationRecorder)
    statements = [s for s in recorder.sql_create_statements if "FUNCTION" in s.as_string()]
    ledger.close()
    with psycopg.connect(postgres_base_url()) as other_startup:
        # Another ledger process is in the middle of its table set-up (holding the set-up lock) ...
        other_startup.execute("SELECT pg_advisory_lock(%s)", (TABLE_SETUP_LOCK_KEY,))
        for statement in statements:
            other_startup.execute(statement)
        starting = subprocess.Popen(
            [sys.executable, "-c", STARTUP, postgres_store_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            # ... and this one waits for it: its backend is blocked on a lock.
            deadline = time.monotonic() + 30
            while not _a_backend_waits_on_a_lock(other_startup.info.backend_pid):
                assert starting.poll() is None, starting.communicate()
                assert time.monotonic() < deadline, "the starting process never blocked"
                time.sleep(0.05)
        except BaseException:
            starting.kill()
            starting.communicate()
            raise
        other_startup.commit()
        other_startup.execute("SELECT pg_advisory_unlock(%s)", (TABLE_SETUP_LOCK_KEY,))
    _, stderr = starting.communicate(timeout=60)
    assert starting.returncode == 0, stderr[-600:]


def _a_backend_waits_on_a_lock(except_pid: int) -> bool:
    """True when another session of the test database waits for the table set-up lock."""
    with psycopg.connect(postgres_base_url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND pid <> %s AND datname = current_database() "
            "AND query LIKE '%%pg_advisory_lock%%'",
            (except_pid,),
        ).fetchone()
    return bool(row and row[0])


@pytest.mark.postgres
def test_several_processes_starting_together_on_a_fresh_schema_all_start(
    postgres_store_url: str,
) -> None:
    """Relay, projector and API starting at once on an empty database all come up."""
    starting = [
        subprocess.Popen(
            [sys.executable, "-c", STARTUP, postgres_store_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    for process in starting:
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr[-600:]
