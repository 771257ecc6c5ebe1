"""The relay stops on SIGTERM, within RELAY_STOP_DEADLINE_S whatever the broker does, and the next
run resumes from the topic (issue 10: a relay that did not stop).

What hung: `grant-ledger relay` run in-process (as the tests do) left its SIGTERM handler behind,
bound to its finished relay. The VOPR forks its relays from that process: a SIGTERM arriving
before a child had installed its own handler went to the stale one, and the child relay followed
for ever (its stack: idle in the pump, waiting for new events).
"""

import multiprocessing
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from commands.cli.main import EXIT_UNAVAILABLE
from ledger.application.grant_ledger import GrantLedger
from ledger.infrastructure.operations.stop_signals import stop_on_signals
from ledger.relay.relay import RELAY_STOP_DEADLINE_S, Relay
from tests.fill import add_payments, fill
from tests.relay_runs import (
    envelopes_on,
    relay_once_by_cli,
    relay_process,
    settings_for,
    wait_for_positions,
)
from tests.signing import ledger_signer

pytestmark = pytest.mark.kafka

STORED_EVENTS = 300
FROZEN_PAYMENTS = 400
# Beyond the deadline: the process's own exit (interpreter teardown) on a loaded machine.
EXIT_MARGIN_S = 30.0
FORK = multiprocessing.get_context("fork")


def test_an_in_process_relay_leaves_the_signal_handlers_as_they_were(
    sqlite_store_url: str, kafka_bootstrap: str, topic_name: str
) -> None:
    fill(sqlite_store_url, 20)
    before = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    relay_once_by_cli(sqlite_store_url, kafka_bootstrap, topic_name)
    assert {signum: signal.getsignal(signum) for signum in before} == before


def _follow(store_url: str, topic: str, bootstrap: str) -> None:
    """Forked: follow as the VOPR's relays do (their handlers installed once it is built)."""
    ledger = GrantLedger(store_url)
    relay = Relay(ledger, settings_for(topic), bootstrap, ledger_signer())
    with stop_on_signals(lambda _signal: relay.stop(), relay.stop_deadline(EXIT_UNAVAILABLE)):
        relay.run()


def test_a_relay_forked_after_an_in_process_run_stops_on_an_immediate_sigterm(
    sqlite_store_url: str, kafka_bootstrap: str, topic_name: str
) -> None:
    """The VOPR's hang, deterministic: SIGTERM before the forked relay has its own handler."""
    fill(sqlite_store_url, 20)
    relay_once_by_cli(sqlite_store_url, kafka_bootstrap, topic_name)
    child = FORK.Process(target=_follow, args=(sqlite_store_url, topic_name, kafka_bootstrap))
    child.start()
    assert child.pid is not None
    os.kill(child.pid, signal.SIGTERM)
    child.join(RELAY_STOP_DEADLINE_S + EXIT_MARGIN_S)
    hung = child.is_alive()
    if hung:
        child.kill()
        child.join()
    assert not hung, "the relay did not stop on SIGTERM"


def _stop_within_deadline(relay: subprocess.Popen[str], log: Path) -> float:
    """SIGTERM; the seconds the relay took to exit (it must, in time, and exit 0)."""
    started = time.monotonic()
    relay.send_signal(signal.SIGTERM)
    try:
        relay.wait(timeout=RELAY_STOP_DEADLINE_S + EXIT_MARGIN_S)
    except subprocess.TimeoutExpired:
        relay.kill()
        relay.wait()
        pytest.fail(f"the relay did not exit on SIGTERM: {log.read_text()[-3000:]}")
    took_s = time.monotonic() - started
    assert relay.returncode == 0, log.read_text()[-3000:]
    return took_s


def _positions_each_once_or_identical(bootstrap: str, topic: str, count: int) -> None:
    """Positions 1..count on the topic; a repeat (a frozen producer's send landing late, which
    idempotent mode allows and `verify` reports) is the very same envelope."""
    by_position: dict[int, bytes] = {}
    for envelope in envelopes_on(bootstrap, topic):
        value = orjson.dumps(envelope, option=orjson.OPT_SORT_KEYS)
        assert by_position.setdefault(envelope["position"], value) == value
    assert sorted(by_position) == list(range(1, count + 1))


def _stop_after(
    fault: Callable[[], None], store_url: str, broker: Any, topic: str, log: Path
) -> int:
    """A relay follows the store; the fault strikes the broker, more events are recorded (sends
    the broker may never answer), then SIGTERM: the relay exits 0 well within its deadline, and
    the next run resumes. Returns the last position recorded."""
    bootstrap = broker.bootstrap_servers
    fill(store_url, STORED_EVENTS)
    with log.open("w") as stderr:
        relay = relay_process(
            store_url, settings_for(topic, checkpoint_every=50), bootstrap, log=stderr
        )
        try:
            wait_for_positions(bootstrap, topic, STORED_EVENTS)
            fault()
            last = add_payments(store_url, 50_000, FROZEN_PAYMENTS)
            time.sleep(1.0)
            took_s = _stop_within_deadline(relay, log)
        finally:
            relay.kill()
            broker.resume()  # a frozen broker answers again (a running one ignores it)
    assert took_s < RELAY_STOP_DEADLINE_S, log.read_text()[-3000:]
    relay_once_by_cli(store_url, bootstrap, topic)
    return last


def test_a_frozen_broker_does_not_hold_a_stopping_relay(
    sqlite_store_url: str, own_broker: Any, topic_name: str, tmp_path: Path
) -> None:
    last = _stop_after(own_broker.pause, sqlite_store_url, own_broker, topic_name, tmp_path / "log")
    _positions_each_once_or_identical(own_broker.bootstrap_servers, topic_name, last)


def test_a_broker_restarting_under_a_stopping_relay_does_not_hold_it(
    sqlite_store_url: str, own_broker: Any, topic_name: str, tmp_path: Path
) -> None:
    # Empty after the restart: the topic is gone while the relay publishes to it.
    last = _stop_after(
        own_broker.restart, sqlite_store_url, own_broker, topic_name, tmp_path / "log"
    )
    _positions_each_once_or_identical(own_broker.bootstrap_servers, topic_name, last)
