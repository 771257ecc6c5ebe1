"""Benchmark fixtures, session-scoped: the 1M-event topic is produced once (about a minute) and
the bare-consumer baseline is shared by the benchmarks that compare against it."""

from __future__ import annotations

import time
import uuid

import pytest

from tests.benchmarks.measure import (
    BENCH_KAFKA_EVENTS,
    BENCH_RESULTS,
    BenchTopic,
    bare_consumer_count,
)
from tests.ledgers.envelopes import synthetic_envelopes
from tests.ledgers.kafka_topic import produce_envelopes


@pytest.fixture(scope="session")
def bench_topic(kafka_bootstrap: str) -> BenchTopic:
    """BENCH_KAFKA_EVENTS synthetic envelopes (real chain) on 6 partitions, with checkpoints."""
    topic = f"gl-bench-{uuid.uuid4().hex[:8]}"
    checkpoint_topic = f"{topic}.checkpoints"
    sent = produce_envelopes(
        kafka_bootstrap,
        topic,
        synthetic_envelopes(BENCH_KAFKA_EVENTS),
        checkpoint_topic=checkpoint_topic,
    )
    assert sent == BENCH_KAFKA_EVENTS
    return BenchTopic(kafka_bootstrap, topic, checkpoint_topic, sent)


@pytest.fixture(scope="session")
def baseline_events_per_s(bench_topic: BenchTopic) -> float:
    """The baseline's events/s: from the baseline benchmark when it ran, else measured once."""
    if "baseline_events_per_s" not in BENCH_RESULTS:
        started = time.perf_counter()
        assert bare_consumer_count(bench_topic) == bench_topic.events
        BENCH_RESULTS["baseline_events_per_s"] = bench_topic.events / (
            time.perf_counter() - started
        )
    return BENCH_RESULTS["baseline_events_per_s"]
