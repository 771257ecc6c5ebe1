"""Client settings we use, and reading a topic to its end.

Every reader reads `read_committed`: with the relay publishing in Kafka transactions, a window
that was aborted (a crashed or fenced relay) is never seen.

Where a read ends (`read_to_end`, used by `project --once`, `rebuild --from kafka`, `verify`):
at the end offsets the broker reports when the read begins, then one more poll that brings
nothing. On Apache Kafka under read_committed the end offset is the last stable offset: exact.
Tansu reports the first offset of a partition's last record batch + 1; batches are fetched and
handed out whole, so reaching that offset and draining what was fetched reads the whole batch.
Either way nothing that was on the topic when the read began is missed, and no idle window is
waited out. What the readers need beyond that they prove themselves: every position up to the
last signed checkpoint must be there (a checkpoint is published only once every event it covers
is acknowledged), or the reader says which one is missing.

`read_all` (an idle window) stays for tests and the relay's tail reading.
"""

import time
from collections.abc import Iterator, Mapping
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from ledger.infrastructure.kafka.clients import CONNECT_TIMEOUT_MS, open_consumer
from ledger.infrastructure.kafka.errors import BrokerUnavailable
from ledger.infrastructure.kafka.security import KafkaEndpoint
from ledger.settings import BOOTSTRAP_ENV_VAR
from schemas.errors import InvalidQuery, QueryParameter

# Producer: measured on this 2-core machine against Tansu with ~600-byte JSON values when the
# relay was tuned (tests/benchmarks/test_relay_throughput.py measures the relay today): linger
# 20 ms and 512 KiB batches reach ~45-50K msg/s, linger 0 and 16 KiB batches (the defaults)
# ~20K msg/s. Python is the limit, not the broker.
PRODUCER_LINGER_MS = 20
# Below Kafka's default message.max.bytes (1 MiB + 12): a full batch must never be refused.
PRODUCER_BATCH_BYTES = 512 * 1024
# The idempotent producer keeps order with up to 5 requests in flight (the broker checks
# sequence numbers; Tansu does, measured: duplicate -> error 46, gap -> error 45).
PRODUCER_MAX_IN_FLIGHT = 5
PRODUCER_DELIVERY_TIMEOUT_MS = 120_000
PRODUCER_REQUEST_TIMEOUT_MS = 30_000

# Consumer: a broker holds a fetch up to this long when it has nothing; readers' idle windows
# must be longer, or an empty poll can mean "fetch still in flight" rather than "no more".
FETCH_MAX_WAIT_MS = 100
MAX_PARTITION_FETCH_BYTES = 8 * 1024 * 1024
FETCH_MAX_BYTES = 50 * 1024 * 1024
MAX_POLL_RECORDS = 10_000

DEFAULT_IDLE_MS = 300
# Below the reported end offset (a lower bound of the truth) records must still come; if
# none arrive for this long the broker is not delivering what it said it has.
STALL_TIMEOUT_MS = 10_000
# kafka-python's position() waits without end by default when the position needs the broker
# (a reset after a re-created or truncated topic); ours give up after this and say so.
POSITION_TIMEOUT_MS = PRODUCER_REQUEST_TIMEOUT_MS
# Reading a partition's tail starts this many offsets before its end: transaction markers
# (control records, never returned) and aborted windows can stand after the last record.
TAIL_LOOKBACK_OFFSETS = 64


def producer_config(**overrides: Any) -> dict[str, Any]:
    """KafkaProducer settings (all but bootstrap_servers) for publishing events once, in order."""
    config: dict[str, Any] = {
        "client_id": "grant-ledger-producer",
        "acks": "all",
        "enable_idempotence": True,
        "max_in_flight_requests_per_connection": PRODUCER_MAX_IN_FLIGHT,
        "linger_ms": PRODUCER_LINGER_MS,
        "batch_size": PRODUCER_BATCH_BYTES,
        # Small JSON values: compression costs more CPU here than it saves on a loopback.
        "compression_type": None,
        "delivery_timeout_ms": PRODUCER_DELIVERY_TIMEOUT_MS,
        "request_timeout_ms": PRODUCER_REQUEST_TIMEOUT_MS,
        # Topics come from ensure_topics (with unlimited retention). Note: kafka-python 3.0.12's
        # producer does not pass this on to its metadata requests, and Tansu then auto-creates.
        "allow_auto_create_topics": False,
        "bootstrap_timeout_ms": CONNECT_TIMEOUT_MS,
    }
    config.update(overrides)
    return config


