"""The chain's checkpoints, read from the checkpoints topic, each one's signature verified."""

from __future__ import annotations

from kafka.errors import KafkaError

from ledger.infrastructure.kafka.clients import open_consumer
from ledger.infrastructure.kafka.reading import consumer_config, read_to_end
from ledger.infrastructure.kafka.security import KafkaEndpoint
from ledger.proof.coordinates import MessageAt
from ledger.proof.errors import ForgedCheckpoint
from ledger.proof.signatures import TrustedKeys
from ledger.proof.skips import Skips
from schemas.envelope import Checkpoint

SignedCheckpoint = tuple[Checkpoint, MessageAt]


def topic_exists(bootstrap_servers: KafkaEndpoint | str, topic: str) -> bool:
    """True when the broker knows the topic."""
    probe = open_consumer(bootstrap_servers, **consumer_config(client_id="grant-ledger-probe"))
    try:
        return bool(probe.partitions_for_topic(topic))
    except KafkaError:
        return False
    finally:
        probe.close()


def read_signed_checkpoints(
    bootstrap_servers: KafkaEndpoint | str,
    topic: str,
    trusted: TrustedKeys,
    skips: Skips | None = None,
) -> list[SignedCheckpoint]:
    """Every checkpoint on the topic with where it is, by position (none when there is no
    topic); ForgedCheckpoint or PoisonMessage on one that does not verify (unless skipped)."""
    if not topic_exists(bootstrap_servers, topic):
        return []
    found: dict[int, SignedCheckpoint] = {}
    for record in read_to_end(bootstrap_servers, topic):
        at = MessageAt(topic, record.partition, record.offset)
        if skips and skips.check(at, record.value):
            continue
        checkpoint = trusted.verified(record.value, at)
        earlier = found.get(checkpoint.position)
        if earlier is not None and earlier[0].hash != checkpoint.hash:
            raise ForgedCheckpoint(
                "checkpoint",
                str(at),
                f"and {earlier[1]} are both validly signed but give position "
                f"{checkpoint.position} different hashes: the signing key signed two histories",
            )
        found[checkpoint.position] = (checkpoint, at)
    return [found[position] for position in sorted(found)]
