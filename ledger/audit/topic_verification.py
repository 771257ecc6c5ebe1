"""Run `verify` against a real topic: read everything, then hold it against the store's chain."""

from ledger.application.chain_index import ChainIndex
from ledger.application.grant_ledger import GrantLedger
from ledger.audit.verification import (
    StoreChain,
    TopicMessage,
    VerificationReport,
    check_chain_index,
    verify_topic,
)
from ledger.config import KafkaSettings, kafka_endpoint
from ledger.infrastructure.kafka.reading import read_all


def verify_store_against_kafka(
    ledger: GrantLedger, settings: KafkaSettings, bootstrap_servers: str
) -> VerificationReport:
    """Recompute the chain from the store and compare the events and checkpoint topics with it."""
    endpoint = kafka_endpoint(settings, bootstrap_servers)
    chain = StoreChain(ledger)
    chain.compute()
    messages = (
        TopicMessage(record.partition, record.offset, record.value)
        for record in read_all(endpoint, settings.topic)
    )
    checkpoints = (
        TopicMessage(record.partition, record.offset, record.value)
        for record in read_all(endpoint, settings.checkpoint_topic)
    )
    report = verify_topic(chain, messages, checkpoints)
    check_chain_index(ChainIndex(ledger), chain, report)
    return report
