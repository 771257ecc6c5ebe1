"""Envelopes published as the relay publishes them: orjson value, key, CloudEvents headers, and
checkpoints on their own topic."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from kafka import KafkaProducer

from ledger.infrastructure.kafka.reading import producer_config
from ledger.infrastructure.kafka.topics import ensure_topics
from ledger.relay.messages import cloudevents_headers
from tests.ledgers.envelopes import message_key_of
from tests.ledgers.vectorised import CHECKPOINT_EVERY
from tests.signing import ledger_signer


def produce_envelopes(
    bootstrap_servers: str,
    topic: str,
    envelopes: Iterable[dict[str, Any]],
    *,
    partitions: int = 6,
    checkpoint_topic: str | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> int:
    """Publish envelopes as the relay does (orjson value, key, CloudEvents headers, checkpoints).

    Creates the topics when missing; returns how many envelopes were sent.
    """
    ensure_topics(
        bootstrap_servers,
        {topic: partitions, **({checkpoint_topic: 1} if checkpoint_topic else {})},
    )
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers, **producer_config())
    sent = 0
    last: dict[str, Any] | None = None
    try:
        for envelope in envelopes:
            producer.send(
                topic,
                key=message_key_of(envelope),
                value=orjson.dumps(envelope),
                headers=cloudevents_headers(envelope),
            )
            sent += 1
            last = envelope
            if checkpoint_topic and envelope["position"] % checkpoint_every == 0:
                _send_checkpoint(producer, checkpoint_topic, envelope)
        if checkpoint_topic and last is not None and last["position"] % checkpoint_every != 0:
            _send_checkpoint(producer, checkpoint_topic, last)
        producer.flush()
    finally:
        producer.close()
    return sent


def _send_checkpoint(producer: KafkaProducer, topic: str, envelope: dict[str, Any]) -> None:
    position = envelope["position"]
    value = ledger_signer().sign(
        {
            "position": position,
            "hash": envelope["hash"],
            "events": position,
            "recorded_at": datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
    )
    producer.send(topic, key=b"checkpoint", value=orjson.dumps(value))
