"""Several writers at once: commands/s of `grant-ledger serve --workers N` on PostgreSQL.

Each run: a fresh database, the API with N workers in its own process, ~20 000 commands from this
process over loopback (httpx, 32 in flight): chains of one programme racing for the last of each
year's money, 2 % sent twice at once. Reported: commands/s, the share of lost write races the API
retried, the server's CPU per command and what the database's backends waited on (sampled from
pg_stat_activity). Every run ends with the audit of tests/load/audit.py.

Same-run baselines: N = 1 (the ratios), and PostgreSQL's own commit rate for one writer that
commits one small row at a time (what a serialised writer can do at most on this disk).
Two variants locate the limit: N = 4 over 8 programmes (no shared stream), and N = 4 with
synchronous_commit off (no waiting for the WAL flush).

GRANT_LEDGER_BENCH_LOAD_COMMANDS makes a quicker run.
"""

import os
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from tests.benchmarks.long_programme import database_url
from tests.conftest import postgres_base_url
from tests.load.run import LoadRun, WaitSampler, run_load

pytestmark = pytest.mark.postgres

LOAD_COMMANDS = int(os.environ.get("GRANT_LEDGER_BENCH_LOAD_COMMANDS") or 20_000)
IN_FLIGHT = 32
COMMIT_BASELINE_S = 3.0
PROBE_ROW_BYTES = 500
RESULTS: dict[str, float] = {}
TOP_WAITS = 6


@pytest.fixture
def load_database() -> Iterator[tuple[str, str]]:
    """(store URL, database name) of a database of the run's own, dropped afterwards."""
    name = f"gl_load_{uuid.uuid4().hex[:12]}"
    server = postgres_base_url()
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield database_url(server, name), name
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _report(benchmark: BenchmarkFixture, label: str, run: LoadRun) -> None:
    rate = run.commands_per_s()
    RESULTS[label] = rate
    waits = {name: round(backends, 3) for name, backends in run.waits.most_common(TOP_WAITS)}
    recorded = len({a.command_id for a in run.result.recorded()})
    baseline = RESULTS.get("workers=1")
    benchmark.extra_info.update(
        run=label,
        workers=run.workers,
        commands=run.result.commands(),
        recorded=recorded,
        refused=run.result.commands() - recorded,
        commands_per_s=round(rate),
        ratio_to_one_worker=round(rate / baseline, 2) if baseline else None,
        write_conflicts_per_recorded=round(run.conflict_share(), 3),
        commands_with_conflicts_share=round(run.result.commands_with_conflicts() / recorded, 3),
        server_cpu_ms_per_command=round(run.server_cpu_s / run.result.commands() * 1000, 2),
        client_cpu_ms_per_command=round(run.client_cpu_s / run.result.commands() * 1000, 2),
        requests_resent_after_a_broken_connection=run.result.transport_errors,
        database_backends_busy=waits,
        load=os.getloadavg()[0],
    )
    per_command_ms = 1000 / run.result.commands()
    print(
        f"\n{label}: {rate:,.0f} commands/s, {run.conflict_share():.1%} write conflicts retried "
        f"per recorded command, CPU per command: server {run.server_cpu_s * per_command_ms:.2f} "
        f"ms, load generator {run.client_cpu_s * per_command_ms:.2f} ms; database backends busy "
        f"on average: {waits}"
    )


def _load(
    store: tuple[str, str],
    workdir: Path,
    workers: int,
    programmes: int = 1,
    env: dict[str, str] | None = None,
) -> LoadRun:
    store_url, database = store
    return run_load(
        store_url,
        workers=workers,
        commands=LOAD_COMMANDS,
        in_flight=IN_FLIGHT,
        workdir=workdir,
        programmes=programmes,
        server_env=env,
        sampler=WaitSampler(postgres_base_url(), database),
    )


def _commit_rate(store_url: str, writers: int, rows: int, lock_table: bool) -> float:
    """Write transactions committed per second by `writers` connections at once, each of `rows`
    ~500-byte rows, optionally under the EXCLUSIVE table lock eventsourcing takes."""
    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS commit_probe")
        conn.execute("CREATE TABLE commit_probe (id bigserial PRIMARY KEY, state bytea)")
    commits = [0] * writers
    deadline = time.perf_counter() + COMMIT_BASELINE_S

    def write(slot: int) -> None:
        payload = os.urandom(PROBE_ROW_BYTES)
        with psycopg.connect(store_url) as conn:
            while time.perf_counter() < deadline:
                with conn.transaction():
                    if lock_table:
                        conn.execute("LOCK TABLE commit_probe IN EXCLUSIVE MODE")
                    for _ in range(rows):
                        conn.execute("INSERT INTO commit_probe (state) VALUES (%s)", (payload,))
                commits[slot] += 1

    threads = [threading.Thread(target=write, args=(slot,)) for slot in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(commits) / COMMIT_BASELINE_S


COMMIT_SHAPES = {
    "1 writer, 1 row": (1, 1, False),
    "1 writer, event + index row, table lock": (1, 2, True),
    "4 writers, event + index row, table lock": (4, 2, True),
    "4 writers, event + index row, no table lock": (4, 2, False),
}


@pytest.mark.benchmark(group="write-load")
def test_a_postgres_commit_rate_baseline(
    benchmark: BenchmarkFixture, load_database: tuple[str, str]
) -> None:
    """Baseline: what the store itself commits per second, in the ledger's transaction shape
    (an event and its index row, under the table lock) and without the lock."""

    def measure() -> dict[str, float]:
        return {
            label: _commit_rate(load_database[0], *shape) for label, shape in COMMIT_SHAPES.items()
        }

    rates = benchmark.pedantic(measure, rounds=1, iterations=1)
    RESULTS["commit_rate"] = rates["1 writer, event + index row, table lock"]
    benchmark.extra_info.update(
        commits_per_s={label: round(rate) for label, rate in rates.items()},
        load=os.getloadavg()[0],
    )
    for label, rate in rates.items():
        print(f"\nPostgreSQL commits/s, {label}: {rate:,.0f}")


@pytest.mark.benchmark(group="write-load")
@pytest.mark.parametrize("workers", [1, 2, 4])
def test_b_commands_per_second_with_n_workers(
    benchmark: BenchmarkFixture, load_database: tuple[str, str], tmp_path: Path, workers: int
) -> None:
    """N workers on one programme: commands/s and the share of write conflicts retried."""
    run = benchmark.pedantic(_load, args=(load_database, tmp_path, workers), rounds=1, iterations=1)
    _report(benchmark, f"workers={workers}", run)


# label -> (programmes, the API's extra environment)
VARIANTS: dict[str, tuple[int, dict[str, str] | None]] = {
    "workers=4, 8 programmes": (8, None),
    "workers=4, synchronous_commit off": (1, {"PGOPTIONS": "-c synchronous_commit=off"}),
}


@pytest.mark.benchmark(group="write-load")
@pytest.mark.parametrize("label", list(VARIANTS))
def test_c_where_the_limit_is(
    benchmark: BenchmarkFixture, load_database: tuple[str, str], tmp_path: Path, label: str
) -> None:
    """Four workers without a shared stream, and without waiting for fsync."""
    programmes, env = VARIANTS[label]
    run = benchmark.pedantic(
        _load, args=(load_database, tmp_path, 4, programmes, env), rounds=1, iterations=1
    )
    _report(benchmark, label, run)
