"""A standby projector never waits for ever in a group where nobody holds the checkpoint partition.

kafka-python's group leader can assign the checkpoint partition to nobody (the topic missing
from its metadata when it assigned, as after a broker restart or a topic re-created under it)
and then never notice the topic is back: every instance stands by, the books lag, and nothing
says so (seen in CI, `test_broker_restart`). Here a leader of the test's own makes that state on
purpose. The standby asks the group's coordinator who holds the partition, finds nobody, says
so, joins again and applies the ledger. On Apache Kafka: Tansu's answer to DescribeGroups is one
kafka-python cannot decode, and the last test shows the standby is then told nothing (it just
waits, as before).
"""

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kafka.coordinator.assignors.abstract import ConsumerProtocolAssignment
from kafka.coordinator.assignors.range import RangePartitionAssignor

from ledger.infrastructure.kafka.apache_kafka import ApacheKafka
from ledger.infrastructure.kafka.clients import open_consumer
from ledger.infrastructure.kafka.dev_broker import DevBroker
from ledger.infrastructure.kafka.groups import Holding, partition_holding
from ledger.infrastructure.kafka.reading import consumer_config
from ledger.infrastructure.kafka.topics import ensure_topics
from ledger.relay.messages import CHECKPOINT_PARTITION
from tests.ledgers.envelopes import synthetic_envelopes
from tests.ledgers.kafka_topic import produce_envelopes
from tests.relay_runs import projector_process, wait_until_applied

EVENTS = 500
TIMEOUT_S = 120
# Runs of the scenario before the test gives up on the group's lead staying with its leader.
SCENARIO_ATTEMPTS = 3
NOBODY_HOLDS = "nobody holds the checkpoint partition"
PROJECTOR_LOG = "project.log"


class _ShunsUntilTold(RangePartitionAssignor):  # type: ignore[misc]
    """kafka-python's range assignor (same name: the group agrees on it), except that members
    subscribed to `topic` are given nothing, as by the library's stuck leader, until the
    standby's log says it found nobody holding the partition. Not only the first member: a
    member that joins again under a new id (a session lost on a loaded machine, seen in CI)
    would otherwise be given the partition before the standby ever looked."""

    def __init__(self, topic: str, log: Path) -> None:
        self.topic = topic
        self.log = log
        # Set once this leader has given the partition out (after the standby's word).
        self.gave_the_partition = False

    def assign(self, cluster: Any, members: Any) -> dict[str, Any]:
        assignment: dict[str, Any] = RangePartitionAssignor.assign(cluster, members)
        if self.log.exists() and NOBODY_HOLDS in self.log.read_text():
            self.gave_the_partition = True
            return assignment
        for member in members:
            if self.topic in member.metadata.topics:
                assignment[member.member_id] = ConsumerProtocolAssignment(self.version, [], b"")
        return assignment


class _Leader:
    """A member of the group, on a topic of its own, that joined first and so leads it."""

    def __init__(
        self, bootstrap: str, group: str, own_topic: str, shunning: str, log: Path
    ) -> None:
        ensure_topics(bootstrap, {own_topic: 1})
        self.assignor = _ShunsUntilTold(shunning, log)
        self.consumer = open_consumer(
            bootstrap,
            **consumer_config(
                client_id="test-leader",
                group_id=group,
                session_timeout_ms=6_000,
                heartbeat_interval_ms=1_000,
                metadata_max_age_ms=1_000,
                partition_assignment_strategy=[self.assignor],
            ),
        )
        self.consumer.subscribe([own_topic])
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)

    def _follow(self) -> None:
        while not self.stop.is_set():
            self.consumer.poll(timeout_ms=100)

    def lead(self) -> None:
        """Join (alone: the leader) and keep answering the group's rebalances."""
        deadline = time.monotonic() + TIMEOUT_S
        while not self.consumer.assignment():
            assert time.monotonic() < deadline, "the leader never joined its group"
            self.consumer.poll(timeout_ms=100)
        self.thread.start()

    def leave(self) -> None:
        """Stop answering and leave the group."""
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join(TIMEOUT_S)
        self.consumer.close()


