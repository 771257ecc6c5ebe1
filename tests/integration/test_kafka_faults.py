"""Faults on the durable engine (Apache Kafka): every run ends with positions 1..N exactly once on
the topic, `verify` passing, and live balances equal to a fresh rebuild from the topic.

- the broker killed with -9 while the relay publishes, restarted on the same data dir;
- the broker killed with -9 while the projector applies, restarted;
- the broker frozen (SIGSTOP) mid-window while a second relay takes over, then thawed: the old
  producer is fenced and its open window aborted, so nothing it sent is ever read;
- the broker frozen while a window commits: the commit is given up, never waited for forever,
  and the next producer of the transactional id ends the window (readers are not held).

The fourth fault, three projector instances in one consumer group with the active one killed
with -9 mid-run (the group rebalances, another takes over, the balances are exact), is
tests/integration/test_projection_failover.py: on the session broker, Apache Kafka in CI.
"""

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import KafkaError, KafkaTimeoutError

from ledger.application.grant_ledger import GrantLedger
from ledger.audit.topic_verification import verify_store_against_kafka
from ledger.infrastructure.kafka.apache_kafka import ApacheKafka
from ledger.infrastructure.kafka.reading import consumer_config, producer_config
from ledger.infrastructure.kafka.topics import ensure_topics
from ledger.infrastructure.kafka.transactions import (
    TRANSACTION_WAIT_S,
    TRANSACTIONAL_MAX_BLOCK_MS,
    end_transaction,
    init_transactions,
)
from projections.store.read_store import ReadStore
from tests.fill import fill
from tests.ledgers.balances_each_way import stored_view_balances
from tests.relay_runs import (
    assert_exactly_once_in_order,
    cli_process,
    count_on,
    envelopes_on,
    read_side_args,
    relay_once_by_cli,
    relay_process,
    settings_for,
    wait_for_positions,
)
from tests.signing import ledger_trust

STORED_EVENTS = 4_000
RUN_TIMEOUT_S = 240
FOLLOW_TIMEOUT_S = 180
POLL_S = 0.05
# After the relay says it publishes, this long into a backlog of STORED_EVENTS (windows of 50,
# each a commit: about a second of work) it is certainly mid-publication.
MID_PUBLICATION_S = 0.15


@pytest.fixture(scope="module")
def filled_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite event store of STORED_EVENTS events, filled once for the module."""
    path = tmp_path_factory.mktemp("faults") / "ledger.db"
    fill(f"sqlite:///{path}", STORED_EVENTS)
    return path


@pytest.fixture
def store_url(filled_store: Path, tmp_path: Path) -> str:
    """A copy of the filled store for this test alone."""
    copy = tmp_path / "ledger.db"
    shutil.copy(filled_store, copy)
    return f"sqlite:///{copy}"


@pytest.fixture
def relay_log(tmp_path: Path) -> Iterator[Path]:
    """Where the test's relay processes write their stderr (shown when a test fails)."""
    path = tmp_path / "relay.log"
    path.touch()
    yield path


def _wait_for_log(log: Path, text: str) -> None:
    deadline = time.monotonic() + FOLLOW_TIMEOUT_S
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"never logged {text!r}: {log.read_text()[-3000:]}"
        time.sleep(POLL_S / 5)


def _high_watermark(bootstrap: str, topic: str) -> int:
    """Messages the broker holds for the topic, committed or not (read_uncommitted ends).

    Right after a thaw the broker may briefly report its partitions offline: ask again."""
    deadline = time.monotonic() + FOLLOW_TIMEOUT_S
    while True:
        try:
            return _high_watermark_once(bootstrap, topic)
        except KafkaError:
            assert time.monotonic() < deadline, "the broker never answered for the topic"
            time.sleep(POLL_S * 10)


