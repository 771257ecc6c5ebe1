"""Benchmarks on a 1M-event topic: (a) a bare kafka-python consumer loop, the baseline;
(b) `rebuild --from kafka`, which must reach at least 0.85x the baseline's events/s."""

from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from projections.application.rebuild import KafkaSource, rebuild
from projections.replay import ReplayStore
from projections.store.read_store import ReadStore
from tests.benchmarks.measure import (
    BENCH_RESULTS,
    FULL_KAFKA_EVENTS,
    BenchTopic,
    bare_consumer_count,
    median_seconds,
)
from tests.signing import ledger_trust

KAFKA_REBUILD_MIN_RATIO = 0.85
ROUNDS = 2


def test_a_baseline_bare_consumer(benchmark: BenchmarkFixture, bench_topic: BenchTopic) -> None:
    """Assign all partitions, poll until quiet, count: kafka-python's own speed here."""
    count = benchmark.pedantic(
        bare_consumer_count, args=(bench_topic,), rounds=ROUNDS, iterations=1
    )
    assert count == bench_topic.events
    rate = bench_topic.events / median_seconds(benchmark)
    BENCH_RESULTS["baseline_events_per_s"] = rate
    benchmark.extra_info.update(events=bench_topic.events, events_per_s=round(rate))
    print(f"\n(a) baseline: {rate:,.0f} events/s")


def test_b_rebuild_from_kafka(
    benchmark: BenchmarkFixture,
    bench_topic: BenchTopic,
    baseline_events_per_s: float,
    tmp_path: Path,
) -> None:
    """Fetch (partitions split over processes), verify the chain, write the replay store,
    rebuild and swap the read store."""
    kafka = KafkaSource(
        bench_topic.bootstrap, bench_topic.topic, bench_topic.checkpoint_topic, ledger_trust()
    )
    reports = []

    def run() -> None:
        with ReadStore.open(f"sqlite:///{tmp_path / 'read.db'}") as read_store:
            reports.append(
                rebuild(
                    read_store,
                    ReplayStore(tmp_path / "replay", durable=False),
                    source="kafka",
                    kafka=kafka,
                )
            )

    benchmark.pedantic(run, rounds=ROUNDS, iterations=1)
    report = reports[-1]
    assert report.events == bench_topic.events
    assert report.checkpoints_checked >= bench_topic.events // 1_000
    rate = bench_topic.events / median_seconds(benchmark)
    ratio = rate / baseline_events_per_s
    benchmark.extra_info.update(
        events=bench_topic.events,
        events_per_s=round(rate),
        baseline_events_per_s=round(baseline_events_per_s),
        ratio_to_baseline=round(ratio, 3),
        fetch_s=round(report.fetch_s, 2),
        compute_s=round(report.compute_s, 3),
        swap_s=round(report.swap_s, 3),
    )
    print(f"\n(b) rebuild --from kafka: {rate:,.0f} events/s = {ratio:.2f}x the baseline")
    if bench_topic.events >= FULL_KAFKA_EVENTS:
        assert ratio >= KAFKA_REBUILD_MIN_RATIO, f"{ratio:.2f}x the baseline"


pytestmark = pytest.mark.kafka