def consumer_config(**overrides: Any) -> dict[str, Any]:
    """KafkaConsumer settings (all but bootstrap_servers) for bulk reads with assign()."""
    config: dict[str, Any] = {
        "client_id": "grant-ledger-reader",
        # Never see a window of a relay transaction that was aborted (or is still open).
        "isolation_level": "read_committed",
        # Positions are tracked by the ledger (event positions), not by committed offsets.
        "enable_auto_commit": False,
        # Never skip events: a position the broker does not know restarts from the beginning.
        "auto_offset_reset": "earliest",
        "fetch_max_wait_ms": FETCH_MAX_WAIT_MS,
        "max_partition_fetch_bytes": MAX_PARTITION_FETCH_BYTES,
        "fetch_max_bytes": FETCH_MAX_BYTES,
        "max_poll_records": MAX_POLL_RECORDS,
        "allow_auto_create_topics": False,
        "bootstrap_timeout_ms": CONNECT_TIMEOUT_MS,
    }
    config.update(overrides)
    return config


def _open_consumer(endpoint: KafkaEndpoint | str) -> KafkaConsumer:
    return open_consumer(endpoint, **consumer_config())


def position_or_none(consumer: KafkaConsumer, tp: TopicPartition) -> int | None:
    """The consumer's next offset on `tp`; None when it has none (the broker reset it and gave
    no new one, or did not answer within POSITION_TIMEOUT_MS)."""
    offset = consumer.position(tp, timeout_ms=POSITION_TIMEOUT_MS)
    return None if offset is None else int(offset)


def read_position(consumer: KafkaConsumer, tp: TopicPartition) -> int:
    """The consumer's next offset on `tp`; BrokerUnavailable naming the partition when it has
    none within POSITION_TIMEOUT_MS (never an endless wait)."""
    offset = position_or_none(consumer, tp)
    if offset is None:
        raise BrokerUnavailable(
            "partition",
            f"{tp.topic}:{tp.partition}",
            f"has no read position: the broker reset it (re-created or truncated) or did not "
            f"answer within {POSITION_TIMEOUT_MS} ms",
        )
    return offset


def _topic_partitions(
    consumer: KafkaConsumer, topic: str, endpoint: KafkaEndpoint | str
) -> list[Any]:
    partitions = consumer.partitions_for_topic(topic)
    if not partitions:
        raise BrokerUnavailable("topic", topic, f"does not exist on {BOOTSTRAP_ENV_VAR}={endpoint}")
    return [TopicPartition(topic, partition) for partition in sorted(partitions)]


def _check_idle_ms(idle_ms: int) -> None:
    if idle_ms <= FETCH_MAX_WAIT_MS:
        raise InvalidQuery(
            QueryParameter.IDLE_MS,
            idle_ms,
            f"must be more than the fetch wait ({FETCH_MAX_WAIT_MS} ms): a shorter quiet "
            "window can end the read while a fetch is still in flight",
        )


# The last poll of a read to the end: long enough to hand out a fetch that already completed.
DRAIN_POLL_MS = FETCH_MAX_WAIT_MS


def _drain(
    consumer: KafkaConsumer,
    bounds: Mapping[Any, int],
    idle_ms: int,
    *,
    poll_ms: int | None = None,
    stall_ms: int = STALL_TIMEOUT_MS,
) -> Iterator[ConsumerRecord]:
    """Poll until every partition reached its bound and nothing came for idle_ms (0: a poll
    brought nothing); raise (naming the partitions) when records stop coming below the bounds."""
    last_record_at = time.monotonic()
    while True:
        batches = consumer.poll(timeout_ms=poll_ms or idle_ms, max_records=MAX_POLL_RECORDS)
        now = time.monotonic()
        if batches:
            last_record_at = now
            for records in batches.values():
                yield from records
            continue
        quiet_ms = (now - last_record_at) * 1000
        positions = {tp: read_position(consumer, tp) for tp in bounds}
        behind = {
            tp.partition: (positions[tp], bound)
            for tp, bound in bounds.items()
            if positions[tp] < bound
        }
        if not behind and quiet_ms >= idle_ms:
            return
        if behind and quiet_ms >= stall_ms:
            topic = next(iter(bounds)).topic
            raise BrokerStalled(
                "topic",
                topic,
                f"the broker stopped delivering records below its reported end offsets for "
                f"{stall_ms} ms (partition: (position, reported end) = {behind})",
            )


def drain_to_ends(consumer: KafkaConsumer, ends: Mapping[Any, int]) -> Iterator[ConsumerRecord]:
    """Poll until every partition's position reached its end in `ends` and a poll brings
    nothing more (see the module docstring for why that is exact)."""
    return _drain(consumer, ends, 0, poll_ms=DRAIN_POLL_MS)