def _high_watermark_once(
    bootstrap: str, topic: str, isolation_level: str = "read_uncommitted"
) -> int:
    """The topic's end offsets summed (under read_committed: its last stable offsets)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, **consumer_config(isolation_level=isolation_level)
    )
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        return sum(consumer.end_offsets(partitions).values()) if partitions else 0
    finally:
        consumer.close()


def _stop(process: subprocess.Popen[str], log: Path) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(RUN_TIMEOUT_S)
    assert process.returncode == 0, log.read_text()[-3000:]


def _assert_published_once_and_verified(store_url: str, bootstrap: str, topic: str) -> None:
    assert_exactly_once_in_order(envelopes_on(bootstrap, topic), STORED_EVENTS)
    ledger = GrantLedger(store_url)
    try:
        report = verify_store_against_kafka(ledger, settings_for(topic), bootstrap, ledger_trust())
    finally:
        ledger.close()
    assert report.ok, [str(p) for p in report.problems]


def _read_side_args(tmp_path: Path, name: str, bootstrap: str, topic: str) -> list[str]:
    """A read side of its own, `name`, in the test's directory."""
    store = f"sqlite:///{tmp_path / name}.db"
    return read_side_args(store, tmp_path / f"{name}-replay", bootstrap, topic)


def _assert_live_equals_fresh_rebuild(tmp_path: Path, bootstrap: str, topic: str) -> None:
    fresh = cli_process(
        "rebuild", "--from", "kafka", *_read_side_args(tmp_path, "fresh", bootstrap, topic)
    )
    _, err = fresh.communicate(timeout=RUN_TIMEOUT_S)
    assert fresh.returncode == 0, err[-3000:]
    with (
        ReadStore.open(f"sqlite:///{tmp_path / 'live'}.db") as live,
        ReadStore.open(f"sqlite:///{tmp_path / 'fresh'}.db") as rebuilt,
    ):
        assert stored_view_balances(live) == stored_view_balances(rebuilt)


def test_broker_killed_while_the_relay_publishes(
    own_kafka: ApacheKafka, store_url: str, topic_name: str, relay_log: Path, tmp_path: Path
) -> None:
    """kill -9 of the broker mid-publication; restarted on its data dir, the relay finishes."""
    bootstrap = own_kafka.bootstrap_servers
    settings = settings_for(topic_name, checkpoint_every=50)
    with relay_log.open("a") as log:
        relay = relay_process(store_url, settings, bootstrap, log=log)
        try:
            _wait_for_log(relay_log, "publishing to")
            time.sleep(MID_PUBLICATION_S)
            own_kafka.kill()
            time.sleep(1)
            own_kafka.start()
            wait_for_positions(bootstrap, topic_name, STORED_EVENTS, timeout_s=FOLLOW_TIMEOUT_S)
        finally:
            _stop(relay, relay_log)
    # The relay felt the crash (its client retried, or the relay waited and reconnected).
    said = relay_log.read_text()
    assert "ECONNREFUSED" in said or "waiting for Kafka" in said, said[-3000:]
    _assert_published_once_and_verified(store_url, bootstrap, topic_name)
    live = cli_process(
        "project", "--once", *_read_side_args(tmp_path, "live", bootstrap, topic_name)
    )
    _, err = live.communicate(timeout=RUN_TIMEOUT_S)
    assert live.returncode == 0, err[-3000:]
    _assert_live_equals_fresh_rebuild(tmp_path, bootstrap, topic_name)


