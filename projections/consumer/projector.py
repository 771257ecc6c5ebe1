"""The live projector: proves every event before it applies it, and applies each position once.

One consumer reads every event partition and the checkpoint partition (TopicFeed). Each message
is checked as an envelope (poison stops the projector, naming where it is), linked in position
order by its prev_hash (ledger.proof.ChainReader), and applied only once a checkpoint signed by a
trusted key covers it. Each batch of proven positions goes to the local replay store, then to
the read store in one transaction that checks the read store is still where this projector left
it (exactly once by position, whatever partition a message came from).

Several instances in one consumer group: the group is on the one-partition checkpoint topic, so
exactly one instance is active and reads everything in order; the others stand by and take over
when it stops or dies (the group rebalances). Scale-out is failover; throughput comes from one
reader of every partition and the replay engine. Even two active at once (a frozen instance
waking after its group moved on) cannot apply anything twice: the read store's position check
refuses the second, which then resumes from what the first recorded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from kafka import ConsumerRebalanceListener, KafkaConsumer

from ledger.infrastructure.kafka.clients import open_consumer
from ledger.infrastructure.kafka.groups import Holding, partition_holding
from ledger.infrastructure.kafka.reading import consumer_config
from ledger.infrastructure.kafka.security import KafkaEndpoint
from ledger.infrastructure.operations.status import ProcessHealth
from ledger.proof.chain_reader import (
    MAX_WINDOW_EVENTS,
    Arrival,
    ChainPoint,
    ChainReader,
    Offered,
)
from ledger.proof.coordinates import MessageAt
from ledger.proof.errors import PoisonMessage, PositionMissing
from ledger.proof.messages import read_envelope
from ledger.proof.signatures import TrustedKeys
from ledger.proof.skips import RecordedSkip, SkipRequest, Skips, utc_now
from ledger.relay.messages import CHECKPOINT_PARTITION
from projections.consumer.feed import TopicFeed, TopicShape
from projections.consumer.metrics import ProjectorMetrics
from projections.domain.facts import EventFacts, facts_of
from projections.domain.progress import ProgressReport
from projections.replay import ColumnBuilder, PartitionMark, ReplayStore
from projections.store.read_store import ProgressMoved, ProvenBatch, ReadStore

log = logging.getLogger("grant_ledger.projector")

DEFAULT_GROUP = "grant-ledger-projector"
DEFAULT_POLL_MS = 200
MAX_BATCH_EVENTS = 2_000
SESSION_TIMEOUT_MS = 10_000
HEARTBEAT_INTERVAL_MS = 2_000
MAX_POLL_INTERVAL_MS = 30_000
MEMBERSHIP_METADATA_MAX_AGE_MS = 3_000
# A standby asks this often whether anyone in its group holds the checkpoint partition (and
# re-joins when nobody does: see ledger/infrastructure/kafka/groups.py).
STANDBY_CHECK_EVERY_S = 15.0
# Leaving the group with a membership client that may be stuck: bounded, then dropped.
MEMBERSHIP_CLOSE_TIMEOUT_MS = 5_000
# A position that a signed checkpoint covers, not delivered for this long while every partition
# is read to its end: it is missing (or behind a held message), and the projector says so.
STALL_TIMEOUT_S = 15.0
WAITING_LOG_EVERY_S = 30.0
# How often the projector publishes its lag and readiness.
OBSERVE_EVERY_S = 2.0

# Called with the batch's number (from 1) once the batch is in the replay store and before the
# read store commits it: the seam where tests inject a crash. Production passes none.
BatchHook = Callable[[int], None]


@dataclass(frozen=True)
class ProjectorSettings:
    """Where to consume from, whom to trust, and how."""

    bootstrap_servers: KafkaEndpoint | str
    topic: str
    checkpoint_topic: str
    trusted_keys: TrustedKeys
    # None: no group, this projector is active at once (`project --once`, tests).
    group_id: str | None = DEFAULT_GROUP
    poll_ms: int = DEFAULT_POLL_MS
    max_batch_events: int = MAX_BATCH_EVENTS
    session_timeout_ms: int = SESSION_TIMEOUT_MS
    heartbeat_interval_ms: int = HEARTBEAT_INTERVAL_MS
    max_poll_interval_ms: int = MAX_POLL_INTERVAL_MS
    window_events: int = MAX_WINDOW_EVENTS
    stall_timeout_s: float = STALL_TIMEOUT_S
    skips: tuple[SkipRequest, ...] = ()
    skipped_by: str = "unknown"


@dataclass
class ProjectorStats:
    """What a projector run did."""

    applied: int = 0
    duplicates: int = 0
    skipped: int = 0
    batches: int = 0
    replay_appended: int = 0
    applied_through: int = 0
    not_covered: int = 0
    elapsed_s: float = 0.0
    rereads: list[str] = field(default_factory=list)

    @property
    def events_per_s(self) -> float:
        """Events applied per second."""
        return self.applied / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> str:
        """One line for the terminal."""
        rate = f"{self.events_per_s:,.0f}".replace(",", " ")
        line = (
            f"projected {self.applied} events ({self.duplicates} duplicates dropped, "
            f"{self.skipped} skipped) in {self.batches} batches, {self.elapsed_s:.1f} s "
            f"({rate} events/s); applied through position {self.applied_through}"
        )
        if self.not_covered:
            line += f"; {self.not_covered} later events wait for a signed checkpoint"
        return line


class _Membership(ConsumerRebalanceListener):  # type: ignore[misc]
    """The group on the checkpoint topic: whoever holds its one partition is the active one."""

    def __init__(self, projector: Projector) -> None:
        self.projector = projector

    def on_partitions_revoked(self, revoked: Any) -> None:
        """Stand by: everything applied is committed already."""
        if revoked:
            self.projector.deactivate("the group gave the checkpoint partition to another")

    def on_partitions_assigned(self, assigned: Any) -> None:
        """Become the active instance when given partition 0 (the one checkpoints go to; a
        topic auto-created behind the relay's back may have more, given to other members)."""
        if assigned:
            self.projector.pause_membership(assigned)
        if any(tp.partition == CHECKPOINT_PARTITION for tp in assigned):
            self.projector.activate_requested = True


class Projector:
    """Consumes the topic into the read store (and the local replay store, when given)."""

    def __init__(
        self,
        read_store: ReadStore,
        replay: ReplayStore | None,
        settings: ProjectorSettings,
        *,
        progress: ProgressReport | None = None,
        metrics: ProjectorMetrics | None = None,
        health: ProcessHealth | None = None,
        after_replay_append: BatchHook | None = None,
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
        self.activate_requested = settings.group_id is None
        self.active = False
        self._membership: KafkaConsumer | None = None
        self._feed: TopicFeed | None = None
        self._reader: ChainReader[EventFacts] | None = None
        self._skips: Skips | None = None
        self._progress_base = 0
        self._last_progress_at = time.monotonic()
        self._waiting_logged_at = 0.0
        self._after_replay_append = after_replay_append
        self._once = False
        self._duplicates_observed = 0
        self._standby_checked_at = time.monotonic()

    # ----------------------------------------------------------------- lifecycle

    def open(self) -> Projector:
        """Open the reading consumer; join the group (or, without one, become active)."""
        s = self.settings
        self._feed = TopicFeed(
            open_consumer(
                s.bootstrap_servers,
                **consumer_config(
                    client_id="grant-ledger-projector", max_poll_records=s.max_batch_events
                ),
            ),
            s.topic,
            s.checkpoint_topic,
        )
        if s.group_id:
            self._membership = self._open_membership(s.group_id)
        return self

    def _open_membership(self, group_id: str) -> KafkaConsumer:
        """The consumer that stands for this instance in the group. Subscribed once the topics
        exist (see _join): subscribing to a topic that does not exist yet makes Tansu
        auto-create it, with partitions of its own choosing."""
        s = self.settings
        return open_consumer(
            s.bootstrap_servers,
            **consumer_config(
                client_id="grant-ledger-projector-membership",
                group_id=group_id,
                session_timeout_ms=s.session_timeout_ms,
                heartbeat_interval_ms=s.heartbeat_interval_ms,
                max_poll_interval_ms=s.max_poll_interval_ms,
                max_poll_records=1,
                # A checkpoint topic re-created after a broker restart is noticed (and the
                # group re-formed) within this, not after the client's default five minutes.
                metadata_max_age_ms=MEMBERSHIP_METADATA_MAX_AGE_MS,
            ),
        )

    def _join(self) -> bool:
        """Subscribe the membership consumer once the topics exist; True once subscribed."""
        membership, feed = self._membership, self._feed
        assert membership is not None and feed is not None
        if membership.subscription():
            return True
        if feed.wait_for_topic(self.stop_requested) is None:
            return False
        membership.subscribe([self.settings.checkpoint_topic], listener=_Membership(self))
        self._standby_checked_at = time.monotonic()
        log.info(
            "project: joined group %s; standing by until it is the active one",
            self.settings.group_id,
        )
        return True

    def close(self) -> None:
        """Leave the group, close the consumers."""
        if self._membership is not None:
            self._membership.close()
            self._membership = None
        if self._feed is not None:
            self._feed.consumer.close()
            self._feed = None

    def __enter__(self) -> Projector:
        return self.open()

    def __exit__(self, *_: object) -> None:
        self.close()

    def activate(self, reason: str | None = None) -> bool:
        """Resume from the read store: a fresh proof from what it applied; False while the
        topic does not exist yet (or the projector is stopping)."""
        feed = self._feed
        assert feed is not None, "open() first"
        shape = feed.wait_for_topic(self.stop_requested, wait=not self._once)
        if shape is None:
            return False
        progress = self.read_store.progress()
        recorded = (
            TopicShape(progress.topic_id, progress.partition_count) if progress.topic else None
        )
        offsets = progress.resume_offsets if progress.topic == self.settings.topic else {}
        reread = reason or feed.start(shape, offsets, progress.checkpoint_offset, recorded)
        if reason:
            feed.start(shape, {}, 0, None)
        if reread:
            self.stats.rereads.append(reread)
            log.warning(
                "project: topic %s %s; re-reading it from the beginning (positions up to %d are "
                "applied already and are not applied again)",
                self.settings.topic,
                reread,
                progress.applied.position,
            )
        self._reader = ChainReader(
            progress.applied,
            window=self.settings.window_events,
            released_hash=self.replay.hash_prefix_at if self.replay is not None else None,
        )
        self._skips = Skips(
            self.read_store.skips(),
            self.settings.skips,
            by=self.settings.skipped_by,
            now=utc_now(),
        )
        self.stats.applied_through = progress.applied.position
        self._progress_base = progress.applied.position
        self._last_progress_at = time.monotonic()
        self.active, self.activate_requested = True, False
        log.info(
            "project: active; applied through position %d, reading %s (%d partitions)",
            progress.applied.position,
            self.settings.topic,
            shape.partitions,
        )
        return True

    def pause_membership(self, assigned: Any) -> None:
        """The membership consumer only holds the partition; it never needs its records."""
        if self._membership is not None:
            self._membership.pause(*assigned)

    def deactivate(self, why: str) -> None:
        """Stop reading (another instance is active now); held arrivals are dropped."""
        if self.active:
            log.info("project: standing by (%s)", why)
            self._standby_checked_at = time.monotonic()
        self.active = False
        self._reader = None

    def _check_standby(self) -> None:
        """Every STANDBY_CHECK_EVERY_S standing by: when the checkpoint partition exists and
        nobody in the group holds it (or the group has no members), join it again."""
        membership, feed = self._membership, self._feed
        assert membership is not None and feed is not None
        now = time.monotonic()
        if self.active or now - self._standby_checked_at < STANDBY_CHECK_EVERY_S:
            return
        self._standby_checked_at = now
        s = self.settings
        assert s.group_id is not None
        if membership.assignment() or not feed.consumer.partitions_for_topic(s.checkpoint_topic):
            return
        holding = partition_holding(
            s.bootstrap_servers, s.group_id, s.checkpoint_topic, CHECKPOINT_PARTITION
        )
        if holding in (Holding.HELD, Holding.UNKNOWN):
            return  # another instance is active, or the group cannot say yet
        log.warning(
            "project: in group %s, %s (%s:%d exists); joining it again with a new client",
            s.group_id,
            "nobody holds the checkpoint partition"
            if holding is Holding.NOBODY
            else "the coordinator knows no members, this instance included",
            s.checkpoint_topic,
            CHECKPOINT_PARTITION,
        )
        # A new client: the old one may be stuck looking for a coordinator that is gone.
        membership.close(autocommit=False, timeout_ms=MEMBERSHIP_CLOSE_TIMEOUT_MS)
        self._membership = self._open_membership(s.group_id)

    # ----------------------------------------------------------------- work

    def step(self, timeout_ms: int | None = None) -> int:
        """Poll once, prove and apply what can be; returns the number of messages read."""
        wait_ms = self.settings.poll_ms if timeout_ms is None else timeout_ms
        if self._membership is not None:
            if not self._join():
                return 0
            self._membership.poll(timeout_ms=0 if self.active else wait_ms, max_records=1)
            self._check_standby()
        if self.activate_requested and not self.active and not self.activate():
            return 0
        if not self.active:
            return 0
        feed, reader = self._feed, self._reader
        assert feed is not None and reader is not None
        batches = feed.poll(wait_ms, self.settings.max_batch_events)
        read = 0
        for tp, records in batches.items():
            read += len(records)
            if tp.topic == self.settings.checkpoint_topic:
                self._take_checkpoints(records)
            else:
                self._take_events(tp.partition, records)
        if reread := feed.went_back():
            self.deactivate(f"the topic changed: {reread}")
            self.activate(reread)
            return read
        self._apply_proven()
        feed.release_held(reader.window_end)
        if read:
            self._last_progress_at = time.monotonic()
        return read

    def _take_checkpoints(self, records: list[Any]) -> None:
        reader, skips = self._reader, self._skips
        assert reader is not None and skips is not None
        for record in records:
            at = MessageAt(self.settings.checkpoint_topic, record.partition, record.offset)
            if self._skipped(at, record.value):
                continue
            checkpoint = self.settings.trusted_keys.verified(record.value, at)
            reader.offer_checkpoint(checkpoint.position, checkpoint.hash, at)

    def _take_events(self, partition: int, records: list[Any]) -> None:
        reader, feed = self._reader, self._feed
        assert reader is not None and feed is not None
        for record in records:
            at = MessageAt(self.settings.topic, partition, record.offset)
            if self._skipped(at, record.value):
                continue
            envelope, link = read_envelope(record.value, at)
            arrival = Arrival(link, at, record.value, _facts(envelope, at))
            offered = reader.offer(arrival)
            if offered is Offered.DUPLICATE:
                self.stats.duplicates += 1
            elif offered is Offered.BEYOND_WINDOW:
                if partition not in feed.held:
                    log.info(
                        "project: %s claims position %d, beyond the %d positions held after %d: "
                        "partition %d waits there until the chain comes closer",
                        at,
                        link.position,
                        reader.window,
                        reader.released.position,
                        partition,
                    )
                feed.hold(partition, record.offset, link.position)
                return  # the rest of this partition's records come again after it

    def _skipped(self, at: MessageAt, value: bytes | None) -> bool:
        assert self._skips is not None
        skip = self._skips.check(at, value)
        if skip is None:
            return False
        if skip in self._skips.new:
            self.read_store.record_skips([skip])
            log.warning("project: skipped %s", skip)
            self._skips.new.remove(skip)
        self.stats.skipped += 1
        return True

    def _apply_proven(self) -> None:
        reader = self._reader
        assert reader is not None
        while proven := reader.take_proven(self.settings.max_batch_events):
            try:
                self._apply(proven)
            except ProgressMoved as moved:
                log.warning("project: %s; resuming from what it recorded", moved.message)
                self.deactivate("another reader moved the read store")
                self.activate()
                return
            self._last_progress_at = time.monotonic()

    def _apply(self, proven: list[Arrival[EventFacts]]) -> None:
        reader, feed = self._reader, self._feed
        assert reader is not None and feed is not None
        after = proven[0].link.position - 1
        before = self.stats.applied_through
        assert after == before, (after, before)
        facts = [arrival.payload for arrival in proven]
        resume = self._resume_offsets()
        last = proven[-1].link
        if self.replay is not None:
            self._append_to_replay(facts, resume)
        self._replay_appended()
        previous = proven[0]
        self.read_store.apply_proven(
            ProvenBatch(
                topic=self.settings.topic,
                facts=facts,
                after=ChainPoint(after, previous.link.prev_hash),
                through=ChainPoint(last.position, last.hash),
                resume_offsets=resume,
                checkpoint_offset=self._checkpoint_resume_offset(),
                topic_id=feed.shape.topic_id,
                partition_count=feed.shape.partitions,
            )
        )
        self.stats.applied += len(facts)
        self.stats.batches += 1
        self.stats.applied_through = last.position
        if self.metrics is not None:
            duplicates = reader.duplicates - self._duplicates_observed
            self._duplicates_observed = reader.duplicates
            newest_us = max(one.recorded_at_us for one in facts)
            self.metrics.batch(len(facts), duplicates, last.position, newest_us)
        if self.progress is not None:
            self.progress.update(last.position)

    def _resume_offsets(self) -> dict[int, int]:
        """Per partition: the first offset not yet applied (held arrivals, held partitions)."""
        reader, feed = self._reader, self._feed
        assert reader is not None and feed is not None
        offsets = {tp.partition: feed.position(tp.partition) for tp in feed.partitions}
        for arrival in reader.held_arrivals():
            at = arrival.at
            offsets[at.partition] = min(offsets.get(at.partition, at.offset), at.offset)
        return offsets

    def _checkpoint_resume_offset(self) -> int:
        reader, feed = self._reader, self._feed
        assert reader is not None and feed is not None
        # Checkpoints at or below what is applied are not needed again; the next may be.
        first = reader.first_unreleased_checkpoint_offset()
        return feed.checkpoint_position() if first is None else first

    def _append_to_replay(self, facts: list[EventFacts], resume: dict[int, int]) -> None:
        replay = self.replay
        assert replay is not None
        builder = ColumnBuilder(replay.dictionaries)
        for one in facts:
            builder.add(one)
        last = facts[-1]
        self.stats.replay_appended += replay.append(
            builder.build(),
            newest_hash=(last.position, last.hash),
            topic=self.settings.topic,
            partitions={p: PartitionMark(offset, last.position) for p, offset in resume.items()},
        )

    def _replay_appended(self) -> None:
        if self._after_replay_append is not None:
            self._after_replay_append(self.stats.batches + 1)

    # ----------------------------------------------------------------- running

    def visible(self, position: int) -> bool:
        """True once `position` is applied to the read store (by this projector or before)."""
        return self.stats.applied_through >= position

    def run(self, *, once: bool = False) -> ProjectorStats:
        """Apply until stopped; with `once`, until every partition is read to the end it had
        when this projector became active and all that signed checkpoints cover is applied."""
        started = time.monotonic()
        self._once = once
        ends: dict[Any, int] | None = None
        while not self.stop_requested.is_set():
            self._observe()
            read = self.step()
            if not self.active:
                ends = None
                continue
            feed, reader = self._feed, self._reader
            assert feed is not None and reader is not None
            if once and ends is None:
                ends = feed.end_offsets()
            if read:
                continue
            caught_up = reader.released.position >= reader.waiting_for_checkpoint
            if once and ends is not None and caught_up and feed.reached(ends):
                break
            self._check_stalled(caught_up)
        self._finish(started)
        return self.stats

    def _observe(self) -> None:
        """Beat, and every few seconds publish readiness and the lag (fetch high-water marks)."""
        self.health.beat()
        now = time.monotonic()
        feed = self._feed
        if feed is None or now - self._observed_at < OBSERVE_EVERY_S:
            return
        self._observed_at = now
        self.health.set_ready(
            self.active,
            f"active: applied through position {self.stats.applied_through}"
            if self.active
            else f"standing by in group {self.settings.group_id} (another instance is active)",
        )
        if self.metrics is None or not self.active:
            return
        lag = 0
        for tp in feed.partitions:
            highwater = feed.consumer.highwater(tp)
            if highwater is not None:
                lag += max(0, highwater - feed.position(tp.partition))
        self.metrics.observe(lag)

    def _check_stalled(self, caught_up: bool) -> None:
        """Say what the projector waits for; stop loudly when a signed position is missing."""
        reader, feed = self._reader, self._feed
        assert reader is not None and feed is not None
        quiet_s = time.monotonic() - self._last_progress_at
        if caught_up:
            if reader.held and quiet_s >= WAITING_LOG_EVERY_S and self._log_due():
                log.info(
                    "project: applied through %d; %d later events wait for a signed checkpoint",
                    reader.released.position,
                    reader.held,
                )
            return
        if quiet_s < self.settings.stall_timeout_s or not feed.reached(feed.end_offsets()):
            return
        missing = reader.linked_through.position + 1
        held = ", ".join(
            f"{self.settings.topic}:{p}:{h.offset} (a message claiming position {h.position})"
            for p, h in sorted(feed.held.items())
        )
        raise PositionMissing(
            "position",
            missing,
            f"is covered by a signed checkpoint (at {reader.waiting_for_checkpoint}) but is not "
            f"on {self.settings.topic}: every partition was read to its end and nothing came for "
            f"{self.settings.stall_timeout_s:.0f} s"
            + (f"; held back behind messages too far ahead: {held}" if held else ""),
        )

    def _log_due(self) -> bool:
        now = time.monotonic()
        if now - self._waiting_logged_at < WAITING_LOG_EVERY_S:
            return False
        self._waiting_logged_at = now
        return True

    def _finish(self, started: float) -> None:
        self.stats.elapsed_s = time.monotonic() - started
        reader = self._reader
        if reader is not None:
            self.stats.not_covered = reader.held
            self.stats.duplicates = max(self.stats.duplicates, reader.duplicates)
        if self._skips is not None:
            for request in self._skips.unmet():
                log.warning(
                    "project: --skip %s was not applied: no message there was read (already past "
                    "it, or no such message)",
                    request.at,
                )

    def wait_for_position(self, position: int, timeout_s: float) -> bool:
        """Apply new messages until `position` is applied, or time runs out (live-lag hook)."""
        deadline = time.monotonic() + timeout_s
        while not self.visible(position):
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0:
                return False
            self.step(timeout_ms=min(remaining_ms, self.settings.poll_ms))
        return True

    @property
    def recorded_skips(self) -> list[RecordedSkip]:
        """Skips recorded in the read store."""
        return self.read_store.skips()


def _facts(envelope: dict[str, Any], at: MessageAt) -> EventFacts:
    """What an envelope means for the balances; PoisonMessage when it cannot mean anything."""
    try:
        return facts_of(envelope)
    except (KeyError, TypeError, ValueError, AttributeError, AssertionError) as exc:
        raise PoisonMessage(
            "message", str(at), f"is not a ledger envelope ({type(exc).__name__}: {exc})"
        ) from None
