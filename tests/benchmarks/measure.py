"""What the benchmarks share: their sizes, results passed between modules, the Kafka baseline.

Sizes can be lowered for a quick run with GRANT_LEDGER_BENCH_KAFKA_EVENTS /
GRANT_LEDGER_BENCH_REPLAY_EVENTS (tests/settings.py); the targets hold at the specified sizes,
smaller quick runs only report (fixed costs such as the idle window and process start dominate
there).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from kafka import KafkaConsumer, TopicPartition

from ledger.infrastructure.kafka.reading import consumer_config
from projections.replay import ReplayColumns
from tests.settings import SUITE_SETTINGS

BENCH_KAFKA_EVENTS = SUITE_SETTINGS.bench_kafka_events
BENCH_REPLAY_EVENTS = SUITE_SETTINGS.bench_replay_events
BENCH_IDLE_MS = 1_000
# Results shared between benchmark modules of one session (e.g. the baseline's events/s).
BENCH_RESULTS: dict[str, float] = {}
Result = TypeVar("Result")


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


def cpu_seconds() -> float:
    """CPU this process (every thread) and its reaped children have used."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def measured_cpu(run: Callable[[], Result], spent: list[float]) -> Callable[[], Result]:
    """`run`, appending the CPU seconds of each call to `spent`: on a shared machine the wall
    clock also measures other people's work, the CPU only ours."""

    def measured() -> Result:
        before = cpu_seconds()
        result = run()
        spent.append(cpu_seconds() - before)
        return result

    return measured


def median(values: list[float]) -> float:
    """The middle value (the upper one of an even count)."""
    return sorted(values)[len(values) // 2]


def median_seconds(benchmark: Any) -> float:
    """The median of a finished pytest-benchmark run."""
    stats = benchmark.stats
    assert stats is not None, "run the benchmark first"
    return float(stats.stats.median)


def bare_numpy_pass(columns: ReplayColumns, chunk_events: int = 1 << 18) -> int:
    """The memory limit: one exact group-by over the replay columns and nothing else.

    Per chunk: a key per event from its programme, recipient and kind, repeated per posting and
    widened by the posting's year, and the amounts scatter-added into a dense int64 array. No
    verification, no as-of index, no agency periods, no read store. Returns the bins reached.
    """
    events, postings = columns.events, columns.postings
    kinds = int(events.kind.max()) + 1
    recipients = int(events.recipient.max()) + 1
    first_year = int(postings.year.min())
    years = int(postings.year.max()) - first_year + 1
    sums = np.zeros((int(events.programme.max()) + 1) * recipients * kinds * years, np.int64)
    posting_start = 0
    for start in range(0, len(events), chunk_events):
        rows = slice(start, start + chunk_events)
        counts = events.posting_count[rows].astype(np.intp)
        posting_stop = posting_start + int(counts.sum())
        keys = events.programme[rows].astype(np.intp)
        keys *= recipients
        keys += events.recipient[rows]
        keys *= kinds
        keys += events.kind[rows]
        bins = np.repeat(keys, counts)
        bins *= years
        bins += postings.year[posting_start:posting_stop]
        bins -= first_year
        np.add.at(sums, bins, postings.amount_ore[posting_start:posting_stop])
        posting_start = posting_stop
    return int(np.count_nonzero(sums))
