"""Scale-out by partitions: two projector processes in one consumer group, one PostgreSQL read
store, give exactly the balances one projector gives."""

import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from projections.store.read_store import ReadStore
from tests.ledgers.balances_each_way import stored_view_balances
from tests.ledgers.envelopes import synthetic_envelopes
from tests.ledgers.kafka_topic import produce_envelopes

pytestmark = pytest.mark.postgres

EVENTS = 30_000
RUN_TIMEOUT_S = 300
SUMMARY = re.compile(r"projected (\d+) events \((\d+) already applied")


def project(
    kafka_bootstrap: str, topic: str, read_store: str, replay_dir: Path, group: str
) -> subprocess.Popen[str]:
    """`grant-ledger project --once` in a process of its own, in consumer group `group`."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "commands.cli.main",
            "project",
            "--once",
            "--read-store",
            read_store,
            "--replay-dir",
            str(replay_dir),
            "--bootstrap-servers",
            kafka_bootstrap,
            "--topic",
            topic,
            "--group",
            group,
            "--session-timeout-ms",
            "3000",
            "--max-poll-interval-ms",
            "3000",
            "--idle-ms",
            "4000",
        ],
        env=dict(os.environ),
        stderr=subprocess.PIPE,
        text=True,
    )


def applied(process: subprocess.Popen[str]) -> int:
    """Events the process applied (from its summary line); asserts it exited cleanly."""
    _, err = process.communicate(timeout=RUN_TIMEOUT_S)
    assert process.returncode == 0, err
    found = SUMMARY.search(err)
    assert found, err
    return int(found.group(1))


def test_two_instances_give_what_one_gives(
    kafka_bootstrap: str, postgres_schema_factory: Callable[[], str], tmp_path: Path
) -> None:
    """Same balances; both instances did part of the work; nothing applied twice."""
    topic = f"gl-scale-{datetime.now(tz=UTC).strftime('%H%M%S%f')}"
    produce_envelopes(kafka_bootstrap, topic, synthetic_envelopes(EVENTS))
    single, shared = postgres_schema_factory(), postgres_schema_factory()

    alone = project(kafka_bootstrap, topic, single, tmp_path / "alone", f"one-{tmp_path.name}")
    assert applied(alone) == EVENTS

    group = f"two-{tmp_path.name}"
    first = project(kafka_bootstrap, topic, shared, tmp_path / "first", group)
    second = project(kafka_bootstrap, topic, shared, tmp_path / "second", group)
    counts = [applied(first), applied(second)]
    assert sum(counts) == EVENTS, counts
    assert min(counts) > 0, f"one instance got no partition: {counts}"

    with ReadStore.open(single) as one, ReadStore.open(shared) as two:
        assert stored_view_balances(two) == stored_view_balances(one)