@contextlib.contextmanager
def leading(bootstrap: str, group: str, topic_name: str, log: Path) -> Iterator[_Leader]:
    """The group's leader, which gives the checkpoint partition to nobody until the standby
    (logging to `log`) says so."""
    member = _Leader(
        bootstrap, group, f"{topic_name}.leader", shunning=f"{topic_name}.checkpoints", log=log
    )
    try:
        member.lead()
        yield member
    finally:
        member.leave()


@pytest.fixture
def leader(own_kafka: ApacheKafka, topic_name: str, tmp_path: Path) -> Iterator[_Leader]:
    """`leading` the test's group, its standby logging to tmp_path/project.log."""
    group = f"standby-{tmp_path.name}"
    with leading(own_kafka.bootstrap_servers, group, topic_name, tmp_path / PROJECTOR_LOG) as it:
        yield it


def test_a_standby_in_a_group_that_gave_the_checkpoint_partition_to_nobody_joins_again(
    own_kafka: ApacheKafka, topic_name: str, tmp_path: Path
) -> None:
    """The standby says nobody holds the partition, joins again and applies every event. The
    state is the test leader's to make: where the group's lead moved to the projector (the
    leader's session lost on a loaded machine, seen in CI) the projector was simply given the
    partition, nothing was tested, and the scenario runs again in a fresh group."""
    bootstrap = own_kafka.bootstrap_servers
    checkpoints = f"{topic_name}.checkpoints"
    produce_envelopes(
        bootstrap, topic_name, synthetic_envelopes(EVENTS), checkpoint_topic=checkpoints
    )
    tried: list[str] = []
    for attempt in range(SCENARIO_ATTEMPTS):
        run = tmp_path / f"attempt-{attempt}"
        run.mkdir()
        group = f"standby-{tmp_path.name}-{attempt}"
        with leading(bootstrap, group, topic_name, run / PROJECTOR_LOG) as leader:
            exit_code, said = _standby_run(bootstrap, topic_name, group, run)
            assert exit_code == 0, said
            assert "Traceback" not in said, said
            if NOBODY_HOLDS not in said:
                # Active without the state ever made: someone other than this leader assigned.
                assert not leader.assignor.gave_the_partition, said
                tried.append(said)
                continue
            assert leader.consumer.assignment(), "the leader stayed in the group throughout"
        assert f"in group {group}, {NOBODY_HOLDS} ({checkpoints}:{CHECKPOINT_PARTITION}" in said
        assert said.index(NOBODY_HOLDS) < said.index("project: active"), said
        return
    pytest.fail(f"the group's lead never stayed with the test's leader: {tried}")


def _standby_run(bootstrap: str, topic_name: str, group: str, run: Path) -> tuple[int, str]:
    """A projector in `group` until it applied every event; its exit code and its log."""
    read_store = f"sqlite:///{run / 'read.db'}"
    log = run / PROJECTOR_LOG
    with log.open("w") as stderr:
        projector = projector_process(
            bootstrap, topic_name, read_store, run / "replay", "--group", group, log=stderr
        )
    try:
        wait_until_applied(read_store, EVENTS, {"project": projector}, [log], TIMEOUT_S)
    finally:
        projector.send_signal(signal.SIGTERM)
        exit_code = projector.wait(TIMEOUT_S)
    return exit_code, log.read_text()


def test_the_coordinator_says_whether_anyone_holds_a_partition(
    own_kafka: ApacheKafka, leader: _Leader, topic_name: str, tmp_path: Path
) -> None:
    bootstrap = own_kafka.bootstrap_servers
    group = f"standby-{tmp_path.name}"
    own = f"{topic_name}.leader"
    assert partition_holding(bootstrap, group, own, 0) is Holding.HELD
    assert partition_holding(bootstrap, group, own, 1) is Holding.NOBODY
    assert partition_holding(bootstrap, group, f"{topic_name}.checkpoints", 0) is Holding.NOBODY
    assert partition_holding(bootstrap, f"{group}-none", own, 0) is Holding.NO_MEMBERS


def test_a_coordinator_whose_answer_cannot_be_read_changes_nothing(
    own_broker: DevBroker, topic_name: str
) -> None:
    """Tansu's DescribeGroups answer carries authorised operations kafka-python cannot decode:
    the standby is told the group cannot say (it waits, as before), never an exception."""
    bootstrap = own_broker.bootstrap_servers
    ensure_topics(bootstrap, {topic_name: 1})
    assert partition_holding(bootstrap, "any-group", topic_name, 0) is Holding.UNKNOWN
