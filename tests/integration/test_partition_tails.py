"""read_partition_tails and read_all find what is really on a topic, whatever end offsets say."""

from collections import defaultdict

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

from ledger.domain.errors import LedgerError
from ledger.infrastructure.kafka.broker_process import BrokerProcess
from ledger.infrastructure.kafka.reading import (
    consumer_config,
    producer_config,
    read_all,
    read_partition_tails,
)
from ledger.infrastructure.kafka.topics import ensure_topics

pytestmark = pytest.mark.kafka

PARTITIONS = 4
EMPTY_PARTITION = 3
# Records per flush and partition: each flush ends one batch per partition.
BATCH_SIZES = (1, 7, 250, 3, 40)
SEND_TIMEOUT_S = 10
LONG_LINGER_MS = 5_000


def _produce_in_batches(bootstrap: str, topic: str) -> dict[int, list[tuple[int, bytes]]]:
    """Send BATCH_SIZES records to partitions 0..2, a flush after each; (offset, value) each."""
    written: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
    # A long linger: only the flush closes a batch, so batch boundaries are known here.
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, **producer_config(linger_ms=LONG_LINGER_MS)
    )
    try:
        for batch, size in enumerate(BATCH_SIZES):
            futures = [
                (
                    value := f'{{"batch": {batch}, "n": {n}, "partition": {partition}}}'.encode(),
                    producer.send(topic, value=value, partition=partition),
                )
                for partition in range(EMPTY_PARTITION)
                for n in range(size + partition)  # partitions end on batches of different sizes
            ]
            producer.flush(timeout=SEND_TIMEOUT_S)
            for value, future in futures:
                metadata = future.get(timeout=SEND_TIMEOUT_S)
                written[metadata.partition].append((metadata.offset, value))
    finally:
        producer.close()
    return written


def _reported_end_offsets(bootstrap: str, topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, **consumer_config())
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        return {tp.partition: end for tp, end in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()


def test_tails_are_the_last_record_of_each_partition_though_end_offsets_are_wrong(
    kafka_bootstrap: str, kafka_broker: BrokerProcess, topic_name: str
) -> None:
    ensure_topics(kafka_bootstrap, {topic_name: PARTITIONS})
    written = _produce_in_batches(kafka_bootstrap, topic_name)

    tails = read_partition_tails(kafka_bootstrap, topic_name)

    assert tails[EMPTY_PARTITION] is None
    for partition in range(EMPTY_PARTITION):
        last_offset, last_value = written[partition][-1]
        tail = tails[partition]
        assert tail is not None
        assert (tail.partition, tail.offset, tail.value) == (partition, last_offset, last_value)

    # What end_offsets reports vs the truth. Kafka: last offset + 1. Tansu: the first offset
    # of the last batch + 1. (If this starts failing, Tansu changed: the reader copes either way.)
    reported = _reported_end_offsets(kafka_bootstrap, topic_name)
    last_batch_size = {p: BATCH_SIZES[-1] + p for p in range(EMPTY_PARTITION)}
    true_end = {p: written[p][-1][0] + 1 for p in range(EMPTY_PARTITION)}
    if kafka_broker.exact_end_offsets:
        assert reported == {**true_end, EMPTY_PARTITION: 0}
        return
    assert reported == {
        **{p: true_end[p] - last_batch_size[p] + 1 for p in range(EMPTY_PARTITION)},
        EMPTY_PARTITION: 0,
    }
    assert all(reported[p] < true_end[p] for p in range(EMPTY_PARTITION))


def test_read_all_returns_every_record_in_offset_order_per_partition(
    kafka_bootstrap: str, topic_name: str
) -> None:
    ensure_topics(kafka_bootstrap, {topic_name: PARTITIONS})
    written = _produce_in_batches(kafka_bootstrap, topic_name)

    read: dict[int, list[tuple[int, bytes]]] = defaultdict(list)
    for record in read_all(kafka_bootstrap, topic_name):
        read[record.partition].append((record.offset, record.value))

    assert dict(read) == dict(written)
    assert sum(len(records) for records in read.values()) == sum(
        (size + p) for size in BATCH_SIZES for p in range(EMPTY_PARTITION)
    )


def test_an_empty_topic_has_no_tails(kafka_bootstrap: str, topic_name: str) -> None:
    ensure_topics(kafka_bootstrap, {topic_name: PARTITIONS})

    assert read_partition_tails(kafka_bootstrap, topic_name) == dict.fromkeys(range(PARTITIONS))
    assert list(read_all(kafka_bootstrap, topic_name)) == []


def test_a_missing_topic_is_refused_and_not_created(kafka_bootstrap: str, topic_name: str) -> None:
    with pytest.raises(LedgerError) as refused:
        read_partition_tails(kafka_bootstrap, topic_name)
    assert (refused.value.field, refused.value.value) == ("topic", topic_name)

    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        assert topic_name not in admin.list_topics()
    finally:
        admin.close()


def test_an_idle_window_within_the_fetch_wait_is_refused(
    kafka_bootstrap: str, topic_name: str
) -> None:
    with pytest.raises(LedgerError) as refused:
        list(read_all(kafka_bootstrap, topic_name, idle_ms=50))
    assert (refused.value.field, refused.value.value) == ("idle_ms", 50)
