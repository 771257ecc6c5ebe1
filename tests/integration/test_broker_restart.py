"""A broker restart while the relay and the projector follow an idle ledger, on the dev broker
(memory only: it comes back empty), with the topic re-created under them with another partition
count (as Tansu's auto-create did when a producer retried): both wait and go on, neither ends in
a traceback, and the live balances equal a fresh rebuild from the store."""

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger.application.grant_ledger import GrantLedger
from ledger.audit.topic_verification import verify_store_against_kafka
from ledger.domain.errors import LedgerError
from ledger.infrastructure.kafka.dev_broker import DevBroker
from ledger.infrastructure.kafka.topics import ensure_topics
from projections.domain.reference import reference_balances
from projections.store.read_store import ReadStore
from tests.fill import add_payments, fill
from tests.ledgers.balances_each_way import stored_view_balances
from tests.relay_runs import relay_process, settings_for
from tests.signing import ledger_trust

EVENTS = 60
MORE = 5
RECREATED_PARTITIONS = 4
TIMEOUT_S = 180
POLL_S = 0.1


def _applied(read_store: str) -> int:
    try:
        with ReadStore.open(read_store) as store:
            return store.progress().applied.position
    except Exception:
        return 0  # the projector is creating its tables


def _wait_applied(read_store: str, position: int, logs: list[Path]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while _applied(read_store) < position:
        assert time.monotonic() < deadline, [log.read_text()[-3000:] for log in logs]
        time.sleep(POLL_S)


def _recreate(bootstrap: str, topics: dict[str, int]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        try:
            ensure_topics(bootstrap, topics)
            return
        except LedgerError:
            assert time.monotonic() < deadline
            time.sleep(POLL_S)


def test_a_broker_restart_while_idle_never_double_counts(
    own_broker: DevBroker, sqlite_store_url: str, topic_name: str, tmp_path: Path
) -> None:
    bootstrap = own_broker.bootstrap_servers
    fill(sqlite_store_url, EVENTS)
    settings = settings_for(topic_name, partitions=6)
    read_store = f"sqlite:///{tmp_path / 'read.db'}"
    relay_log, projector_log = tmp_path / "relay.log", tmp_path / "project.log"
    with relay_log.open("w") as log:
        relay = relay_process(sqlite_store_url, settings, bootstrap, log=log)
    with projector_log.open("w") as log:
        projector = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "commands.cli.main",
                "project",
                "--read-store",
                read_store,
                "--replay-dir",
                str(tmp_path / "replay"),
                "--bootstrap-servers",
                bootstrap,
                "--topic",
                settings.topic,
                "--checkpoint-topic",
                settings.checkpoint_topic,
                "--session-timeout-ms",
                "3000",
            ],
            env=dict(os.environ),
            stderr=log,
        )
    logs = [relay_log, projector_log]
    try:
        _wait_applied(read_store, EVENTS, logs)
        own_broker.restart()  # empty: the topics are gone
        _recreate(bootstrap, {settings.topic: RECREATED_PARTITIONS, settings.checkpoint_topic: 1})
        add_payments(sqlite_store_url, 1_000, MORE)
        _wait_applied(read_store, EVENTS + MORE, logs)
    finally:
        for process in (relay, projector):
            process.send_signal(signal.SIGTERM)
    assert relay.wait(TIMEOUT_S) == 0, relay_log.read_text()[-3000:]
    assert projector.wait(TIMEOUT_S) == 0, projector_log.read_text()[-3000:]
    for log in logs:
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
    assert "re-reading it from the beginning" in projector_log.read_text()

    ledger = GrantLedger(sqlite_store_url)
    try:
        events = [event for _, event in ledger.programme_events()]
        report = verify_store_against_kafka(ledger, settings, bootstrap, ledger_trust())
    finally:
        ledger.close()
    assert report.ok, [str(p) for p in report.problems]
    with ReadStore.open(read_store) as store:
        assert store.progress().applied.position == EVENTS + MORE
        expected = reference_balances(events, today=datetime.now(tz=UTC).date())
        assert stored_view_balances(store) == expected


pytestmark = pytest.mark.tansu
