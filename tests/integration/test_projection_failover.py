"""Three projector instances in one consumer group, one PostgreSQL read store: exactly one is
active (it reads every partition in position order), and when it is killed with -9 mid-run the
group rebalances, another takes over from what the read store recorded, and the balances are
exact."""

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from projections.domain.asof import AsOf
from projections.store.read_store import ReadStore
from tests.ledgers.balances_each_way import engine_balances, stored_view_balances
from tests.ledgers.envelopes import synthetic_envelopes
from tests.ledgers.kafka_topic import produce_envelopes
from tests.relay_runs import applied_position, projector_process

pytestmark = pytest.mark.postgres

EVENTS = 40_000
INSTANCES = 3
RUN_TIMEOUT_S = 300
POLL_S = 0.05
ACTIVE = "project: active"
STANDING_BY = "project: standing by"


def active_now(log: Path) -> bool:
    """What the instance said last about its role: active, or standing by (or nothing yet)."""
    said = log.read_text()
    return said.rfind(ACTIVE) > said.rfind(STANDING_BY)


def project(
    bootstrap: str, topic: str, read_store: str, *, directory: Path, group: str, log: Path
) -> subprocess.Popen[str]:
    """A following `grant-ledger project` in group `group`, its stderr to `log`."""
    with log.open("wb") as stderr:
        return projector_process(
            bootstrap,
            topic,
            read_store,
            directory,
            "--group",
            group,
            "--max-poll-interval-ms",
            "10000",
            log=stderr,
        )


@pytest.fixture
def envelopes() -> list[dict[str, object]]:
    """A synthetic ledger with a real chain."""
    return list(synthetic_envelopes(EVENTS))


@pytest.fixture
def instances(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    """The test's projector processes; any still running at the end are stopped."""
    running: list[subprocess.Popen[str]] = []
    yield running
    for process in running:
        if process.poll() is None:
            process.kill()
            process.wait(RUN_TIMEOUT_S)


def test_the_group_fails_over_when_the_active_instance_is_killed(
    kafka_bootstrap: str,
    postgres_schema_factory: Callable[[], str],
    envelopes: list[dict[str, object]],
    instances: list[subprocess.Popen[str]],
    tmp_path: Path,
) -> None:
    topic = f"gl-failover-{datetime.now(tz=UTC).strftime('%H%M%S%f')}"
    produce_envelopes(kafka_bootstrap, topic, envelopes, checkpoint_topic=f"{topic}.checkpoints")
    read_store = postgres_schema_factory()
    logs = [tmp_path / f"instance-{n}.log" for n in range(INSTANCES)]
    group = f"failover-{tmp_path.name}"
    for n, log in enumerate(logs):
        instances.append(
            project(
                kafka_bootstrap,
                topic,
                read_store,
                directory=tmp_path / f"replay-{n}",
                group=group,
                log=log,
            )
        )

    deadline = time.monotonic() + RUN_TIMEOUT_S
    # The group settles (joins rebalance it) while the active instance applies.
    active: list[int] = []
    while applied_position(read_store) == 0 or len(active) != 1:
        assert time.monotonic() < deadline, [log.read_text()[-2000:] for log in logs]
        time.sleep(POLL_S)
        active = [n for n, log in enumerate(logs) if active_now(log)]
    first = active[0]
    instances[first].send_signal(signal.SIGKILL)
    instances[first].wait(RUN_TIMEOUT_S)
    killed_at = applied_position(read_store)
    assert 0 < killed_at < EVENTS, "killed mid-run"

    while applied_position(read_store) < EVENTS:
        assert time.monotonic() < deadline, [log.read_text()[-2000:] for log in logs]
        time.sleep(POLL_S)
    took_over = [n for n, log in enumerate(logs) if n != first and active_now(log)]
    assert len(took_over) == 1, [log.read_text()[-2000:] for log in logs]
    for n, process in enumerate(instances):
        if n != first:
            process.send_signal(signal.SIGTERM)
            assert process.wait(RUN_TIMEOUT_S) == 0, logs[n].read_text()[-2000:]

    today = datetime.now(tz=UTC).date()
    with ReadStore.open(read_store) as store:
        assert store.progress().applied.position == EVENTS
        assert stored_view_balances(store) == engine_balances(envelopes, AsOf(), today=today)
