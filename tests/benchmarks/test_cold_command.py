"""One command in a fresh process costs the same at any history length (SQLite and PostgreSQL).

`grant-ledger submit` of one DisburseFunds, a new process each round, on a programme of
1 000 000 events against the same on a programme of 1 000 events (the same-run baseline; its
rounds interleave with the measured ones so shared load hits both alike). Target: within 2x.
Beside it, the same command in this process on a fresh GrantLedger (cold cache, warm imports),
which leaves out interpreter start-up and shows the load-and-decide cost alone.

GRANT_LEDGER_BENCH_LONG_EVENTS makes a quicker run (the target is held at 1M only). Building
the stores is reported as build_s when it happened in this run (then they are cached, see
long_programme.py).
"""

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from ledger.application.grant_ledger import GrantLedger
from ledger.application.published_log import store_envelopes
from ledger.application.snapshots import snapshot_key
from ledger.domain.grant import GrantStatus
from ledger.domain.programme import Programme
from ledger.domain.programme_state import encode_programme
from schemas import commands as c
from tests.benchmarks.long_programme import (
    PROGRAMME_ID,
    SUCCESSOR,
    Built,
    build,
    drop_postgres_copy,
    history,
    postgres_copy,
    record_one_by_one,
    sqlite_copy,
)
from tests.conftest import postgres_base_url

LONG_EVENTS_ENV = "GRANT_LEDGER_BENCH_LONG_EVENTS"
LONG_EVENTS = int(os.environ.get(LONG_EVENTS_ENV) or 1_000_000)
FULL_LONG_EVENTS = 1_000_000
BASELINE_EVENTS = 1_000
MAX_RATIO = 2.0
ROUNDS = 7
IN_PROCESS_ROUNDS = 7
CLI = Path(sys.executable).parent / "grant-ledger"
VERIFY_EVENTS = 6_000
VERIFY_CHUNK = 700


def test_the_bulk_builder_records_what_the_command_path_records(tmp_path: Path) -> None:
    """6 000 events in chunks of 700 give the store 6 000 single commands give: the same events,
    index entries and programme state (the builder is the command path, batched)."""
    bulk, one_by_one = (f"sqlite:///{tmp_path / name}" for name in ("bulk.db", "single.db"))
    build(bulk, VERIFY_EVENTS, chunk=VERIFY_CHUNK)
    record_one_by_one(one_by_one, VERIFY_EVENTS)
    kinds = {type(step.command) for step in history(VERIFY_EVENTS)}
    assert kinds == {*c.PROGRAMME_COMMANDS, *c.APPLICATION_COMMANDS}, "every command is in it"
    ledgers = [GrantLedger(url, snapshot_every_events=None) for url in (bulk, one_by_one)]
    try:
        facts = [
            [{**e, "event_id": None, "prev_hash": None, "hash": None} for e in store_envelopes(x)]
            for x in ledgers
        ]
        assert len(facts[0]) == VERIFY_EVENTS
        assert facts[0] == facts[1]
        index = [
            [(n.originator_id, n.state) for n in notifications(x) if ":" in n.originator_id]
            for x in ledgers
        ]
        assert len(index[0]) == VERIFY_EVENTS + len(
            [s for s in history(VERIFY_EVENTS) if isinstance(s.command, c.SubmitApplication)]
        )
        assert sorted(index[0]) == sorted(index[1])
        states = []
        for ledger in ledgers:
            ledger.programme_snapshots.delete_all()
            states.append(encode_programme(ledger.programme(PROGRAMME_ID)))
        assert states[0] == states[1]
    finally:
        for ledger in ledgers:
            ledger.close()


def notifications(ledger: GrantLedger) -> list[Any]:
    """Every row of the notification log."""
    return list(ledger.recorder.select_notifications(start=1, limit=10**6))


# ------------------------------------------------------------------------------ benchmark


@dataclass(frozen=True)
class Target:
    """A built store and the grant-year the benchmark's payments go to."""

    built: Built
    events: int
    application_id: str
    year: int
    grants: int
    snapshot_bytes: int


def prepare(built: Built, events: int) -> Target:
    """Check the copy (events, a current snapshot), pick a grant-year with money left and record
    one payment, as a ledger in service has (it leaves a position anchor)."""
    ledger = GrantLedger(built.store_url)
    try:
        snapshots = ledger.programme_snapshots
        # A cached store from before a change to the state code has no current snapshot: the
        # first load replays the stream once and snapshots it, as after a deploy.
        programme = ledger.programme(PROGRAMME_ID)
        assert programme.version >= events, (programme.version, events)
        stored = snapshots.store.latest(snapshot_key(PROGRAMME_ID, snapshots.fingerprint))
        assert stored is not None
        application_id, year = open_grant_year(programme)
        target = Target(
            built, events, application_id, year, len(programme.grants), len(stored.blob)
        )
        ledger.execute(payment(target, 0))
        return target
    finally:
        ledger.close()


