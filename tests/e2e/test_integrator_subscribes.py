"""An integrator reads the topic with a different Kafka client and validates with schemas/ alone.

librdkafka (confluent-kafka) instead of kafka-python, and nothing of grant-ledger's code on the
consumer side: only the published JSON Schema files.
"""

import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from confluent_kafka import Consumer, KafkaError, TopicPartition

from commands.cli.main import main
from tests.relay_runs import relay_once_by_cli

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "schemas" / "published"
SCENARIO = ROOT / "commands" / "scenarios" / "sfs_2018_151.jsonl"
IDLE_S = 2.0
GROUP_TIMEOUT_S = 60
PARTITIONS = 6


def consume_everything(bootstrap: str, topic: str) -> list[Any]:
    """librdkafka consumer: assign every partition from the beginning, read until quiet."""
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "integrator", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(PARTITIONS)])
    messages = []
    last_message_at = time.monotonic()
    while time.monotonic() - last_message_at < IDLE_S:
        message = consumer.poll(0.2)
        if message is None:
            continue
        error = message.error()
        if error is not None:
            assert error.code() == KafkaError._PARTITION_EOF, error
            continue
        messages.append(message)
        last_message_at = time.monotonic()
    consumer.close()
    return messages


def consume_as_a_group(bootstrap: str, topics: list[str], group: str, count: int) -> list[Any]:
    """librdkafka consumer in a consumer group, as integrators subscribe; commits what it read."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            # Whole relay windows only (librdkafka's default, said out loud).
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe(topics)
    messages: list[Any] = []
    deadline = time.monotonic() + GROUP_TIMEOUT_S
    while len(messages) < count and time.monotonic() < deadline:
        message = consumer.poll(0.2)
        if message is None or message.error() is not None:
            continue
        messages.append(message)
    # Nothing more may come: wait out a quiet window after reaching the count.
    quiet_until = time.monotonic() + IDLE_S
    while time.monotonic() < quiet_until:
        message = consumer.poll(0.2)
        if message is not None and message.error() is None:
            messages.append(message)
    if messages:
        consumer.commit(asynchronous=False)
    consumer.close()
    return messages


def test_an_integrator_subscribes_through_a_consumer_group_and_reads_every_event(
    sqlite_store_url: str, apache_kafka_bootstrap: str, topic_name: str
) -> None:
    """The group gets every event once; checkpoints carry CloudEvents headers; a second session
    of the same group resumes after what it committed."""
    assert main(["submit", str(SCENARIO), "--store", sqlite_store_url, "--format", "json"]) == 0
    relay_once_by_cli(sqlite_store_url, apache_kafka_bootstrap, topic_name)

    first = consume_as_a_group(apache_kafka_bootstrap, [topic_name], "integrator-a", 365)
    assert sorted(json.loads(m.value())["position"] for m in first) == list(range(1, 366))

    checkpoints = consume_as_a_group(
        apache_kafka_bootstrap, [f"{topic_name}.checkpoints"], "integrator-a", 1
    )
    assert checkpoints
    for message in checkpoints:
        headers = dict(message.headers())
        assert headers["ce_type"] == b"grant-ledger.Checkpoint.v1"
        assert headers["content-type"] == b"application/json"
        assert {"ce_specversion", "ce_id", "ce_source", "ce_time"} <= headers.keys()

    again = consume_as_a_group(apache_kafka_bootstrap, [topic_name], "integrator-a", 0)
    assert again == []


def test_every_message_validates_against_the_published_files_alone(
    sqlite_store_url: str, kafka_bootstrap: str, topic_name: str
) -> None:
    """Each message matches events/<type>.v<version>.schema.json and the envelope schema."""
    assert main(["submit", str(SCENARIO), "--store", sqlite_store_url, "--format", "json"]) == 0
    relay_once_by_cli(sqlite_store_url, kafka_bootstrap, topic_name)

    messages = consume_everything(kafka_bootstrap, topic_name)
    assert len(messages) == 365
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    envelope_schema = json.loads((PUBLISHED / "envelope.v1.schema.json").read_text())
    positions = []
    for message in messages:
        envelope = json.loads(message.value())
        file = (
            PUBLISHED / "events" / f"{envelope['type']}.v{envelope['schema_version']}.schema.json"
        )
        schema = json.loads(file.read_text())
        jsonschema.Draft202012Validator(schema, format_checker=checker).validate(envelope)
        jsonschema.Draft202012Validator(envelope_schema, format_checker=checker).validate(envelope)
        headers = dict(message.headers())
        assert headers["ce_id"].decode() == envelope["event_id"]
        assert headers["ce_type"].decode() == f"grant-ledger.{envelope['type']}.v1"
        assert headers["content-type"] == b"application/json"
        positions.append(envelope["position"])
    assert sorted(positions) == list(range(1, 366))
