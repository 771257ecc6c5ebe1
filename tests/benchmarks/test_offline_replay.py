"""Offline replay of a Parquet export against the same-run `rebuild` from the local replay store.

The export holds GRANT_LEDGER_BENCH_OFFLINE_EVENTS synthetic envelopes (default 1 000 000) with
a real hash chain; the replay store holds the same plan's columns. The offline replay proves the
export (file hashes, every event's hash and link from genesis, every checkpoint) and then sums
it with the engine; the rebuild verifies its store (CRC-32C, positions, checkpoint prefixes) and
sums it. Target: the offline replay at >= 1M events/s; the ratio to the rebuild is reported.
Both also report the CPU they spent an event (every thread of this process and any child, user
and system): on cores shared with other work the wall-clock rate follows the load, the CPU much
less.
"""

import os
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from ledger.audit.export import export_events
from ledger.audit.export_sources import RecordSource
from ledger.proof.coordinates import MessageAt
from projections.application.memory import keep_freed_memory
from projections.application.offline_replay import export_balances, verify_export
from projections.application.rebuild import rebuild
from projections.domain.asof import AsOf
from projections.domain.filters import Filters
from projections.domain.rows import View
from projections.replay import ReplayStore
from projections.store.read_store import ReadStore
from schemas.envelope import Checkpoint
from tests.benchmarks.measure import BENCH_RESULTS, measured_cpu, median, median_seconds
from tests.export_files import checkpoints_of, rewrite, signed
from tests.ledgers.envelopes import synthetic_envelopes
from tests.ledgers.vectorised import CHECKPOINT_EVERY, synthetic_columns
from tests.settings import FULL_OFFLINE_EVENTS as FULL_EVENTS
from tests.settings import SUITE_SETTINGS
from tests.signing import ledger_signer, ledger_trust

EVENTS = SUITE_SETTINGS.bench_offline_events
MIN_EVENTS_PER_S = 1_000_000
ROUNDS = 3
MICROSECONDS = 1_000_000


def cpu_us_per_event(spent: list[float], events: int) -> float:
    """The median round's CPU, in microseconds an event."""
    return median(spent) * MICROSECONDS / events


@dataclass(frozen=True)
class Ledgers:
    """The export and the replay store of the same plan."""

    export: Path
    replay: Path
    checkpoints: list[Checkpoint]
    events: int


@pytest.fixture(scope="module")
def ledgers(tmp_path_factory: pytest.TempPathFactory) -> Ledgers:
    """Write both once."""
    keep_freed_memory()
    directory = tmp_path_factory.mktemp("offline")
    source = RecordSource(synthetic_envelopes(EVENTS), EVENTS)
    export_events(
        source, directory / "export", "parquet", first_position=1, checkpoint_every=CHECKPOINT_EVERY
    )
    # An export from the store has its checkpoints unsigned; the relay's are signed.
    relays = signed(checkpoints_of(directory / "export", "parquet"), lambda _: ledger_signer())
    rewrite(directory / "export", "parquet", "checkpoints", relays)
    columns, dictionaries, checkpoints = synthetic_columns(EVENTS)
    store = ReplayStore(directory / "replay", durable=False)
    with store.writing():
        store.rewrite(
            columns,
            dictionaries=dictionaries,
            max_position_hash=checkpoints[-1].hash,
            topic=None,
            partitions={},
        )
    return Ledgers(directory / "export", directory / "replay", checkpoints, EVENTS)


def test_rebuild_from_the_local_replay_store(benchmark: BenchmarkFixture, ledgers: Ledgers) -> None:
    """The baseline, same run, same events."""

    def run() -> None:
        with ReadStore.open(f"sqlite:///{ledgers.replay.parent / 'read.db'}") as read_store:
            rebuild(
                read_store,
                ReplayStore(ledgers.replay),
                source="local",
                checkpoints=[
                    (c, MessageAt("checkpoints", 0, i)) for i, c in enumerate(ledgers.checkpoints)
                ],
            )

    spent: list[float] = []
    benchmark.pedantic(measured_cpu(run, spent), rounds=ROUNDS, iterations=1, warmup_rounds=0)
    BENCH_RESULTS["offline_rebuild_s"] = median_seconds(benchmark)
    BENCH_RESULTS["offline_rebuild_cpu_us"] = cpu_us_per_event(spent, ledgers.events)
    benchmark.extra_info.update(
        events=ledgers.events,
        events_per_s=round(ledgers.events / median_seconds(benchmark)),
        cpu_us_per_event=round(BENCH_RESULTS["offline_rebuild_cpu_us"], 3),
    )


def test_offline_replay_of_a_parquet_export(benchmark: BenchmarkFixture, ledgers: Ledgers) -> None:
    """Prove the export, then one view's balances (and an as-of question over the same columns)."""

    def run() -> int:
        replayed = verify_export(ledgers.export, ledger_trust())
        rows = export_balances(
            replayed, View.RECIPIENT_YEAR, Filters(), AsOf(), today=date(2036, 1, 1)
        )
        export_balances(
            replayed,
            View.AGENCY_YEAR,
            Filters(),
            AsOf(as_of_date=date(2030, 6, 30)),
            today=date(2036, 1, 1),
        )
        return len(rows)

    spent: list[float] = []
    rows = benchmark.pedantic(
        measured_cpu(run, spent), rounds=ROUNDS, iterations=1, warmup_rounds=0
    )
    assert rows
    cpu_us = cpu_us_per_event(spent, ledgers.events)
    rebuild_cpu_us = BENCH_RESULTS.get("offline_rebuild_cpu_us")
    median_s = median_seconds(benchmark)
    rate = ledgers.events / median_s
    rebuild_s = BENCH_RESULTS.get("offline_rebuild_s")
    ratio = None if rebuild_s is None else rebuild_s / median_s
    benchmark.extra_info.update(
        events=ledgers.events,
        events_per_s=round(rate),
        speed_vs_rebuild=None if ratio is None else round(ratio, 3),
        cpu_us_per_event=round(cpu_us, 3),
    )
    print(
        f"\noffline replay of {ledgers.events:,} events (Parquet): {rate:,.0f} events/s"
        + ("" if ratio is None else f" = {ratio:.2f}x the same-run rebuild's speed")
        + f"; CPU {cpu_us:.2f} µs an event"
        + ("" if rebuild_cpu_us is None else f" (the rebuild's {rebuild_cpu_us:.2f})")
        + f"; load {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores"
    )
    if ledgers.events >= FULL_EVENTS:
        assert rate >= MIN_EVENTS_PER_S
