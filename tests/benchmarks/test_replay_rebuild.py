"""Benchmarks on a 10M-event replay store (columns generated directly, vectorised):
(c) rebuild from the local replay store: at least 100x the baseline's events/s, peak memory
under 2 GB, under 64 bytes per event on disk; (d) one as-of question: under 1/20 of the rebuild.
"""

import subprocess
import sys
import textwrap
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from ledger.proof.coordinates import MessageAt
from projections.application.memory import keep_freed_memory
from projections.application.query import replay_balances
from projections.application.rebuild import rebuild, replay_bytes
from projections.domain.asof import AsOf
from projections.domain.rows import View
from projections.domain.selection import Selection
from projections.replay.store import ReplayStore
from projections.store.read_store import ReadStore
from schemas.envelope import Checkpoint
from tests.synthetic_ledger import (
    BENCH_REPLAY_EVENTS,
    BENCH_RESULTS,
    FULL_REPLAY_EVENTS,
    baseline_events_per_s,  # noqa: F401 (fixture)
    bench_topic,  # noqa: F401 (fixture)
    median_seconds,
    synthetic_columns,
)

REBUILD_MIN_RATIO = 100
PEAK_MEMORY_MAX_BYTES = 2 * 1024**3
BYTES_PER_EVENT_MAX = 64
QUERY_MAX_SHARE_OF_REBUILD = 1 / 20
REBUILD_ROUNDS = 3
QUERY_ROUNDS = 10


@dataclass(frozen=True)
class LocalLedger:
    """A replay store of BENCH_REPLAY_EVENTS events and the checkpoints of its chain."""

    directory: Path
    checkpoints: list[Checkpoint]
    events: int


@pytest.fixture(scope="module")
def local_ledger(tmp_path_factory: pytest.TempPathFactory) -> LocalLedger:
    """Generate the columns (deterministic seed) and write them as a replay store."""
    keep_freed_memory()
    columns, dictionaries, checkpoints = synthetic_columns(BENCH_REPLAY_EVENTS)
    directory = tmp_path_factory.mktemp("replay10m")
    store = ReplayStore(directory / "replay", durable=False)
    with store.writing():
        store.rewrite(
            columns,
            dictionaries=dictionaries,
            max_position_hash=checkpoints[-1].hash,
            topic=None,
            partitions={},
        )
    return LocalLedger(directory, checkpoints, columns.event_count)


def signed(checkpoints: list[Checkpoint]) -> list[tuple[Checkpoint, MessageAt]]:
    """Checkpoints as read from their topic (these are verified by construction)."""
    return [(c, MessageAt("checkpoints", 0, i)) for i, c in enumerate(checkpoints)]


def rebuild_local(ledger: LocalLedger) -> None:
    """Verify the store against the checkpoints, rebuild every projection, swap it in."""
    with ReadStore.open(f"sqlite:///{ledger.directory / 'read.db'}") as read_store:
        report = rebuild(
            read_store,
            ReplayStore(ledger.directory / "replay"),
            source="local",
            checkpoints=[
                (c, MessageAt("checkpoints", 0, i)) for i, c in enumerate(ledger.checkpoints)
            ],
        )
    assert report.events == ledger.events and report.checkpoints_checked == len(ledger.checkpoints)


PEAK_MEMORY_SCRIPT = textwrap.dedent(
    """
    import pickle, resource, sys, time
    from pathlib import Path
    from projections.application.memory import keep_freed_memory
    from ledger.proof.coordinates import MessageAt
    from projections.application.rebuild import rebuild
    from projections.replay.store import ReplayStore
    from projections.store.read_store import ReadStore
    keep_freed_memory()
    directory = Path(sys.argv[1])
    checkpoints = pickle.loads(sys.stdin.buffer.read())
    started = time.perf_counter()
    with ReadStore.open(f"sqlite:///{directory / 'cold.db'}") as read_store:
        replay = ReplayStore(directory / "replay")
        signed = [(c, MessageAt("checkpoints", 0, i)) for i, c in enumerate(checkpoints)]
        rebuild(read_store, replay, source="local", checkpoints=signed)
    elapsed = time.perf_counter() - started
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, elapsed)
    """
)


