"""A projector killed with SIGKILL mid-batch and restarted ends with exactly the same balances.

Killed at the worst moment (the batch is in the replay store, the read store has not committed
it) and at a random moment while catching up; the restart re-reads from the read store's marks.
"""

import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from projections.domain.asof import AsOf
from projections.replay import ReplayStore, verify_store
from projections.replay.manifest import MANIFEST_FILE, Manifest
from projections.store.read_store import ReadStore
from schemas.calendar import today_in_stockholm
from tests.ledgers.balances_each_way import engine_balances, stored_view_balances
from tests.ledgers.envelopes import checkpoints_of, synthetic_envelopes
from tests.ledgers.kafka_topic import produce_envelopes
from tests.relay_runs import read_side_args

EVENTS = 12_000
START_TIMEOUT_S = 60
RUN_TIMEOUT_S = 180


@pytest.fixture(scope="module")
def envelopes() -> list[dict[str, object]]:
    """A synthetic ledger with a real chain."""
    return list(synthetic_envelopes(EVENTS))


@pytest.fixture(scope="module")
def topic(kafka_bootstrap: str, envelopes: list[dict[str, object]]) -> str:
    """The ledger on a topic of six partitions."""
    name = f"gl-crash-{datetime.now(tz=UTC).strftime('%H%M%S%f')}"
    produce_envelopes(kafka_bootstrap, name, envelopes, checkpoint_topic=f"{name}.checkpoints")
    return name


def project(
    kafka_bootstrap: str,
    topic: str,
    directory: Path,
    *,
    once: bool,
    crash_after_batch: int | None = None,
) -> subprocess.Popen[bytes]:
    """`grant-ledger project` in a process of its own (one that crashes, when asked)."""
    entry = (
        ["commands.cli.main", "project"]
        if crash_after_batch is None
        else ["tests.integration.crashing_projector", str(crash_after_batch)]
    )
    command = [
        sys.executable,
        "-m",
        *entry,
        *read_side_args(
            f"sqlite:///{directory / 'read.db'}", directory / "replay", kafka_bootstrap, topic
        ),
        "--session-timeout-ms",
        "3000",
        "--max-poll-interval-ms",
        "3000",
    ]
    command.append("--once" if once else f"--group=crash-{directory.name}")
    return subprocess.Popen(command, stderr=subprocess.PIPE)


def replay_events(directory: Path) -> int:
    """Events the replay store has committed so far."""
    path = directory / "replay" / MANIFEST_FILE
    return Manifest.from_json(path.read_bytes()).events if path.exists() else 0


def assert_exact(directory: Path, envelopes: list[dict[str, object]]) -> None:
    """Read store and replay store hold exactly the ledger."""
    today = today_in_stockholm()
    with ReadStore.open(f"sqlite:///{directory / 'read.db'}") as read_store:
        assert stored_view_balances(read_store) == engine_balances(envelopes, AsOf(), today=today)
    replay = ReplayStore(directory / "replay")
    with replay.writing():
        replay.compact()
    verdict = verify_store(replay, checkpoints_of(envelopes))
    assert verdict.trusted, verdict.problems
    assert replay.event_count == EVENTS


def test_killed_between_replay_append_and_commit(
    kafka_bootstrap: str, topic: str, envelopes: list[dict[str, object]], tmp_path: Path
) -> None:
    """SIGKILL after the 3rd batch reached the replay store, before the read store committed."""
    first = project(
        kafka_bootstrap,
        topic,
        tmp_path,
        once=True,
        crash_after_batch=3,
    )
    assert first.wait(RUN_TIMEOUT_S) == -signal.SIGKILL
    assert replay_events(tmp_path) > 0
    second = project(kafka_bootstrap, topic, tmp_path, once=True)
    assert second.wait(RUN_TIMEOUT_S) == 0, second.stderr.read() if second.stderr else ""
    assert_exact(tmp_path, envelopes)


def test_killed_at_a_random_moment(
    kafka_bootstrap: str, topic: str, envelopes: list[dict[str, object]], tmp_path: Path
) -> None:
    """SIGKILL while catching up, wherever it lands; the restart finishes the job exactly once."""
    running = project(kafka_bootstrap, topic, tmp_path, once=False)
    deadline = time.monotonic() + START_TIMEOUT_S
    while replay_events(tmp_path) < EVENTS // 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    running.send_signal(signal.SIGKILL)
    assert running.wait(RUN_TIMEOUT_S) == -signal.SIGKILL
    assert 0 < replay_events(tmp_path) < EVENTS
    restarted = project(kafka_bootstrap, topic, tmp_path, once=True)
    assert restarted.wait(RUN_TIMEOUT_S) == 0, restarted.stderr.read() if restarted.stderr else ""
    assert_exact(tmp_path, envelopes)
