"""Run `verify` against a real topic: read both topics to their end, hold them against the chain."""

from collections.abc import Iterable

from ledger.application.chain_index import ChainIndex
from ledger.application.grant_ledger import GrantLedger
from ledger.audit.verification import (
    DEFAULT_MAX_PROBLEMS,
    StoreChain,
    TopicMessage,
    VerificationReport,
    check_chain_index,
    verify_topic,
)
from ledger.config import KafkaSettings, kafka_endpoint
from ledger.infrastructure.kafka.reading import read_message, read_to_end
from ledger.proof.coordinates import MessageAt
from ledger.proof.signatures import TrustedKeys
from ledger.proof.skips import RecordedSkip


def verify_store_against_kafka(
    ledger: GrantLedger,
    settings: KafkaSettings,
    bootstrap_servers: str,
    trusted: TrustedKeys,
    *,
    skips: Iterable[RecordedSkip] = (),
    max_problems: int = DEFAULT_MAX_PROBLEMS,
) -> VerificationReport:
    """Recompute the chain from the store and compare the events and checkpoint topics with it."""
    endpoint = kafka_endpoint(settings, bootstrap_servers)
    chain = StoreChain(ledger)
    chain.compute()
    messages = (
        TopicMessage(record.partition, record.offset, record.value)
        for record in read_to_end(endpoint, settings.topic)
    )
    checkpoints = (
        TopicMessage(record.partition, record.offset, record.value)
        for record in read_to_end(endpoint, settings.checkpoint_topic)
    )

    def read_back(at: MessageAt) -> bytes | None:
        value: bytes | None = read_message(endpoint, at.topic, at.partition, at.offset)
        return value

    report = verify_topic(
        chain,
        messages,
        checkpoints,
        topic=settings.topic,
        checkpoint_topic=settings.checkpoint_topic,
        trusted=trusted,
        read_back=read_back,
        skips=skips,
        max_problems=max_problems,
    )
    check_chain_index(ChainIndex(ledger), chain, report)
    return report