def test_broker_killed_while_the_projector_applies(
    own_kafka: ApacheKafka, store_url: str, topic_name: str, tmp_path: Path
) -> None:
    """kill -9 of the broker while the projector follows; it waits, then applies each once."""
    bootstrap = own_kafka.bootstrap_servers
    relay_once_by_cli(store_url, bootstrap, topic_name)
    live_args = _read_side_args(tmp_path, "live", bootstrap, topic_name)
    projector = cli_process("project", *live_args, "--session-timeout-ms", "3000")
    try:
        _wait_until_applied(tmp_path, topic_name, STORED_EVENTS // 10)
        own_kafka.kill()
        time.sleep(2)
        own_kafka.start()
        _wait_until_applied(tmp_path, topic_name, STORED_EVENTS)
    finally:
        projector.send_signal(signal.SIGTERM)
        _, err = projector.communicate(timeout=RUN_TIMEOUT_S)
    assert projector.returncode == 0, err[-3000:]
    # Position N applied does not mean every partition is: a last `--once` run catches up.
    finish = cli_process("project", "--once", *live_args)
    _, err = finish.communicate(timeout=RUN_TIMEOUT_S)
    assert finish.returncode == 0, err[-3000:]
    _assert_live_equals_fresh_rebuild(tmp_path, bootstrap, topic_name)


def _applied_through(tmp_path: Path, topic: str) -> int:
    path = tmp_path / "live.db"
    if not path.exists():
        return 0
    try:
        with ReadStore.open(f"sqlite:///{path}") as read_store:
            return read_store.progress().applied.position
    except Exception:
        return 0  # the projector is creating its tables


def _wait_until_applied(tmp_path: Path, topic: str, position: int) -> None:
    deadline = time.monotonic() + FOLLOW_TIMEOUT_S
    while _applied_through(tmp_path, topic) < position:
        assert time.monotonic() < deadline, f"the projector never applied position {position}"
        time.sleep(POLL_S)


def test_a_frozen_relay_window_is_fenced_by_the_relay_that_takes_over(
    own_kafka: ApacheKafka, store_url: str, topic_name: str, relay_log: Path
) -> None:
    """SIGSTOP the broker mid-window, kill the relay, start another, thaw: no duplicate, ever."""
    bootstrap = own_kafka.bootstrap_servers
    # One window for the whole backlog: the first relay is certainly mid-window when frozen.
    settings = settings_for(topic_name, checkpoint_every=STORED_EVENTS * 10)
    with relay_log.open("a") as log:
        first = relay_process(store_url, settings, bootstrap, log=log)
        deadline = time.monotonic() + FOLLOW_TIMEOUT_S
        while _high_watermark_or_zero(bootstrap, topic_name) == 0:
            assert time.monotonic() < deadline, relay_log.read_text()[-3000:]
            time.sleep(POLL_S)
        own_kafka.pause()
        try:
            first.send_signal(signal.SIGKILL)
            first.wait(RUN_TIMEOUT_S)
            second = relay_process(store_url, settings, bootstrap, log=log)
            time.sleep(3)  # the second relay waits for the frozen broker
        finally:
            own_kafka.resume()
        try:
            wait_for_positions(bootstrap, topic_name, STORED_EVENTS, timeout_s=FOLLOW_TIMEOUT_S)
        finally:
            _stop(second, relay_log)
    # The first relay's window reached the broker and was aborted: it is there, never read.
    assert _high_watermark(bootstrap, topic_name) > STORED_EVENTS
    assert count_on(bootstrap, topic_name) == STORED_EVENTS
    _assert_published_once_and_verified(store_url, bootstrap, topic_name)


def _high_watermark_or_zero(bootstrap: str, topic: str) -> int:
    try:
        return _high_watermark_once(bootstrap, topic)
    except KafkaError:
        return 0  # the relay has not created the topic yet


def test_a_commit_the_frozen_coordinator_never_answers_is_given_up_and_taken_over(
    own_kafka: ApacheKafka, topic_name: str
) -> None:
    """kafka-python's commit_transaction() waits for the coordinator with no timeout at all; the
    relay's commit says what it waits for and gives up (here at once, as when told to stop),
    and a new producer of the transactional id ends the window: no reader is held behind it."""
    bootstrap = own_kafka.bootstrap_servers
    ensure_topics(bootstrap, {topic_name: 1})
    said: list[str] = []

    def give_up(what: str, waited_s: float) -> bool:
        said.append(what)
        return False

    def keep_waiting(what: str, waited_s: float) -> bool:
        return True

    config = producer_config(
        transactional_id=f"{topic_name}-relay", max_block_ms=TRANSACTIONAL_MAX_BLOCK_MS
    )
    first = KafkaProducer(bootstrap_servers=bootstrap, **config)
    try:
        init_transactions(first, keep_waiting)
        first.begin_transaction()
        first.send(topic_name, b"the window", partition=0)
        first.flush(timeout=FOLLOW_TIMEOUT_S)
        own_kafka.pause()
        started = time.monotonic()
        try:
            with pytest.raises(KafkaTimeoutError, match="did not commit the transaction"):
                end_transaction(first, commit=True, waiting=give_up)
        finally:
            own_kafka.resume()
        assert time.monotonic() - started < TRANSACTION_WAIT_S
        assert said == ["commit the transaction"]
    finally:
        first.close(timeout=0)
    second = KafkaProducer(bootstrap_servers=bootstrap, **config)
    try:
        init_transactions(second, keep_waiting)
    finally:
        second.close(timeout=0)
    # Committed or aborted, the window is no longer open: read_committed readers reach the end.
    assert _high_watermark_once(bootstrap, topic_name, "read_committed") == _high_watermark(
        bootstrap, topic_name
    )
