"""Running the relay in tests (in-process and as an OS process) and reading what it published."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO, Any

import orjson
import pytest
from kafka.errors import KafkaError

from commands.cli.main import main
from ledger.application.grant_ledger import GrantLedger
from ledger.infrastructure.kafka.reading import read_all
from ledger.relay.relay import Relay
from ledger.settings import KafkaSettings
from projections.store.read_store import ReadStore
from schemas.chain import GENESIS_HASH, canonical_bytes, chain_hash
from schemas.errors import LedgerError
from tests.signing import ledger_signer

# How long a process is given to write its stacks after SIGUSR1.
STACK_DUMP_WAIT_S = 1.0
WAIT_POLL_S = 0.1


def settings_for(topic: str, checkpoint_every: int = 1_000, partitions: int = 3) -> KafkaSettings:
    """Relay settings on a test's own topics."""
    return KafkaSettings(
        bootstrap_servers=None,
        topic=topic,
        checkpoint_topic=f"{topic}.checkpoints",
        checkpoint_every=checkpoint_every,
        partitions=partitions,
    )


def relay_once(store_url: str, settings: KafkaSettings, bootstrap: str) -> Any:
    """Run the relay until caught up."""
    ledger = GrantLedger(store_url)
    try:
        return Relay(ledger, settings, bootstrap, ledger_signer()).run(once=True)
    finally:
        ledger.close()


def relay_once_by_cli(store_url: str, bootstrap: str, topic: str) -> None:
    """`grant-ledger relay --once` in this process, onto `topic` and `topic.checkpoints`."""
    argv = ["relay", "--once", "--store", store_url, "--bootstrap-servers", bootstrap]
    assert main([*argv, "--topic", topic, "--checkpoint-topic", f"{topic}.checkpoints"]) == 0


def envelopes_on(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every envelope on the topic, in position order."""
    return sorted(
        (orjson.loads(r.value) for r in read_all(bootstrap, topic)), key=lambda e: e["position"]
    )


def assert_exactly_once_in_order(envelopes: list[dict[str, Any]], count: int) -> None:
    """Positions 1..count each once, and the chain links from genesis."""
    assert [e["position"] for e in envelopes] == list(range(1, count + 1))
    prev = GENESIS_HASH
    for envelope in envelopes:
        assert envelope["prev_hash"] == prev
        assert envelope["hash"] == chain_hash(prev, canonical_bytes(envelope))
        prev = envelope["hash"]


def relay_process(
    store_url: str,
    settings: KafkaSettings,
    bootstrap: str,
    *,
    log: IO[str] | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[str]:
    """`grant-ledger relay` (following) as a real OS process; its stderr to `log` if given
    (a long run must not fill a pipe nobody reads)."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "GRANT_LEDGER_STORE": store_url,
        "GRANT_LEDGER_TOPIC": settings.topic,
        "GRANT_LEDGER_CHECKPOINT_TOPIC": settings.checkpoint_topic,
        "GRANT_LEDGER_CHECKPOINT_EVERY": str(settings.checkpoint_every),
        "GRANT_LEDGER_PARTITIONS": str(settings.partitions),
        **(extra_env or {}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "commands.cli.main", "relay"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=log if log is not None else subprocess.PIPE,
        text=True,
    )


def count_on(bootstrap: str, topic: str) -> int:
    """Messages on the topic; 0 before the relay has created it (or while a thawed broker
    briefly reports no brokers)."""
    try:
        return len(list(read_all(bootstrap, topic)))
    except (LedgerError, KafkaError):
        return 0


def wait_for_positions(bootstrap: str, topic: str, count: int, timeout_s: float = 60) -> None:
    """Block until the topic holds at least `count` messages."""
    deadline = time.monotonic() + timeout_s
    while count_on(bootstrap, topic) < count:
        assert time.monotonic() < deadline, f"topic never reached {count} messages"
        time.sleep(0.2)


def read_side_args(read_store: str, replay_dir: Path, bootstrap: str, topic: str) -> list[str]:
    """The flags every read-side command takes: its two stores, the topic and its checkpoints."""
    return [
        "--read-store",
        read_store,
        "--replay-dir",
        str(replay_dir),
        "--bootstrap-servers",
        bootstrap,
        "--topic",
        topic,
        "--checkpoint-topic",
        f"{topic}.checkpoints",
    ]


def cli_process(*args: str, stderr: IO[Any] | int = subprocess.PIPE) -> subprocess.Popen[str]:
    """`grant-ledger ARGS` as a real OS process (a kill -9 reaches it, not the test); stdout is
    dropped, stderr goes to `stderr` (a log file for a long run: nobody reads a pipe meanwhile)."""
    return subprocess.Popen(
        [sys.executable, "-m", "commands.cli.main", *args],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        text=True,
    )


def dump_stacks(*processes: subprocess.Popen[str]) -> None:
    """Each `grant-ledger` process still running writes every thread's stack to its stderr
    (SIGUSR1): where a process that never got somewhere was waiting, for the failure to show."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGUSR1)
    time.sleep(STACK_DUMP_WAIT_S)


def applied_position(read_store: str) -> int:
    """The position the read store says is applied; 0 while the projector is creating it."""
    try:
        with ReadStore.open(read_store) as store:
            return store.progress().applied.position
    except Exception:
        return 0  # no tables yet


def wait_until_applied(
    read_store: str,
    position: int,
    processes: dict[str, subprocess.Popen[str]],
    logs: list[Path],
    timeout_s: float,
) -> None:
    """Until the read store applied `position`; else (a process ended, or the time is up) fail
    with every process's stacks and whole logs: where each one waited."""
    deadline = time.monotonic() + timeout_s
    while applied_position(read_store) < position:
        ended = [name for name, process in processes.items() if process.poll() is not None]
        if ended or time.monotonic() >= deadline:
            dump_stacks(*processes.values())
            said = "\n".join(f"----- {log.name}\n{log.read_text()}" for log in logs)
            why = f"{ended} ended" if ended else f"not within {timeout_s} s"
            pytest.fail(
                f"position {position} not applied ({why}; applied "
                f"{applied_position(read_store)}):\n{said}"
            )
        time.sleep(WAIT_POLL_S)


def projector_process(
    bootstrap: str,
    topic: str,
    read_store: str,
    replay_dir: Path,
    *extra_flags: str,
    log: IO[Any],
) -> subprocess.Popen[str]:
    """`grant-ledger project` (following) as a real OS process on `topic` and
    `topic.checkpoints`, into `read_store`; its stderr to `log`."""
    return cli_process(
        "project",
        *read_side_args(read_store, replay_dir, bootstrap, topic),
        "--session-timeout-ms",
        "3000",
        *extra_flags,
        stderr=log,
    )
