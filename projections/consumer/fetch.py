"""The fast consumer path for rebuilds: every message of the topic into replay columns.

Partitions are split over worker processes (one per core): kafka-python's record parsing, not
the broker, is the limit, so each core parses its own partitions. Each worker assigns its
partitions (no group, no commits), reads from the start (or from given offsets) to the end
offsets reported when it began (ledger.infrastructure.kafka.reading: exact, no idle window), and
returns columns plus each message's chain link and place; the parent merges them and proves
the whole (ledger.proof.bulk) before anything is applied. A message that is not an envelope, or
does not match its own hash, stops the rebuild naming where it is (unless skipped).
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from kafka import TopicPartition

from ledger.infrastructure.kafka.clients import open_consumer
from ledger.infrastructure.kafka.errors import BrokerUnavailable
from ledger.infrastructure.kafka.reading import DRAIN_POLL_MS, consumer_config, read_position
from ledger.infrastructure.kafka.security import KafkaEndpoint
from ledger.proof.bulk import ChainColumns, hashes_of
from ledger.proof.coordinates import MessageAt
from ledger.proof.errors import PoisonMessage
from ledger.proof.messages import read_envelope
from ledger.proof.skips import RecordedSkip, Skips
from projections.consumer.columnizer import Columnizer
from projections.replay import Dictionaries, PartitionMark, ReplayColumns, concatenate

# Lists of Python objects cost ~10x the columns: turn them into arrays every so many events.
COLUMN_CHUNK_EVENTS = 250_000
POLL_MAX_RECORDS = 20_000
# The reported end offsets must be reached; if records stop coming below them for this long,
# the broker is not delivering.
STALL_TIMEOUT_MS = 15_000
PROGRESS_EVERY_S = 0.2

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class Fetched:
    """What a fetch read: columns in arrival order, their dictionaries, per-partition marks,
    each message's chain link and place (same rows), and the skips it recorded."""

    columns: ReplayColumns
    dictionaries: Dictionaries
    marks: dict[int, PartitionMark]
    newest: tuple[int, str] | None
    messages: int
    elapsed_s: float
    chain: ChainColumns
    skipped: list[RecordedSkip]


def topic_partitions(bootstrap_servers: KafkaEndpoint | str, topic: str) -> list[int]:
    """The partition numbers of a topic."""
    consumer = open_consumer(bootstrap_servers, **consumer_config(client_id="grant-ledger-meta"))
    try:
        partitions = consumer.partitions_for_topic(topic)
    finally:
        consumer.close()
    if not partitions:
        raise BrokerUnavailable("topic", topic, f"does not exist on {bootstrap_servers}")
    return sorted(partitions)


@dataclass(frozen=True)
class FetchJob:
    """Some partitions of a topic to read to the end."""

    bootstrap_servers: KafkaEndpoint | str
    topic: str
    partitions: list[int]
    start_offsets: dict[int, int]
    skips: Skips | None


@dataclass
class _Links:
    """Each message's chain link and place, as lists (arrays at the end)."""

    hashes: list[str] = field(default_factory=list)
    prev_hashes: list[str] = field(default_factory=list)
    partitions: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)


WorkerResult = tuple[
    ReplayColumns,
    dict[str, list[str]],
    dict[int, PartitionMark],
    tuple[int, str] | None,
    int,
    _Links,
    list[RecordedSkip],
]


