"""The fast consumer path for rebuilds: every message of the topic into replay columns.

Partitions are split over worker processes (one per core): kafka-python's record parsing, not
the broker, is the limit, so each core parses its own partitions. Each worker assigns its
partitions (no group, no commits), reads from the start (or from given offsets) until nothing
arrives for an idle window, and returns columns; the parent merges their dictionaries. The dev
broker's reported end offsets are low (first offset of its last batch + 1), so they serve only
as a lower bound of what must come.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kafka import TopicPartition

from ledger.domain.errors import LedgerError
from ledger.infrastructure.kafka.clients import open_consumer
from ledger.infrastructure.kafka.reading import FETCH_MAX_WAIT_MS, consumer_config
from ledger.infrastructure.kafka.security import KafkaEndpoint
from projections.consumer.columnizer import Columnizer
from projections.replay import Dictionaries, PartitionMark, ReplayColumns, concatenate

DEFAULT_IDLE_MS = 1_000
# Lists of Python objects cost ~10x the columns: turn them into arrays every so many events.
COLUMN_CHUNK_EVENTS = 250_000
POLL_MAX_RECORDS = 20_000
# The reported end offsets must be reached (they are a lower bound); if records stop coming
# below them for this long, the broker is not delivering.
STALL_TIMEOUT_MS = 15_000
PROGRESS_EVERY_S = 0.2

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class Fetched:
    """What a fetch read: columns in arrival order, their dictionaries, per-partition marks."""

    columns: ReplayColumns
    dictionaries: Dictionaries
    marks: dict[int, PartitionMark]
    newest: tuple[int, str] | None
    messages: int
    elapsed_s: float


def topic_partitions(bootstrap_servers: KafkaEndpoint | str, topic: str) -> list[int]:
    """The partition numbers of a topic."""
    consumer = open_consumer(bootstrap_servers, **consumer_config(client_id="grant-ledger-meta"))
    try:
        partitions = consumer.partitions_for_topic(topic)
    finally:
        consumer.close()
    if not partitions:
        raise LedgerError("topic", topic, f"does not exist on {bootstrap_servers}")
    return sorted(partitions)


@dataclass(frozen=True)
class FetchJob:
    """Some partitions of a topic to read to the end."""

    bootstrap_servers: KafkaEndpoint | str
    topic: str
    partitions: list[int]
    start_offsets: dict[int, int]
    idle_ms: int


WorkerResult = tuple[
    ReplayColumns, dict[str, list[str]], dict[int, PartitionMark], tuple[int, str] | None, int
]


def _fetch_partitions(job: FetchJob, counter: Any) -> WorkerResult:
    """Read some partitions to the end; runs in a worker process (or in-process for one)."""
    bootstrap_servers, topic, idle_ms = job.bootstrap_servers, job.topic, job.idle_ms
    start_offsets = job.start_offsets
    dictionaries = Dictionaries()
    consumer = open_consumer(bootstrap_servers, **consumer_config(client_id="grant-ledger-rebuild"))
    try:
        assigned = [TopicPartition(topic, p) for p in job.partitions]
        consumer.assign(assigned)
        for tp in assigned:
            if tp.partition in start_offsets:
                consumer.seek(tp, start_offsets[tp.partition])
            else:
                consumer.seek_to_beginning(tp)
        lower_bounds = consumer.end_offsets(assigned)
        columnizer = Columnizer(dictionaries)
        chunks: list[ReplayColumns] = []
        marks: dict[int, PartitionMark] = {}
        newest: tuple[int, str] | None = None
        messages = 0
        reported = 0
        last_record_at = last_report_at = time.monotonic()
        while True:
            batches = consumer.poll(timeout_ms=idle_ms, max_records=POLL_MAX_RECORDS)
            now = time.monotonic()
            if batches:
                last_record_at = now
                add = columnizer.add
                for tp, records in batches.items():
                    top = 0
                    for record in records:
                        position = add(record.value)
                        top = max(top, position)
                    old = marks.get(tp.partition)
                    marks[tp.partition] = PartitionMark(
                        records[-1].offset + 1, max(top, old.max_position if old else 0)
                    )
                    messages += len(records)
                if len(columnizer) >= COLUMN_CHUNK_EVENTS:
                    newest = _newer(newest, columnizer.newest)
                    chunks.append(columnizer.build())
                    columnizer = Columnizer(dictionaries)
                if now - last_report_at >= PROGRESS_EVERY_S:
                    with counter.get_lock():
                        counter.value += messages - reported
                    reported, last_report_at = messages, now
                continue
            behind = sorted(
                tp.partition for tp in assigned if consumer.position(tp) < lower_bounds[tp]
            )
            if not behind:
                break
            if (now - last_record_at) * 1000 >= STALL_TIMEOUT_MS:
                raise LedgerError(
                    "topic", topic, f"partitions {behind} stopped below their reported end offsets"
                )
        newest = _newer(newest, columnizer.newest)
        chunks.append(columnizer.build())
        with counter.get_lock():
            counter.value += messages - reported
    finally:
        consumer.close()
    return concatenate(chunks), dictionaries.as_lists(), marks, newest, messages


def fetch_topic(
    bootstrap_servers: KafkaEndpoint | str,
    topic: str,
    *,
    start_offsets: dict[int, int] | None = None,
    idle_ms: int = DEFAULT_IDLE_MS,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
) -> Fetched:
    """Read the topic into columns, with per-partition marks and the newest (position, hash)."""
    if idle_ms <= FETCH_MAX_WAIT_MS:
        raise LedgerError(
            "--idle-ms", idle_ms, f"must be more than the fetch wait ({FETCH_MAX_WAIT_MS} ms)"
        )
    started = time.perf_counter()
    partitions = topic_partitions(bootstrap_servers, topic)
    count = max(1, min(workers or os.cpu_count() or 1, len(partitions)))
    # Round-robin: each worker gets every count-th partition.
    shares = [partitions[index::count] for index in range(count)]
    context = multiprocessing.get_context("fork")
    counter = context.Value("q", 0)
    offsets = dict(start_offsets or {})
    jobs = [FetchJob(bootstrap_servers, topic, share, offsets, idle_ms) for share in shares]
    if count == 1:
        results = [_fetch_partitions(jobs[0], counter)]
    else:
        results = _in_workers(context, counter, progress, jobs)
    if progress is not None:
        progress(int(counter.value))
    dictionaries = Dictionaries()
    parts: list[ReplayColumns] = []
    marks: dict[int, PartitionMark] = {}
    newest: tuple[int, str] | None = None
    messages = 0
    for columns, lists, worker_marks, worker_newest, worker_messages in results:
        parts.append(columns.recoded(lists, dictionaries))
        marks.update(worker_marks)
        newest = _newer(newest, worker_newest)
        messages += worker_messages
    return Fetched(
        concatenate(parts), dictionaries, marks, newest, messages, time.perf_counter() - started
    )


def _in_workers(
    context: Any, counter: Any, progress: ProgressCallback | None, jobs: list[FetchJob]
) -> list[WorkerResult]:
    """Run one fetch per job in forked processes (the counter is shared by inheritance)."""
    pipes = []
    processes = []
    for job in jobs:
        receiver, sender = context.Pipe(duplex=False)

        def work(job: FetchJob = job, sender: Any = sender) -> None:
            try:
                sender.send(("ok", _fetch_partitions(job, counter)))
            except BaseException as exc:
                sender.send(("error", exc))
            finally:
                sender.close()

        process = context.Process(target=work, daemon=True)
        process.start()
        sender.close()
        pipes.append(receiver)
        processes.append(process)
    results: list[Any] = [None] * len(jobs)
    waiting = dict(enumerate(pipes))
    try:
        while waiting:
            for index, receiver in list(waiting.items()):
                if receiver.poll(PROGRESS_EVERY_S / len(waiting)):
                    status, payload = receiver.recv()
                    if status == "error":
                        raise payload
                    results[index] = payload
                    del waiting[index]
            if progress is not None:
                progress(int(counter.value))
    finally:
        for process in processes:
            if process.is_alive() and waiting:
                process.terminate()
            process.join()
    return results


def _newer(a: tuple[int, str] | None, b: tuple[int, str] | None) -> tuple[int, str] | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if a[0] >= b[0] else b


def topic_size(bootstrap_servers: KafkaEndpoint | str, topic: str) -> int:
    """Messages on the topic as the broker reports them (a lower bound on the dev broker)."""
    consumer = open_consumer(bootstrap_servers, **consumer_config(client_id="grant-ledger-meta"))
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, p) for p in partitions]
        if not assigned:
            return 0
        ends = consumer.end_offsets(assigned)
        starts = consumer.beginning_offsets(assigned)
        return int(sum(ends[tp] - starts[tp] for tp in assigned))
    finally:
        consumer.close()
