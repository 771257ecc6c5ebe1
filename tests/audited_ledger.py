"""The reference scenario recorded, relayed to a topic and projected: what auditors work on.

A module-scoped fixture builds it once (about 10 s): an event store, its topic and checkpoint
topic (a checkpoint every 100 positions), and a read store with its local replay store rebuilt
from the topic. `cli` gives the flags that point a subcommand at all of it.
"""

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.application.grant_ledger import GrantLedger
from ledger.config import KafkaSettings
from ledger.relay.relay import Relay
from projections.application.rebuild import KafkaSource, rebuild
from projections.replay import ReplayStore
from projections.store.read_store import ReadStore
from tests.scenario_ledger import SCENARIO_EVENTS, record_scenario
from tests.signing import ledger_signer, ledger_trust

CHECKPOINT_EVERY = 100


@dataclass(frozen=True)
class AuditedLedger:
    """Where the scenario's store, topic, read store and replay store are."""

    store_url: str
    settings: KafkaSettings
    read_store_url: str
    replay_dir: Path
    events: int

    def store_flags(self) -> list[str]:
        """--store."""
        return ["--store", self.store_url]

    def kafka_flags(self) -> list[str]:
        """--bootstrap-servers, --topic, --checkpoint-topic."""
        assert self.settings.bootstrap_servers is not None
        return [
            "--bootstrap-servers",
            self.settings.bootstrap_servers,
            "--topic",
            self.settings.topic,
            "--checkpoint-topic",
            self.settings.checkpoint_topic,
        ]

    def read_flags(self) -> list[str]:
        """--read-store, --replay-dir."""
        return ["--read-store", self.read_store_url, "--replay-dir", str(self.replay_dir)]


def audited_ledger(
    directory: Path, bootstrap: str, store_url: str, read_store_url: str
) -> AuditedLedger:
    """Record, relay and project the scenario."""
    assert record_scenario(store_url) == SCENARIO_EVENTS
    topic = f"gl-audit-{uuid.uuid4().hex[:10]}"
    settings = KafkaSettings(bootstrap, topic, f"{topic}.checkpoints", CHECKPOINT_EVERY, 3)
    ledger = GrantLedger(store_url)
    try:
        Relay(ledger, settings, bootstrap, ledger_signer()).run(once=True)
    finally:
        ledger.close()
    replay_dir = directory / "replay"
    with ReadStore.open(read_store_url) as read_store:
        rebuild(
            read_store,
            ReplayStore(replay_dir),
            source="kafka",
            kafka=KafkaSource(bootstrap, settings.topic, settings.checkpoint_topic, ledger_trust()),
        )
    return AuditedLedger(store_url, settings, read_store_url, replay_dir, SCENARIO_EVENTS)


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> AuditedLedger:
    """The scenario on SQLite stores, relayed and projected once for the module."""
    directory = tmp_path_factory.mktemp("audited")
    return audited_ledger(
        directory,
        kafka_bootstrap,
        f"sqlite:///{directory / 'ledger.db'}",
        f"sqlite:///{directory / 'read.db'}",
    )
