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

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
PUBLISHED = ROOT / "schemas" / "published"
SCENARIO = ROOT / "commands" / "scenarios" / "sfs_2018_151.jsonl"
IDLE_S = 2.0
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


def test_every_message_validates_against_the_published_files_alone(
    sqlite_store_url: str, kafka_bootstrap: str, topic_name: str
) -> None:
    """Each message matches events/<type>.v<version>.schema.json and the envelope schema."""
    assert main(["submit", str(SCENARIO), "--store", sqlite_store_url, "--format", "json"]) == 0
    relay = [
        "relay",
        "--once",
        "--store",
        sqlite_store_url,
        "--bootstrap-servers",
        kafka_bootstrap,
        "--topic",
        topic_name,
        "--checkpoint-topic",
        f"{topic_name}.checkpoints",
    ]
    assert main(relay) == 0

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
