"""Relay throughput: 100 000 stored events to Kafka, against a bare kafka-python producer.

Baseline (same run, same broker, same producer settings): a KafkaProducer sending the very
bytes the relay produces (keys, values, headers), prepared in memory beforehand. On a broker
whose transactions work (Apache Kafka) the relay publishes each window of CHECKPOINT_EVERY
events and its checkpoint in one transaction, and so does the baseline: transactional against
transactional. The relay must reach at least 0.8x its events/s while reading the store,
chaining hashes and checkpointing.
"""

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from kafka import KafkaProducer

from ledger.application.grant_ledger import GrantLedger
from ledger.config import KafkaSettings
from ledger.infrastructure.kafka.broker_process import BrokerProcess
from ledger.infrastructure.kafka.reading import producer_config
from ledger.infrastructure.kafka.topics import ensure_topics
from ledger.relay.messages import OutgoingMessage, outgoing_message
from ledger.relay.relay import Relay
from schemas.chain import GENESIS_HASH
from tests.fill import disbursements, save_decided, setup_commands
from tests.signing import ledger_signer

pytestmark = pytest.mark.kafka

EVENTS = 100_000
PARTITIONS = 6
CHECKPOINT_EVERY = 1_000
RELAY_TO_BARE_TARGET = 0.8


@pytest.fixture(scope="session")
def store_with_events(tmp_path_factory: pytest.TempPathFactory) -> str:
    """EVENTS real programme events, decided by the aggregate, saved a batch at a time."""
    url = f"sqlite:///{tmp_path_factory.mktemp('relay-bench') / 'ledger.db'}"
    commands = [*setup_commands(), *disbursements(0, EVENTS - len(setup_commands()))]
    assert save_decided(url, commands, datetime(2019, 1, 1, tzinfo=UTC)) == EVENTS
    return url


@pytest.fixture(scope="session")
def relay_messages(store_with_events: str) -> list[OutgoingMessage]:
    """The exact messages the relay produces, prepared for the bare producer."""
    ledger = GrantLedger(store_with_events)
    messages: list[OutgoingMessage] = []
    prev_hash, after_id = GENESIS_HASH, 0
    while page := ledger.stored_programme_events(after_id, 5_000):
        for stored in page:
            message = outgoing_message(stored, len(messages) + 1, prev_hash)
            messages.append(message)
            prev_hash, after_id = message.hash, stored.notification_id
    ledger.close()
    assert len(messages) == EVENTS
    return messages


def _fresh_topics(bootstrap: str) -> KafkaSettings:
    topic = f"bench-{uuid.uuid4().hex[:10]}"
    settings = KafkaSettings(bootstrap, topic, f"{topic}.checkpoints", CHECKPOINT_EVERY, PARTITIONS)
    ensure_topics(bootstrap, {settings.topic: PARTITIONS, settings.checkpoint_topic: 1})
    return settings


def _rounds(benchmark: Any, kafka_bootstrap: str, run: Any) -> None:
    def setup() -> tuple[tuple[KafkaSettings], dict[str, Any]]:
        return (_fresh_topics(kafka_bootstrap),), {}

    benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    benchmark.extra_info["events"] = EVENTS
    benchmark.extra_info["events_per_s"] = round(EVENTS / benchmark.stats.stats.median)


@pytest.mark.benchmark(group="relay")
def test_bare_producer_baseline(
    benchmark: Any,
    kafka_bootstrap: str,
    kafka_broker: BrokerProcess,
    relay_messages: list[OutgoingMessage],
) -> None:
    """Baseline: kafka-python sending the relay's bytes, same settings (and, where the broker
    honours them, the same transactions: one per window with a checkpoint-sized message)."""
    transactional = kafka_broker.transactions
    checkpoint_value = b"{" + b"x" * 150 + b"}"

    def run(settings: KafkaSettings) -> None:
        config = producer_config(
            transactional_id=f"bench-{settings.topic}" if transactional else None
        )
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, **config)
        if transactional:
            producer.init_transactions()
        for start in range(0, len(relay_messages), CHECKPOINT_EVERY):
            if transactional:
                producer.begin_transaction()
            for message in relay_messages[start : start + CHECKPOINT_EVERY]:
                producer.send(
                    settings.topic, key=message.key, value=message.value, headers=message.headers
                )
            producer.send(settings.checkpoint_topic, key=b"checkpoint", value=checkpoint_value)
            if transactional:
                producer.commit_transaction()
        producer.flush()
        producer.close()

    benchmark.extra_info["mode"] = "transactions" if transactional else "idempotent"
    _rounds(benchmark, kafka_bootstrap, run)


@pytest.mark.benchmark(group="relay")
def test_relay_publishes_the_store(
    benchmark: Any, kafka_bootstrap: str, store_with_events: str
) -> None:
    """The relay from store to topic (target: at least 0.8x the bare producer)."""

    def run(settings: KafkaSettings) -> None:
        ledger = GrantLedger(store_with_events)
        try:
            stats = Relay(ledger, settings, kafka_bootstrap, ledger_signer()).run(once=True)
        finally:
            ledger.close()
        assert stats.published == EVENTS
        benchmark.extra_info["mode"] = stats.mode

    _rounds(benchmark, kafka_bootstrap, run)
