"""A broker restart while the relay and the projector follow an idle ledger, with the topic
re-created under them with another partition count (as Tansu's auto-create did when a producer
retried): both wait and go on, neither ends in a traceback, and the live balances equal a fresh
fold of the store. On the dev broker (memory only: it comes back empty, the topic re-created
with 4 partitions instead of 6) and on Apache Kafka (killed with -9 and started on its data dir,
then the topic given more partitions by an operator)."""

import shutil
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

from kafka.admin import KafkaAdminClient, NewPartitions

from ledger.application.grant_ledger import GrantLedger
from ledger.audit.topic_verification import verify_store_against_kafka
from ledger.infrastructure.kafka.apache_kafka import LOG_DIRS_NAME, ApacheKafka
from ledger.infrastructure.kafka.dev_broker import DevBroker
from ledger.infrastructure.kafka.topics import ensure_topics
from projections.store.read_store import ReadStore
from schemas.errors import LedgerError
from tests.fill import add_payments, fill
from tests.ledgers.balances_each_way import stored_view_balances
from tests.reference_balances import reference_balances
from tests.relay_runs import (
    projector_process,
    relay_process,
    settings_for,
    wait_until_applied,
)
from tests.signing import ledger_trust

EVENTS = 60
MORE = 5
FIRST_PAYMENT = 1_000
RECREATED_PARTITIONS = 4
MORE_PARTITIONS = 8
TIMEOUT_S = 180
POLL_S = 0.1


def _recreate(bootstrap: str, topics: dict[str, int]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        try:
            ensure_topics(bootstrap, topics)
            return
        except LedgerError:
            assert time.monotonic() < deadline
            time.sleep(POLL_S)


class After(Enum):
    """What a restart left of the topics."""

    KEPT = "kept"  # same topics (same ids): nothing to re-read
    EMPTIED = "emptied"  # gone: the relay re-creates them (the broker never auto-creates)
    RECREATED = "recreated"  # gone, and re-created at once with other partitions (as Tansu did)


# A restart of the broker (or a change of the topic under the readers).
Restart = Callable[[], After]


def _follow_through_restarts(
    bootstrap: str, restarts: list[Restart], sqlite_store_url: str, topic_name: str, tmp_path: Path
) -> None:
    """Relay and projector follow an idle ledger through each restart; after each, a few more
    payments; then verify passes and the live balances equal the reference fold."""
    recorded = fill(sqlite_store_url, EVENTS)
    settings = settings_for(topic_name, partitions=6)
    read_store = f"sqlite:///{tmp_path / 'read.db'}"
    relay_log, projector_log = tmp_path / "relay.log", tmp_path / "project.log"
    with relay_log.open("w") as log:
        relay = relay_process(sqlite_store_url, settings, bootstrap, log=log)
    with projector_log.open("w") as log:
        projector = projector_process(
            bootstrap, settings.topic, read_store, tmp_path / "replay", log=log
        )
    logs = [relay_log, projector_log]
    processes = {"relay": relay, "project": projector}
    replaced = False
    try:
        wait_until_applied(read_store, recorded, processes, logs, TIMEOUT_S)
        for step, restart in enumerate(restarts):
            after = restart()
            replaced = replaced or after is not After.KEPT
            if after is After.RECREATED:
                topics = {settings.topic: RECREATED_PARTITIONS, settings.checkpoint_topic: 1}
                _recreate(bootstrap, topics)
            # Command ids are recorded once: each step's payments must be new ones.
            last = add_payments(sqlite_store_url, FIRST_PAYMENT + step * MORE, MORE)
            assert last == recorded + MORE, f"{last} recorded, {recorded + MORE} expected"
            recorded = last
            wait_until_applied(read_store, recorded, processes, logs, TIMEOUT_S)
    finally:
        for process in (relay, projector):
            process.send_signal(signal.SIGTERM)
    assert relay.wait(TIMEOUT_S) == 0, relay_log.read_text()[-3000:]
    assert projector.wait(TIMEOUT_S) == 0, projector_log.read_text()[-3000:]
    for said in logs:
        assert "Traceback" not in said.read_text(), said.read_text()[-3000:]
    # A topic replaced under the projector is re-read; one given more partitions is re-read
    # only once the projector's client refreshes its metadata (minutes): meanwhile it reads
    # the partitions it knows, and the relay publishes to those until it reconnects.
    if replaced:
        assert "re-reading it from the beginning" in projector_log.read_text()

    ledger = GrantLedger(sqlite_store_url)
    try:
        events = [event for _, event in ledger.programme_events()]
        report = verify_store_against_kafka(ledger, settings, bootstrap, ledger_trust())
    finally:
        ledger.close()
    assert report.ok, [str(p) for p in report.problems]
    with ReadStore.open(read_store) as store:
        assert store.progress().applied.position == recorded
        expected = reference_balances(events, today=datetime.now(tz=UTC).date())
        assert stored_view_balances(store) == expected


def test_a_broker_restart_while_idle_never_double_counts(
    own_broker: DevBroker, sqlite_store_url: str, topic_name: str, tmp_path: Path
) -> None:
    """The dev broker restarts empty; the topic comes back with another partition count."""

    def empty() -> After:
        own_broker.restart()
        return After.RECREATED

    _follow_through_restarts(
        own_broker.bootstrap_servers, [empty], sqlite_store_url, topic_name, tmp_path
    )


def test_apache_kafka_restarted_while_idle_never_double_counts(
    own_kafka: ApacheKafka, sqlite_store_url: str, topic_name: str, tmp_path: Path
) -> None:
    """Apache Kafka killed with -9 and started on its data dir (nothing lost), then the topic
    given more partitions while both follow: the relay's next windows are committed, and the
    projector applies them, counting nothing twice."""

    def on_its_data_dir() -> After:
        own_kafka.kill()
        own_kafka.start()
        return After.KEPT

    def more_partitions() -> After:
        admin = KafkaAdminClient(bootstrap_servers=own_kafka.bootstrap_servers)
        try:
            admin.create_partitions({topic_name: NewPartitions(MORE_PARTITIONS)})
        finally:
            admin.close()
        return After.KEPT

    _follow_through_restarts(
        own_kafka.bootstrap_servers,
        [on_its_data_dir, more_partitions],
        sqlite_store_url,
        topic_name,
        tmp_path,
    )


def test_apache_kafka_restarted_empty_gets_the_whole_ledger_again(
    own_kafka: ApacheKafka, sqlite_store_url: str, topic_name: str, tmp_path: Path
) -> None:
    """Apache Kafka killed with -9 and started on an emptied data dir (a new cluster: topics,
    transactional ids and producer ids gone, as after a lost disk): the relay re-creates its
    topics and publishes the store again from position 1 (README's runbook: a re-created topic);
    the projector notices the new topic and re-reads it, counting nothing twice."""

    def emptied() -> After:
        own_kafka.kill()
        # The broker's logs and metadata, not its port file: clients keep their address.
        shutil.rmtree(own_kafka.data_dir / LOG_DIRS_NAME)
        own_kafka.start()
        return After.EMPTIED

    _follow_through_restarts(
        own_kafka.bootstrap_servers, [emptied], sqlite_store_url, topic_name, tmp_path
    )
    said = (tmp_path / "relay.log").read_text()
    assert f"the topic {topic_name} was gone" in said, said[-3000:]