def cold_rebuild_in_subprocess(ledger: LocalLedger) -> tuple[int, float]:
    """(peak RSS bytes, seconds) of a rebuild in a fresh process."""
    import pickle  # noqa: PLC0415 (only here)

    done = subprocess.run(
        [sys.executable, "-c", PEAK_MEMORY_SCRIPT, str(ledger.directory)],
        input=pickle.dumps(ledger.checkpoints),
        capture_output=True,
        check=True,
    )
    peak, elapsed = done.stdout.split()
    return int(peak), float(elapsed)


def test_c_rebuild_from_the_local_replay_store(
    benchmark: BenchmarkFixture,
    local_ledger: LocalLedger,
    baseline_events_per_s: float,  # noqa: F811
) -> None:
    """>= 100x the bare consumer's events/s, < 2 GB peak, < 64 bytes/event on disk."""
    benchmark.pedantic(
        rebuild_local, args=(local_ledger,), rounds=REBUILD_ROUNDS, iterations=1, warmup_rounds=0
    )
    median_s = median_seconds(benchmark)
    rate = local_ledger.events / median_s
    ratio = rate / baseline_events_per_s
    peak_bytes, cold_s = cold_rebuild_in_subprocess(local_ledger)
    bytes_per_event = (
        replay_bytes(ReplayStore(local_ledger.directory / "replay")) / local_ledger.events
    )
    BENCH_RESULTS["rebuild_local_s"] = median_s
    benchmark.extra_info.update(
        events=local_ledger.events,
        events_per_s=round(rate),
        ratio_to_baseline=round(ratio, 1),
        cold_process_s=round(cold_s, 3),
        cold_events_per_s=round(local_ledger.events / cold_s),
        peak_rss_mib=round(peak_bytes / 2**20),
        bytes_per_event=round(bytes_per_event, 1),
    )
    print(
        f"\n(c) rebuild from the local store: {rate:,.0f} events/s = {ratio:.0f}x the baseline "
        f"({local_ledger.events / cold_s:,.0f} events/s in a cold process); peak "
        f"{peak_bytes / 2**20:,.0f} MiB; {bytes_per_event:.1f} bytes/event"
    )
    assert peak_bytes < PEAK_MEMORY_MAX_BYTES
    assert bytes_per_event < BYTES_PER_EVENT_MAX
    if local_ledger.events >= FULL_REPLAY_EVENTS:
        # The target is held on the benchmark's own measurement (median of the rounds); the
        # first rebuild in a fresh process (page faults for ~1 GB) is reported beside it, and
        # has measured 99x-137x here depending on what else the two cores were doing.
        assert ratio >= REBUILD_MIN_RATIO


@pytest.mark.parametrize(
    ("name", "view", "as_of"),
    [
        ("position", View.AGENCY_YEAR, AsOf(at_position=7_654_321)),
        ("position", View.RECIPIENT_YEAR, AsOf(at_position=7_654_321)),
        ("date", View.AGENCY_YEAR, AsOf(as_of_date=date(2030, 6, 30))),
        ("date", View.RECIPIENT_YEAR, AsOf(as_of_date=date(2030, 6, 30))),
    ],
)
def test_d_as_of_question(
    benchmark: BenchmarkFixture, local_ledger: LocalLedger, name: str, view: View, as_of: AsOf
) -> None:
    """One as-of question on the 10M ledger (index + a scan of the straddled chunks)."""
    if "rebuild_local_s" not in BENCH_RESULTS:
        rebuild_local(local_ledger)  # builds the as-of index
        pytest.skip("run with test_c for the ratio")
    replay = ReplayStore(local_ledger.directory / "replay")
    rows = benchmark.pedantic(
        replay_balances,
        args=(replay, view, Selection(), as_of),
        rounds=QUERY_ROUNDS,
        iterations=1,
        warmup_rounds=1,
    )
    assert rows
    share = median_seconds(benchmark) / BENCH_RESULTS["rebuild_local_s"]
    benchmark.extra_info.update(
        question=name, view=view.value, rows=len(rows), share_of_rebuild=round(share, 4)
    )
    print(f"\n(d) as-of {name} ({view.value}, {len(rows)} rows): 1/{1 / share:.0f} of the rebuild")
    if local_ledger.events >= FULL_REPLAY_EVENTS:
        assert share < QUERY_MAX_SHARE_OF_REBUILD
