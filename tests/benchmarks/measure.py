"""What the benchmarks share: their sizes, results passed between modules, the Kafka baseline.

Sizes can be lowered for a quick run with GRANT_LEDGER_BENCH_KAFKA_EVENTS /
GRANT_LEDGER_BENCH_REPLAY_EVENTS; the targets hold at the specified sizes, smaller quick runs only
report (fixed costs such as the idle window and process start dominate there).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from ledger.infrastructure.kafka.reading import consumer_config

KAFKA_EVENTS_ENV = "GRANT_LEDGER_BENCH_KAFKA_EVENTS"
REPLAY_EVENTS_ENV = "GRANT_LEDGER_BENCH_REPLAY_EVENTS"
BENCH_KAFKA_EVENTS = int(os.environ.get(KAFKA_EVENTS_ENV) or 1_000_000)
BENCH_REPLAY_EVENTS = int(os.environ.get(REPLAY_EVENTS_ENV) or 10_000_000)
BENCH_IDLE_MS = 1_000
FULL_KAFKA_EVENTS = 1_000_000
FULL_REPLAY_EVENTS = 10_000_000
# Results shared between benchmark modules of one session (e.g. the baseline's events/s).
BENCH_RESULTS: dict[str, float] = {}


@dataclass(frozen=True)
class BenchTopic:
    """The benchmark topic and its checkpoints."""

    bootstrap: str
    topic: str
    checkpoint_topic: str
    events: int


def bare_consumer_count(bench: BenchTopic, idle_ms: int = BENCH_IDLE_MS) -> int:
    """The baseline: a bare kafka-python loop (assign, poll until quiet, count)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bench.bootstrap, **consumer_config(client_id="bench-baseline")
    )
    try:
        partitions = [
            TopicPartition(bench.topic, p)
            for p in sorted(consumer.partitions_for_topic(bench.topic) or ())
        ]
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        count = 0
        while True:
            batches = consumer.poll(timeout_ms=idle_ms, max_records=20_000)
            if not batches:
                return count
            for records in batches.values():
                count += len(records)
    finally:
        consumer.close()


def median_seconds(benchmark: Any) -> float:
    """The median of a finished pytest-benchmark run."""
    stats = benchmark.stats
    assert stats is not None, "run the benchmark first"
    return float(stats.stats.median)
