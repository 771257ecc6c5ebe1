"""`export events` streams: peak memory stays flat however long the ledger is.

A SQLite event store of GRANT_LEDGER_BENCH_EXPORT_EVENTS synthetic events (default 1 000 000;
the 10M figure in the note comes from GRANT_LEDGER_BENCH_EXPORT_EVENTS=10000000), written
straight into the store's table as the mapper stores them (a fast fill, not the command path),
is exported by the CLI in a fresh process whose peak RSS is measured. Target: under 500 MB.
"""

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from ledger.application.grant_ledger import PROGRAMME_EVENT_TOPIC, GrantLedger
from tests.ledgers.envelopes import synthetic_envelopes
from tests.settings import SUITE_SETTINGS

EVENTS = SUITE_SETTINGS.bench_export_events
PEAK_RSS_MAX_BYTES = 500 * 1024**2
INSERT_BATCH = 10_000
STATE_FIELDS = ("event_id", "effective_date", "actor", "agency", "command_id", "note")
# The export's own peak: VmHWM, the high-water mark of this process's memory. Not ru_maxrss:
# Linux carries the parent's high-water mark across fork/exec into it, so it reported this
# test process's (the store fill's, other fixtures') memory, the same for every format.
PEAK_SCRIPT = """
import sys, time
from commands.cli.main import main
started = time.perf_counter()
code = main(sys.argv[1:])
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
print(code, peak, time.perf_counter() - started)
"""


def stored_rows(events: int) -> Iterator[tuple[str, int, str, bytes]]:
    """The synthetic envelopes as the event store's rows (the mapper's JSON state)."""
    for envelope in synthetic_envelopes(events):
        state: dict[str, Any] = {name: envelope[name] for name in STATE_FIELDS}
        state.update(
            timestamp=envelope["recorded_at"],
            command_digest="0" * 64,
            schema_version=envelope["schema_version"],
            data=envelope["data"],
        )
        yield (
            envelope["aggregate_id"],
            envelope["aggregate_version"],
            PROGRAMME_EVENT_TOPIC,
            orjson.dumps(state),
        )


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, float]:
    """(store URL, seconds it took to fill)."""
    path = tmp_path_factory.mktemp("export-memory") / "ledger.db"
    GrantLedger(f"sqlite:///{path}").close()
    started = time.perf_counter()
    with sqlite3.connect(path) as conn:
        batch: list[tuple[str, int, str, bytes]] = []
        for row in stored_rows(EVENTS):
            batch.append(row)
            if len(batch) == INSERT_BATCH:
                conn.executemany("INSERT INTO stored_events VALUES (?, ?, ?, ?)", batch)
                batch = []
        conn.executemany("INSERT INTO stored_events VALUES (?, ?, ?, ?)", batch)
    return f"sqlite:///{path}", time.perf_counter() - started


@pytest.mark.parametrize("file_format", ["parquet", "jsonl", "csv"])
def test_export_peak_memory(
    benchmark: BenchmarkFixture, store: tuple[str, float], tmp_path: Path, file_format: str
) -> None:
    """The export in a fresh process: its peak RSS and its speed."""
    url, fill_s = store
    results: list[tuple[int, float]] = []

    def run() -> None:
        out = tmp_path / f"out-{len(results)}"
        args = ["export", "events", "--out", str(out), "--format", file_format, "--store", url]
        done = subprocess.run(
            [sys.executable, "-c", PEAK_SCRIPT, *args],
            capture_output=True,
            check=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        code, peak, elapsed = done.stdout.split()[-3:]
        assert int(code) == 0, done.stderr
        results.append((int(peak), float(elapsed)))

    benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    peak, elapsed = max(results)
    benchmark.extra_info.update(
        events=EVENTS,
        peak_rss_mib=round(peak / 2**20),
        events_per_s=round(EVENTS / elapsed),
        store_fill_s=round(fill_s, 1),
    )
    print(
        f"\nexport of {EVENTS:,} events as {file_format}: peak RSS {peak / 2**20:,.0f} MiB, "
        f"{EVENTS / elapsed:,.0f} events/s (store filled in {fill_s:.0f} s)"
    )
    assert peak < PEAK_RSS_MAX_BYTES
