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
from collections.abc import Callable
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError, TopicAlreadyExistsError

from ledger.infrastructure.kafka.clients import open_admin, open_consumer
from ledger.infrastructure.kafka.reading import (
    FETCH_MAX_WAIT_MS,
    consumer_config,
    position_or_none,
)
from ledger.infrastructure.kafka.security import KafkaEndpoint

log = logging.getLogger(__name__)

TRANSACTIONAL_ID_PREFIX = "grant-ledger-relay-"
TRANSACTIONAL_ID_DIGEST_CHARS = 24
PROBE_TOPIC_SUFFIX = ".transactions-probe"
# The probe topic holds only aborted probe records: an hour of them is plenty.
PROBE_RETENTION_MS = 3_600_000
PROBE_TIMEOUT_MS = 10_000
ADMIN_TIMEOUT_MS = 10_000
# How long one commit, abort or initialisation may wait for the transaction coordinator before
# the relay gives up on this producer and starts over with a new one. A coordinator that is
# there answers within a request; after a broker restart it loads its log first (seconds).
TRANSACTION_WAIT_S = 30.0
# While waiting for the coordinator, say so this often.
TRANSACTION_WAIT_SLICE_S = 5.0
# The transactional producer's max_block_ms: the slice init_transactions() and a send waiting
# for metadata block before they return to us (kafka-python's default is 60 s, silent).
TRANSACTIONAL_MAX_BLOCK_MS = int(TRANSACTION_WAIT_SLICE_S * 1000)

#: Called with what the coordinator is to do and the seconds waited so far, every slice it has
#: not answered; returns False to give up before TRANSACTION_WAIT_S (the relay is told to stop).
Waiting = Callable[[str, float], bool]


def transactional_id(store_identity: str, topic: str) -> str:
    """The relay's transactional.id: one per event store and topic, the same on every start.

    A restarted or second relay of the same store and topic uses the same id, so the broker
    fences the previous producer and aborts its open window.
    """
    digest = hashlib.sha256(f"{store_identity}\x00{topic}".encode()).hexdigest()
    return TRANSACTIONAL_ID_PREFIX + digest[:TRANSACTIONAL_ID_DIGEST_CHARS]


def init_transactions(producer: Any, waiting: Waiting) -> None:
    """init_transactions() of a new producer, waiting at most TRANSACTION_WAIT_S.

    It fences any earlier producer of the transactional id; the coordinator first completes or
    aborts that producer's last transaction, and after a broker restart loads its log.
    """
    started = time.monotonic()
    while True:
        try:
            # Blocks at most max_block_ms; called again, it goes on waiting for the same request.
            producer.init_transactions()
            return
        except KafkaTimeoutError:
            _give_up_after(started, waiting, "initialise the producer's transactions")


def end_transaction(producer: Any, *, commit: bool, waiting: Waiting) -> None:
    """Commit (or abort) the producer's open transaction, waiting at most TRANSACTION_WAIT_S.

    kafka-python 3's commit_transaction() and abort_transaction() wait for the coordinator's
    answer with no timeout at all: a coordinator that never answers (paused, lost, or a request
    re-queued forever) would hang the relay silently. So the request is started as they start
    it and its result waited for in slices. KafkaTimeoutError when the coordinator has not
    answered in time: the producer is then unusable (close it and open a new one, whose
    init_transactions() completes or aborts this transaction); the coordinator's refusal is
    raised as it is (KafkaError, ProducerFencedError).
    """
    manager = producer._transaction_manager
    assert manager is not None, "end_transaction needs a transactional producer"
    result = manager.begin_commit() if commit else manager.begin_abort()
    producer._sender.wakeup()
    started = time.monotonic()
    what = "commit" if commit else "abort"
    while not result.wait(timeout_ms=TRANSACTION_WAIT_SLICE_S * 1000):
        _give_up_after(started, waiting, f"{what} the transaction")


def _give_up_after(started: float, waiting: Waiting, what: str) -> None:
    waited_s = time.monotonic() - started
    if waited_s >= TRANSACTION_WAIT_S or not waiting(what, waited_s):
        raise KafkaTimeoutError(
            f"the transaction coordinator did not {what} within {waited_s:.0f} s"
        )


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
            if (position_or_none(consumer, partition) or 0) > offset + 1:
                return False
        return True  # never got past it: not proven hidden
    finally:
        consumer.close()


def broker_honours_transactions(
    producer: Any, endpoint: KafkaEndpoint, topic: str, replication_factor: int, waiting: Waiting
) -> bool:
    """Abort one record in a transaction of `producer`; True when readers cannot see it.

    KafkaTimeoutError when the broker does not answer in time (ask again once it does)."""
    probe_topic = probe_topic_for(topic)
    _ensure_probe_topic(endpoint, probe_topic, replication_factor)
    nonce = f"grant-ledger-probe-{uuid.uuid4().hex}".encode()
    try:
        producer.begin_transaction()
        sent = producer.send(probe_topic, value=nonce, partition=0)
        producer.flush(timeout=PROBE_TIMEOUT_MS / 1000)
        offset = sent.get(timeout=PROBE_TIMEOUT_MS / 1000).offset
        end_transaction(producer, commit=False, waiting=waiting)
    except KafkaTimeoutError:
        raise  # no answer yet (a broker starting up) is not a broker without transactions
    except KafkaError as exc:
        log.warning("relay: the transaction probe failed (%s)", exc)
        return False
    return not aborted_record_visible(endpoint, probe_topic, offset, nonce)
