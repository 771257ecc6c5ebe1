"""Kafka transactions: the relay's transactional id; a probe proving the broker honours them.

A broker may accept the transaction API and still show aborted records to `read_committed`
readers (Tansu does). The relay trusts transactions only once the broker has shown, on a probe
topic of its own, that an aborted record stays invisible; otherwise it says so and publishes
with the idempotent producer instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
import uuid
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError, TopicAlreadyExistsError

from ledger.infrastructure.kafka.clients import open_admin, open_consumer
from ledger.infrastructure.kafka.reading import FETCH_MAX_WAIT_MS, consumer_config
from ledger.infrastructure.kafka.security import KafkaEndpoint

log = logging.getLogger(__name__)

TRANSACTIONAL_ID_PREFIX = "grant-ledger-relay-"
TRANSACTIONAL_ID_DIGEST_CHARS = 24
PROBE_TOPIC_SUFFIX = ".transactions-probe"
# The probe topic holds only aborted probe records: an hour of them is plenty.
PROBE_RETENTION_MS = 3_600_000
PROBE_TIMEOUT_MS = 10_000
ADMIN_TIMEOUT_MS = 10_000


def transactional_id(store_identity: str, topic: str) -> str:
    """The relay's transactional.id: one per event store and topic, the same on every start.

    A restarted or second relay of the same store and topic uses the same id, so the broker
    fences the previous producer and aborts its open window.
    """
    digest = hashlib.sha256(f"{store_identity}\x00{topic}".encode()).hexdigest()
    return TRANSACTIONAL_ID_PREFIX + digest[:TRANSACTIONAL_ID_DIGEST_CHARS]


def probe_topic_for(topic: str) -> str:
    """The topic the relay probes transactions on (never read by anyone else)."""
    return topic + PROBE_TOPIC_SUFFIX


def _ensure_probe_topic(endpoint: KafkaEndpoint, topic: str, replication_factor: int) -> None:
    admin = open_admin(endpoint, timeout_ms=ADMIN_TIMEOUT_MS)
    try:
        if topic in set(admin.list_topics()):
            return
        # Another relay may create it at the same moment.
        with contextlib.suppress(TopicAlreadyExistsError):
            admin.create_topics(
                {
                    topic: {
                        "num_partitions": 1,
                        "replication_factor": replication_factor,
                        "configs": {"retention.ms": str(PROBE_RETENTION_MS)},
                    }
                },
                timeout_ms=ADMIN_TIMEOUT_MS,
            )
        admin.wait_for_topics([topic], timeout_ms=ADMIN_TIMEOUT_MS)
    finally:
        admin.close()


def aborted_record_visible(endpoint: KafkaEndpoint, topic: str, offset: int, nonce: bytes) -> bool:
    """True when a `read_committed` reader sees the aborted record `nonce` at `offset`."""
    consumer = open_consumer(endpoint, **consumer_config(client_id="grant-ledger-probe"))
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek(partition, offset)
        deadline = time.monotonic() + PROBE_TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=FETCH_MAX_WAIT_MS * 2).values():
                if any(record.value == nonce for record in records):
                    return True
            # Past the abort marker under read_committed: the broker hid the record.
            if consumer.position(partition) > offset + 1:
                return False
        return True  # never got past it: not proven hidden
    finally:
        consumer.close()


def broker_honours_transactions(
    producer: Any, endpoint: KafkaEndpoint, topic: str, replication_factor: int
) -> bool:
    """Abort one record in a transaction of `producer`; True when readers cannot see it."""
    probe_topic = probe_topic_for(topic)
    _ensure_probe_topic(endpoint, probe_topic, replication_factor)
    nonce = f"grant-ledger-probe-{uuid.uuid4().hex}".encode()
    try:
        producer.begin_transaction()
        sent = producer.send(probe_topic, value=nonce, partition=0)
        producer.flush(timeout=PROBE_TIMEOUT_MS / 1000)
        offset = sent.get(timeout=PROBE_TIMEOUT_MS / 1000).offset
        producer.abort_transaction()
    except KafkaError as exc:
        log.warning("relay: the transaction probe failed (%s)", exc)
        return False
    return not aborted_record_visible(endpoint, probe_topic, offset, nonce)
