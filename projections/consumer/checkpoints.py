"""The chain's checkpoints, read from the checkpoints topic."""

from __future__ import annotations

import orjson
from kafka import KafkaConsumer

from ledger.infrastructure.kafka.reading import consumer_config, read_all
from schemas.envelope import Checkpoint

CHECKPOINT_IDLE_MS = 300


def read_checkpoints(bootstrap_servers: str, topic: str) -> list[Checkpoint]:
    """Every checkpoint on the topic, by position (none when the topic does not exist)."""
    probe = KafkaConsumer(
        bootstrap_servers=bootstrap_servers, **consumer_config(client_id="grant-ledger-probe")
    )
    try:
        exists = bool(probe.partitions_for_topic(topic))
    finally:
        probe.close()
    if not exists:
        return []
    found = {}
    for record in read_all(bootstrap_servers, topic, idle_ms=CHECKPOINT_IDLE_MS):
        checkpoint = Checkpoint.model_validate(orjson.loads(record.value))
        found[checkpoint.position] = checkpoint
    return [found[position] for position in sorted(found)]