def open_grant_year(programme: Programme) -> tuple[str, int]:
    """The newest awarded grant-year with money left to pay."""
    for application_id in reversed(list(programme.grants)):
        grant = programme.grants[application_id]
        if grant.status is GrantStatus.AWARDED:
            year = max(grant.awarded_ore)
            if grant.undisbursed_ore(year) >= 1_000:
                return application_id, year
    raise AssertionError("no grant with money left to pay")


def payment(target: Target, number: int) -> c.DisburseFunds:
    """A one-öre payment nobody has sent before."""
    return c.DisburseFunds(
        type="DisburseFunds",
        command_id=f"bench-{time.time_ns()}-{number}",
        actor="bench-officer",
        agency=SUCCESSOR,
        application_id=target.application_id,
        year=target.year,
        amount_ore=1,
        payment_ref=f"bench {number}",
    )


def submit_in_fresh_process(target: Target, number: int) -> float:
    """`grant-ledger submit -` of one command; the wall time of the whole process."""
    line = payment(target, number).model_dump_json(exclude_none=True).encode()
    started = time.perf_counter()
    done = subprocess.run(
        [str(CLI), "submit", "-", "--store", target.built.store_url, "--format", "json"],
        input=line,
        capture_output=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    assert done.returncode == 0, done.stderr.decode()[-2_000:]
    result = orjson.loads(done.stdout)
    assert result["ok"] and not result["duplicate"], result
    return elapsed


def command_on_a_fresh_ledger(target: Target, number: int) -> float:
    """Open a ledger (cold cache) and record one command, in this process."""
    started = time.perf_counter()
    ledger = GrantLedger(target.built.store_url)
    try:
        outcome = ledger.execute(payment(target, number))
    finally:
        ledger.close()
    assert not outcome.duplicate
    return time.perf_counter() - started


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def targets(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Target, Target]]:
    """(kind, the long programme, the 1 000-event baseline), fresh copies of cached stores."""
    kind = str(request.param)
    copies: list[Built] = []
    make: Callable[[int], Built]
    if kind == "sqlite":
        directory = tmp_path_factory.mktemp("cold-command")
        make = lambda events: sqlite_copy(events, directory)  # noqa: E731
    else:
        make = lambda events: postgres_copy(events, postgres_base_url())  # noqa: E731
    try:
        pair = []
        for events in (LONG_EVENTS, BASELINE_EVENTS):
            copies.append(make(events))
            pair.append(prepare(copies[-1], events))
        yield kind, pair[0], pair[1]
    finally:
        if kind == "postgresql":
            for built in copies:
                drop_postgres_copy(built.store_url, postgres_base_url())


@pytest.mark.benchmark(group="cold-command")
def test_one_command_in_a_fresh_process(
    benchmark: BenchmarkFixture, targets: tuple[str, Target, Target]
) -> None:
    """A 1M-event programme within 2x of a 1 000-event one, fresh process per command."""
    kind, long, short = targets
    baseline_s: list[float] = []
    rounds = iter(range(1, 10**6))

    def setup() -> tuple[tuple[Target, int], dict[str, Any]]:
        baseline_s.append(submit_in_fresh_process(short, next(rounds)))
        return (long, next(rounds)), {}

    benchmark.pedantic(submit_in_fresh_process, setup=setup, rounds=ROUNDS, iterations=1)
    long_s = float(benchmark.stats.stats.median)
    short_s = statistics.median(baseline_s)
    in_process: dict[int, list[float]] = {target.events: [] for target in (long, short)}
    for number in range(IN_PROCESS_ROUNDS):
        for target in (short, long):
            in_process[target.events].append(command_on_a_fresh_ledger(target, 1_000 + number))
    in_long_s, in_short_s = (statistics.median(in_process[t.events]) for t in (long, short))
    ratio = long_s / short_s
    benchmark.extra_info.update(
        store=kind,
        events=long.events,
        grants=long.grants,
        snapshot_mib=round(long.snapshot_bytes / 2**20, 1),
        fresh_process_s=round(long_s, 3),
        baseline_events=short.events,
        baseline_fresh_process_s=round(short_s, 3),
        ratio_to_baseline=round(ratio, 2),
        in_process_ms=round(in_long_s * 1000, 1),
        baseline_in_process_ms=round(in_short_s * 1000, 1),
        in_process_ratio=round(in_long_s / in_short_s, 2),
        build_s=round(long.built.build_s, 1),
        baseline_build_s=round(short.built.build_s, 1),
        load=os.getloadavg()[0],
    )
    print(
        f"\n{kind}: one command in a fresh process, {long.events:,} events "
        f"({long.grants:,} grants): {long_s:.3f} s; {short.events:,} events: {short_s:.3f} s; "
        f"ratio {ratio:.2f} (in process {in_long_s * 1000:.0f} ms vs {in_short_s * 1000:.0f} ms)"
    )
    if long.events >= FULL_LONG_EVENTS:
        assert ratio <= MAX_RATIO, benchmark.extra_info
