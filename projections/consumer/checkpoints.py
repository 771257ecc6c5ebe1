"""The chain's checkpoints, read from the checkpoints topic."""

from __future__ import annotations

import orjson

from ledger.infrastructure.kafka.clients import open_consumer
from ledger.infrastructure.kafka.reading import consumer_config, read_all
from ledger.infrastructure.kafka.security import KafkaEndpoint
from schemas.envelope import Checkpoint

CHECKPOINT_IDLE_MS = 300


def read_checkpoints(bootstrap_servers: KafkaEndpoint | str, topic: str) -> list[Checkpoint]:
    """Every checkpoint on the topic, by position (none when the topic does not exist)."""
    probe = open_consumer(bootstrap_servers, **consumer_config(client_id="grant-ledger-probe"))
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