class BrokerStalled(BrokerUnavailable):
    """The broker stopped delivering records it reported having."""


def read_to_end(
    endpoint: KafkaEndpoint | str, topic: str, start_offsets: Mapping[int, int] | None = None
) -> Iterator[ConsumerRecord]:
    """Every record of the topic (from `start_offsets`, else each partition's beginning) that
    was on it when the read began (see the module docstring for why that is exact)."""
    consumer = _open_consumer(endpoint)
    try:
        partitions = _topic_partitions(consumer, topic, endpoint)
        consumer.assign(partitions)
        for tp in partitions:
            if start_offsets and tp.partition in start_offsets:
                consumer.seek(tp, start_offsets[tp.partition])
            else:
                consumer.seek_to_beginning(tp)
        ends = consumer.end_offsets(partitions)
        yield from drain_to_ends(consumer, ends)
    finally:
        consumer.close()


def read_message(endpoint: KafkaEndpoint | str, topic: str, partition: int, offset: int) -> Any:
    """The value of the one message at partition/offset (None when it cannot be read)."""
    consumer = _open_consumer(endpoint)
    try:
        tp = TopicPartition(topic, partition)
        consumer.assign([tp])
        consumer.seek(tp, offset)
        deadline = time.monotonic() + STALL_TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=DRAIN_POLL_MS, max_records=1).values():
                for record in records:
                    return record.value if record.offset == offset else None
        return None
    finally:
        consumer.close()


def read_partition_tails(
    endpoint: KafkaEndpoint | str, topic: str, *, idle_ms: int = DEFAULT_IDLE_MS
) -> dict[int, ConsumerRecord | None]:
    """The last committed record on each partition (None where there is none), found by reading.

    Seeks each partition to a little before its reported end (the last stable offset on
    Kafka, too low on Tansu) and reads forward until the topic stays quiet for idle_ms. Where
    only transaction markers or aborted records stand there, it looks further back, doubling.
    """
    _check_idle_ms(idle_ms)
    consumer = _open_consumer(endpoint)
    try:
        partitions = _topic_partitions(consumer, topic, endpoint)
        beginnings = consumer.beginning_offsets(partitions)
        reported_ends = consumer.end_offsets(partitions)
        tails: dict[int, ConsumerRecord | None] = {tp.partition: None for tp in partitions}
        # An end offset at the beginning means empty, even on Tansu (whose end offset is the
        # last batch's first offset + 1): those partitions need no quiet window to prove it.
        pending = [tp for tp in partitions if reported_ends[tp] > beginnings[tp]]
        lookback = TAIL_LOOKBACK_OFFSETS
        while pending:
            consumer.assign(pending)
            starts = {tp: max(beginnings[tp], reported_ends[tp] - lookback) for tp in pending}
            for tp, start in starts.items():
                consumer.seek(tp, start)
            for record in _drain(consumer, {tp: reported_ends[tp] for tp in pending}, idle_ms):
                tails[record.partition] = record
            pending = [
                tp for tp in pending if tails[tp.partition] is None and starts[tp] > beginnings[tp]
            ]
            lookback *= 2
        return tails
    finally:
        consumer.close()


def read_all(
    endpoint: KafkaEndpoint | str, topic: str, *, idle_ms: int = DEFAULT_IDLE_MS
) -> Iterator[ConsumerRecord]:
    """Every record on the topic, from the beginning of each partition, until quiet for idle_ms.

    Records of one partition come in offset order; partitions are interleaved as the
    broker's fetches return them (no order across partitions: use the event `position`).
    """
    _check_idle_ms(idle_ms)
    consumer = _open_consumer(endpoint)
    try:
        partitions = _topic_partitions(consumer, topic, endpoint)
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        reported_ends = consumer.end_offsets(partitions)
        yield from _drain(consumer, reported_ends, idle_ms)
    finally:
        consumer.close()


def read_from_offsets(
    endpoint: KafkaEndpoint | str,
    topic: str,
    start_offsets: Mapping[int, int],
    *,
    idle_ms: int = DEFAULT_IDLE_MS,
) -> Iterator[ConsumerRecord]:
    """Every record of the given partitions from the given offsets, until quiet for idle_ms."""
    _check_idle_ms(idle_ms)
    if not start_offsets:
        return
    consumer = _open_consumer(endpoint)
    try:
        partitions = [TopicPartition(topic, partition) for partition in sorted(start_offsets)]
        consumer.assign(partitions)
        for tp in partitions:
            consumer.seek(tp, start_offsets[tp.partition])
        reported_ends = consumer.end_offsets(partitions)
        yield from _drain(consumer, reported_ends, idle_ms)
    finally:
        consumer.close()
