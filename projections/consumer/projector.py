"""The live projector: a consumer-group member that keeps the read store and replay store current.

Each batch: decode, append the events not yet in the local replay store (its manifest is the
commit point there), then apply the batch to the read store in one transaction that also moves
the partitions' marks (exactly once, see projections.store.read_store). A crash between the two
leaves the replay store ahead; the re-delivered events are then skipped there by position and
applied to the read store. Partitions are scaled out by the consumer group; on assignment each
partition resumes from the offset the read store recorded, not from Kafka's committed offsets.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import orjson
from kafka import ConsumerRebalanceListener, KafkaConsumer, TopicPartition

from ledger.domain.errors import LedgerError
from ledger.infrastructure.kafka.clients import open_consumer
from ledger.infrastructure.kafka.reading import consumer_config
from ledger.infrastructure.kafka.security import KafkaEndpoint
from ledger.infrastructure.operations.status import ProcessHealth
from projections.application.progress import Progress
from projections.consumer.metrics import ProjectorMetrics
from projections.domain.facts import EventFacts, facts_of
from projections.replay import ColumnBuilder, PartitionMark, ReplayStore
from projections.store.read_store import ConsumedEvent, ReadStore

log = logging.getLogger("grant_ledger.projector")

DEFAULT_GROUP = "grant-ledger-projector"
DEFAULT_POLL_MS = 200
DEFAULT_IDLE_MS = 1_000
MAX_BATCH_EVENTS = 2_000
# The dev broker (Tansu) holds a group join for the rebalance timeout (= max_poll_interval_ms):
# keep it short enough for a second instance to join quickly, long enough for one batch.
SESSION_TIMEOUT_MS = 10_000
HEARTBEAT_INTERVAL_MS = 2_000
MAX_POLL_INTERVAL_MS = 30_000
# Test hook: GRANT_LEDGER_PROJECTOR_FAILPOINT=kill-after-replay:N kills the process with
# SIGKILL after the N-th batch reached the replay store and before the read store committed it.
SEEN_WINDOW_EVENTS = 65_536  # positions remembered for wait_for_position
FAILPOINT_ENV_VAR = "GRANT_LEDGER_PROJECTOR_FAILPOINT"
# How often the projector publishes its lag and readiness.
OBSERVE_EVERY_S = 2.0
KILL_AFTER_REPLAY = "kill-after-replay"


@dataclass(frozen=True)
class ProjectorSettings:
    """Where to consume from and how."""

    bootstrap_servers: KafkaEndpoint | str
    topic: str
    # None: no consumer group, every partition assigned to this one projector.
    group_id: str | None = DEFAULT_GROUP
    poll_ms: int = DEFAULT_POLL_MS
    max_batch_events: int = MAX_BATCH_EVENTS
    session_timeout_ms: int = SESSION_TIMEOUT_MS
    heartbeat_interval_ms: int = HEARTBEAT_INTERVAL_MS
    max_poll_interval_ms: int = MAX_POLL_INTERVAL_MS


@dataclass
class ProjectorStats:
    """What a projector run did."""

    applied: int = 0
    skipped: int = 0
    batches: int = 0
    replay_appended: int = 0
    highest_position: int = 0
    elapsed_s: float = 0.0
    partitions: set[int] = field(default_factory=set)

    @property
    def events_per_s(self) -> float:
        """Messages handled per second."""
        handled = self.applied + self.skipped
        return handled / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> str:
        """One line for the terminal."""
        rate = f"{self.events_per_s:,.0f}".replace(",", " ")
        return (
            f"projected {self.applied} events ({self.skipped} already applied, skipped) in "
            f"{self.batches} batches, {self.elapsed_s:.1f} s ({rate} events/s); "
            f"highest position {self.highest_position}; partitions {sorted(self.partitions)}"
        )


class _ResumeFromReadStore(ConsumerRebalanceListener):  # type: ignore[misc]
    """On assignment, seek each partition to the offset the read store recorded."""

    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    def on_partitions_revoked(self, revoked: Any) -> None:
        """Nothing to flush: every applied batch is already committed."""

    def on_partitions_assigned(self, assigned: Any) -> None:
        """Seek to the recorded next offsets (or the beginning)."""
        self.projector.resume(list(assigned))


class Projector:
    """Consumes the topic into the read store (and the local replay store, when given)."""

    def __init__(
        self,
        read_store: ReadStore,
        replay: ReplayStore | None,
        settings: ProjectorSettings,
        *,
        progress: Progress | None = None,
        metrics: ProjectorMetrics | None = None,
        health: ProcessHealth | None = None,
    ) -> None:
        self.metrics = metrics
        self.health = health or ProcessHealth("projector")
        self._observed_at = 0.0
        self.read_store = read_store
        self.replay = replay
        self.settings = settings
        self.progress = progress
        self.stats = ProjectorStats()
        self.stop_requested = threading.Event()
        self._consumer: KafkaConsumer | None = None
        self._assigned = False
        self._seen: set[int] = set()
        self._seen_order: deque[int] = deque()
        self._failpoint = _failpoint()
        self._progress_base = 0

    # ----------------------------------------------------------------- lifecycle

    def open(self) -> Projector:
        """Join the consumer group (or, without a group id, take every partition)."""
        s = self.settings
        group = (
            {
                "group_id": s.group_id,
                "session_timeout_ms": s.session_timeout_ms,
                "heartbeat_interval_ms": s.heartbeat_interval_ms,
                "max_poll_interval_ms": s.max_poll_interval_ms,
            }
            if s.group_id
            else {}
        )
        self._consumer = open_consumer(
            s.bootstrap_servers,
            **consumer_config(
                client_id="grant-ledger-projector", max_poll_records=s.max_batch_events, **group
            ),
        )
        if s.group_id:
            self._consumer.subscribe([s.topic], listener=_ResumeFromReadStore(self))
        else:
            # A single projector without group coordination: no join to wait for.
            partitions = self._consumer.partitions_for_topic(s.topic) or set()
            assigned = [TopicPartition(s.topic, p) for p in sorted(partitions)]
            self._consumer.assign(assigned)
            self.resume(assigned)
        marks = self.read_store.partition_marks(s.topic)
        self._progress_base = sum(mark.next_offset for mark in marks.values())
        return self

    def close(self) -> None:
        """Leave the group."""
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None

    def __enter__(self) -> Projector:
        return self.open()

    def __exit__(self, *_: object) -> None:
        self.close()

    def resume(self, assigned: list[TopicPartition]) -> None:
        """Seek newly assigned partitions to where the read store says to continue."""
        consumer = self._consumer
        assert consumer is not None
        marks = self.read_store.partition_marks(self.settings.topic)
        for tp in assigned:
            mark = marks.get(tp.partition)
            if mark is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, mark.next_offset)
        self._assigned = True
        self.stats.partitions = {tp.partition for tp in consumer.assignment()}
        log.info(
            "projector: applying partitions %s of %s from the read store's marks",
            sorted(self.stats.partitions),
            self.settings.topic,
            extra={"partitions": sorted(self.stats.partitions), "topic": self.settings.topic},
        )

    # ----------------------------------------------------------------- work

    def step(self, timeout_ms: int | None = None) -> int:
        """Poll once and apply what came; returns the number of messages handled."""
        consumer = self._consumer
        assert consumer is not None, "open() first"
        batches = consumer.poll(
            timeout_ms=self.settings.poll_ms if timeout_ms is None else timeout_ms,
            max_records=self.settings.max_batch_events,
        )
        consumed = [
            ConsumedEvent(
                tp.partition, record.offset, _decode(tp.partition, record.offset, record.value)
            )
            for tp, records in batches.items()
            for record in records
        ]
        if not consumed:
            return 0
        if self.replay is not None:
            self._append_to_replay(consumed)
        self._maybe_fail()
        outcome = self.read_store.apply(self.settings.topic, consumed)
        stats = self.stats
        stats.applied += len(outcome.applied)
        stats.skipped += outcome.skipped
        stats.batches += 1
        for message in consumed:
            self._mark_seen(message.facts.position)
        stats.highest_position = max(stats.highest_position, *(m.facts.position for m in consumed))
        if self.metrics is not None:
            self.metrics.batch(
                len(outcome.applied),
                outcome.skipped,
                stats.highest_position,
                max(m.facts.recorded_at_us for m in consumed),
            )
        if self.progress is not None:
            self.progress.update(self._progress_base + stats.applied + stats.skipped)
        return len(consumed)

    def _append_to_replay(self, consumed: list[ConsumedEvent]) -> None:
        replay = self.replay
        assert replay is not None
        builder = ColumnBuilder(replay.dictionaries)
        newest: EventFacts | None = None
        marks: dict[int, PartitionMark] = {}
        for message in consumed:
            builder.add(message.facts)
            if newest is None or message.facts.position > newest.position:
                newest = message.facts
            old = marks.get(message.partition)
            marks[message.partition] = PartitionMark(
                message.offset + 1, max(message.facts.position, old.max_position if old else 0)
            )
        assert newest is not None
        self.stats.replay_appended += replay.append(
            builder.build(),
            newest_hash=(newest.position, newest.hash),
            topic=self.settings.topic,
            partitions=marks,
        )

    def _maybe_fail(self) -> None:
        if self._failpoint is not None and self.stats.batches + 1 >= self._failpoint:
            os.kill(os.getpid(), signal.SIGKILL)

    def _mark_seen(self, position: int) -> None:
        # Only the most recent positions are remembered: a projector that starts mid-log or
        # owns some partitions never sees a contiguous run to fold, and must not grow forever.
        if position in self._seen:
            return
        self._seen.add(position)
        self._seen_order.append(position)
        if len(self._seen_order) > SEEN_WINDOW_EVENTS:
            self._seen.discard(self._seen_order.popleft())

    def visible(self, position: int) -> bool:
        """True once this projector has recently applied (or found applied) `position`."""
        return position in self._seen

    def run(self, *, once: bool = False, idle_ms: int = DEFAULT_IDLE_MS) -> ProjectorStats:
        """Apply until stopped; with `once`, until nothing arrives for `idle_ms` after joining."""
        started = time.monotonic()
        # Quiet time counts only once partitions are assigned (a group join can take a while).
        quiet_since: float | None = None
        while not self.stop_requested.is_set():
            self._observe()
            handled = self.step()
            now = time.monotonic()
            if handled or (quiet_since is None and self._assigned):
                quiet_since = now
            elif once and quiet_since is not None and (now - quiet_since) * 1000 >= idle_ms:
                break
        self.stats.elapsed_s = time.monotonic() - started
        return self.stats

    def _observe(self) -> None:
        """Beat, and every few seconds publish the lag from the fetch high-water marks."""
        self.health.beat()
        now = time.monotonic()
        consumer = self._consumer
        if consumer is None or now - self._observed_at < OBSERVE_EVERY_S:
            return
        self._observed_at = now
        assigned = consumer.assignment()
        self.health.set_ready(
            bool(assigned),
            f"applying partitions {sorted(tp.partition for tp in assigned)}"
            if assigned
            else "waiting for partitions (joining the consumer group)",
        )
        if self.metrics is None:
            return
        lag = 0
        for tp in assigned:
            highwater = consumer.highwater(tp)
            if highwater is not None:
                lag += max(0, highwater - consumer.position(tp))
        self.metrics.observe(lag)

    def wait_for_position(self, position: int, timeout_s: float) -> bool:
        """Apply new messages until `position` is visible in the read store, or time runs out.

        The hook for live-lag measurements: record a command, note its position, call this.
        """
        deadline = time.monotonic() + timeout_s
        while not self.visible(position):
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                return False
            self.step(timeout_ms=min(remaining_ms, self.settings.poll_ms))
        return True


def _decode(partition: int, offset: int, value: bytes) -> EventFacts:
    """An envelope's facts; a message that is not one stops the projector, naming where it is."""
    try:
        return facts_of(orjson.loads(value))
    except (
        orjson.JSONDecodeError,
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        AssertionError,
    ) as exc:
        raise LedgerError(
            "message", f"partition {partition} offset {offset}", f"not a ledger envelope: {exc!r}"
        ) from None


def _failpoint() -> int | None:
    raw = os.environ.get(FAILPOINT_ENV_VAR, "")
    name, _, count = raw.partition(":")
    if name != KILL_AFTER_REPLAY or not count.isdigit():
        return None
    return int(count)