# One worker's whole read, as one loop: the marks, chunks and counters it updates per batch stay
# in locals of the loop (the per-message path binds nothing it does not use).
def _fetch_partitions(  # noqa: PLR0915 (a worker's read loop, kept whole on purpose)
    job: FetchJob, counter: Any
) -> WorkerResult:
    """Read some partitions to the end; runs in a worker process (or in-process for one)."""
    topic, skips = job.topic, job.skips
    dictionaries = Dictionaries()
    consumer = open_consumer(
        job.bootstrap_servers, **consumer_config(client_id="grant-ledger-rebuild")
    )
    try:
        assigned = [TopicPartition(topic, p) for p in job.partitions]
        consumer.assign(assigned)
        for tp in assigned:
            if tp.partition in job.start_offsets:
                consumer.seek(tp, job.start_offsets[tp.partition])
            else:
                consumer.seek_to_beginning(tp)
        ends = consumer.end_offsets(assigned)
        columnizer = Columnizer(dictionaries)
        chunks: list[ReplayColumns] = []
        marks: dict[int, PartitionMark] = {}
        links = _Links()
        newest: tuple[int, str] | None = None
        messages = reported = 0
        last_report_at = time.monotonic()
        for tp, records in _batches_to_end(consumer, ends):
            add = columnizer.add_envelope
            top = 0
            for record in records:
                at = MessageAt(topic, tp.partition, record.offset)
                if skips and skips.check(at, record.value):
                    continue
                envelope, link = read_envelope(record.value, at)
                try:
                    position = add(envelope)
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    raise PoisonMessage(
                        "message", str(at), f"is not a ledger envelope ({exc!r})"
                    ) from None
                top = max(top, position)
                links.hashes.append(link.hash)
                links.prev_hashes.append(link.prev_hash)
                links.partitions.append(tp.partition)
                links.offsets.append(record.offset)
            old = marks.get(tp.partition)
            marks[tp.partition] = PartitionMark(
                records[-1].offset + 1, max(top, old.max_position if old else 0)
            )
            messages += len(records)
            if len(columnizer) >= COLUMN_CHUNK_EVENTS:
                newest = _newer(newest, columnizer.newest)
                chunks.append(columnizer.build())
                columnizer = Columnizer(dictionaries)
            if time.monotonic() - last_report_at >= PROGRESS_EVERY_S:
                with counter.get_lock():
                    counter.value += messages - reported
                reported, last_report_at = messages, time.monotonic()
        newest = _newer(newest, columnizer.newest)
        chunks.append(columnizer.build())
        with counter.get_lock():
            counter.value += messages - reported
    finally:
        consumer.close()
    return (
        concatenate(chunks),
        dictionaries.as_lists(),
        marks,
        newest,
        messages,
        links,
        skips.new if skips else [],
    )


def _batches_to_end(consumer: Any, ends: dict[Any, int]) -> Iterator[tuple[Any, list[Any]]]:
    """(partition, records) until every partition reached its end and a poll brings nothing."""
    last_record_at = time.monotonic()
    while True:
        batches = consumer.poll(timeout_ms=DRAIN_POLL_MS, max_records=POLL_MAX_RECORDS)
        if batches:
            last_record_at = time.monotonic()
            yield from batches.items()
            continue
        behind = sorted(
            tp.partition for tp, end in ends.items() if read_position(consumer, tp) < end
        )
        if not behind:
            return
        if (time.monotonic() - last_record_at) * 1000 >= STALL_TIMEOUT_MS:
            topic = next(iter(ends)).topic
            raise BrokerUnavailable(
                "topic", topic, f"partitions {behind} stopped below their reported end offsets"
            )


def fetch_topic(
    bootstrap_servers: KafkaEndpoint | str,
    topic: str,
    *,
    start_offsets: dict[int, int] | None = None,
    workers: int | None = None,
    progress: ProgressCallback | None = None,
    skips: Skips | None = None,
) -> Fetched:
    """Read the topic into columns, with per-partition marks, the newest (position, hash), and
    each message's chain link and place for the proof."""
    started = time.perf_counter()
    partitions = topic_partitions(bootstrap_servers, topic)
    count = max(1, min(workers or os.cpu_count() or 1, len(partitions)))
    # Round-robin: each worker gets every count-th partition.
    shares = [partitions[index::count] for index in range(count)]
    context = multiprocessing.get_context("fork")
    counter = context.Value("q", 0)
    offsets = dict(start_offsets or {})
    jobs = [FetchJob(bootstrap_servers, topic, share, offsets, skips) for share in shares]
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
    links = _Links()
    skipped: list[RecordedSkip] = []
    for columns, lists, worker_marks, worker_newest, count, worker_links, worker_skips in results:
        parts.append(columns.recoded(lists, dictionaries))
        marks.update(worker_marks)
        newest = _newer(newest, worker_newest)
        messages += count
        for name in ("hashes", "prev_hashes", "partitions", "offsets"):
            getattr(links, name).extend(getattr(worker_links, name))
        skipped += worker_skips
    columns = concatenate(parts)
    chain = ChainColumns(
        topic,
        np.asarray(columns.events.position, dtype=np.int64),
        hashes_of(links.hashes),
        hashes_of(links.prev_hashes),
        np.array(links.partitions, dtype=np.int32),
        np.array(links.offsets, dtype=np.int64),
    )
    return Fetched(
        columns,
        dictionaries,
        marks,
        newest,
        messages,
        time.perf_counter() - started,
        chain,
        skipped,
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
