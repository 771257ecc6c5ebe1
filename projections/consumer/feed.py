"""The live reader's consumer: every event partition and the checkpoint partition, by assign().

It resumes each partition where the read store says reading resumes, holds back a partition
whose next message is too far ahead for the reader's window (seek back, pause, resume later),
and notices when the topic under it was re-created or re-partitioned (another topic id, another
partition count, offsets going backwards), so the projector can re-read it from the beginning:
what is applied is decided by position, so re-reading never counts anything twice.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from ledger.infrastructure.kafka.errors import BrokerUnavailable
from ledger.infrastructure.kafka.reading import position_or_none, read_position
from ledger.proof.differences import loads_or_empty
from ledger.relay.messages import CHECKPOINT_PARTITION

log = logging.getLogger("grant_ledger.projector")

# How often the topic's metadata (id, partition count) is checked while following.
METADATA_CHECK_S = 5.0
# Looking at the message where reading resumes (one per partition) on start.
PEEK_TIMEOUT_S = 10.0
PEEK_POLL_MS = 100
TOPIC_WAIT_LOG_EVERY_S = 30.0


@dataclass(frozen=True, slots=True)
class TopicShape:
    """What identifies the topic being read: its id (where the broker has one), its partitions."""

    topic_id: str | None
    partitions: int


@dataclass(frozen=True, slots=True)
class Held:
    """A partition paused at `offset`, whose message there claims `position`."""

    offset: int
    position: int


class TopicFeed:
    """Reads the events topic and its checkpoint partition with one consumer."""

    def __init__(self, consumer: KafkaConsumer, topic: str, checkpoint_topic: str) -> None:
        self.consumer = consumer
        self.topic = topic
        self.checkpoint_partition = TopicPartition(checkpoint_topic, CHECKPOINT_PARTITION)
        self.partitions: list[TopicPartition] = []
        self.shape = TopicShape(None, 0)
        self.held: dict[int, Held] = {}
        self._last_positions: dict[int, int] = {}
        self._checked_at = 0.0

    # ----------------------------------------------------------------- starting

    def current_shape(self) -> TopicShape | None:
        """The topic's id and partition count now; None while it does not exist."""
        partitions = self.consumer.partitions_for_topic(self.topic)
        if not partitions:
            return None
        topic_id = self.consumer._client.cluster.topic_id(self.topic)
        # Tansu reports no id (or the nil UUID): then only the partition count can tell.
        known = topic_id is not None and topic_id.int != 0
        return TopicShape(str(topic_id) if known else None, len(partitions))

    def wait_for_topic(self, stop: Any, *, wait: bool = True) -> TopicShape | None:
        """The topic's shape once it exists (logging while waiting); None when stopped.

        Without `wait`, a topic that does not exist is an error naming it.
        """
        waited_from = time.monotonic()
        logged_at = 0.0
        while not stop.is_set():
            shape = self.current_shape()
            checkpoints = self.consumer.partitions_for_topic(self.checkpoint_partition.topic)
            if shape is not None and checkpoints:
                return shape
            if not wait:
                missing = self.topic if shape is None else self.checkpoint_partition.topic
                raise BrokerUnavailable(
                    "topic", missing, "does not exist on the broker (has the relay published?)"
                )
            if time.monotonic() - logged_at >= TOPIC_WAIT_LOG_EVERY_S:
                log.warning(
                    "project: waiting for the topics %s and %s (the relay creates them)",
                    self.topic,
                    self.checkpoint_partition.topic,
                )
                logged_at = time.monotonic()
            self.consumer._client.cluster.request_update()
            stop.wait(min(1.0, 0.1 + (time.monotonic() - waited_from) / 10))
        return None

    def start(
        self,
        shape: TopicShape,
        resume_offsets: dict[int, int],
        checkpoint_offset: int,
        recorded: TopicShape | None,
        applied: int = 0,
    ) -> str | None:
        """Assign and seek; returns why the topic is re-read from the beginning, if it is.

        Resuming at recorded offsets is right only on the topic they were recorded on: another
        id, another partition count, or a message at a resume offset that claims a position
        already applied (the relay published the store again on a re-created topic of the same
        shape) each mean the topic changed; so does an offset the broker resets (went_back).
        """
        self.shape = shape
        self.partitions = [TopicPartition(self.topic, p) for p in range(shape.partitions)]
        self.held.clear()
        self._last_positions.clear()
        reason = self._changed_since(recorded, resume_offsets)
        self.consumer.assign([*self.partitions, self.checkpoint_partition])
        # A shorter topic is noticed once reading starts (the broker resets an offset out of
        # range, and went_back() sees it): the reported end is too low on Tansu to compare with.
        ends = self.consumer.end_offsets(self.partitions)
        beginnings = self.consumer.beginning_offsets(self.partitions)
        if reason is None and applied:
            reason = self._resumes_inside_applied(resume_offsets, ends, applied)
        self.consumer.assign([*self.partitions, self.checkpoint_partition])
        for tp in self.partitions:
            offset = resume_offsets.get(tp.partition)
            start = beginnings[tp] if reason or offset is None else max(offset, beginnings[tp])
            self.consumer.seek(tp, start)
            self._last_positions[tp.partition] = start
        self.consumer.seek(self.checkpoint_partition, 0 if reason else checkpoint_offset)
        self._checked_at = time.monotonic()
        return reason

    def _resumes_inside_applied(
        self, resume_offsets: dict[int, int], ends: dict[TopicPartition, int], applied: int
    ) -> str | None:
        """Why a resume offset is wrong: its message claims an applied position (else None)."""
        wanted = {
            tp: resume_offsets[tp.partition]
            for tp in self.partitions
            if resume_offsets.get(tp.partition, 0) > 0
        }
        if not wanted:
            return None
        self.consumer.assign(list(wanted))
        for tp, offset in wanted.items():
            self.consumer.seek(tp, offset)
        deadline = time.monotonic() + PEEK_TIMEOUT_S
        pending = set(wanted)
        # Partitions the broker says hold a message there must show it; the others (Tansu's
        # end offsets are low) show theirs in the same fetches, or have none.
        expected = {tp for tp in wanted if wanted[tp] < ends[tp]}
        while pending and time.monotonic() < deadline:
            batches = self.consumer.poll(timeout_ms=PEEK_POLL_MS)
            if not batches and not (pending & expected):
                break
            for tp, records in batches.items():
                if tp not in pending or not records:
                    continue
                pending.discard(tp)
                claimed = loads_or_empty(records[0].value).get("position")
                if isinstance(claimed, int) and claimed <= applied:
                    return (
                        f"the message at offset {wanted[tp]} of partition {tp.partition}, where "
                        f"reading was to resume, claims position {claimed}, applied already"
                    )
        return None

    def _changed_since(
        self, recorded: TopicShape | None, resume_offsets: dict[int, int]
    ) -> str | None:
        if recorded is None or not resume_offsets:
            return None
        if recorded.topic_id and self.shape.topic_id and recorded.topic_id != self.shape.topic_id:
            return f"its topic id changed ({recorded.topic_id} -> {self.shape.topic_id})"
        if recorded.partitions and recorded.partitions != self.shape.partitions:
            return f"its partition count changed ({recorded.partitions} -> {self.shape.partitions})"
        return None

    # ----------------------------------------------------------------- reading

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[ConsumerRecord]]:
        """Records by partition (each in offset order)."""
        batches: dict[TopicPartition, list[ConsumerRecord]] = self.consumer.poll(
            timeout_ms=timeout_ms, max_records=max_records
        )
        return batches

    def hold(self, partition: int, offset: int, position: int) -> None:
        """Pause a partition at `offset` (re-read from there once the window reaches `position`)."""
        tp = TopicPartition(self.topic, partition)
        self.consumer.seek(tp, offset)
        self.consumer.pause(tp)
        self.held[partition] = Held(offset, position)

    def release_held(self, window_end: int) -> None:
        """Resume held partitions whose message now fits in the window."""
        for partition, held in list(self.held.items()):
            if held.position < window_end:
                self.consumer.resume(TopicPartition(self.topic, partition))
                del self.held[partition]

    def position(self, partition: int) -> int:
        """Where the next record of an event partition will be read from."""
        held = self.held.get(partition)
        if held is not None:
            return held.offset
        return self._known_offset(TopicPartition(self.topic, partition))

    def checkpoint_position(self) -> int:
        """The next offset to read on the checkpoint partition."""
        return self._known_offset(self.checkpoint_partition)

    def _offset(self, tp: TopicPartition) -> int | None:
        """The consumer's position on `tp`; None while it has none: kafka-python gives None when
        the broker reset the partition (re-created or truncated) and no new one is known yet."""
        return position_or_none(self.consumer, tp)

    def _known_offset(self, tp: TopicPartition) -> int:
        return read_position(self.consumer, tp)

    def went_back(self) -> str | None:
        """Why the topic changed under the reader since the last call, if it did."""
        for tp in self.partitions:
            if tp.partition in self.held:
                continue
            now = self._offset(tp)
            if now is None:
                return (
                    f"partition {tp.partition} lost its read position "
                    "(the broker reset it: the topic was re-created or truncated)"
                )
            before = self._last_positions.get(tp.partition, now)
            self._last_positions[tp.partition] = now
            if now < before:
                return (
                    f"partition {tp.partition} went back from offset {before} to {now} "
                    "(the broker reset it: the topic was re-created or truncated)"
                )
        if time.monotonic() - self._checked_at < METADATA_CHECK_S:
            return None
        self._checked_at = time.monotonic()
        shape = self.current_shape()
        if shape is None:
            return "it disappeared (the broker lost it or it was deleted)"
        if shape != self.shape:
            return self._changed_since(self.shape, {0: 0}) or "its shape changed"
        return None

    # ----------------------------------------------------------------- ends

    def end_offsets(self) -> dict[TopicPartition, int]:
        """The ends the broker reports now (last stable offsets under read_committed)."""
        ends: dict[TopicPartition, int] = self.consumer.end_offsets(
            [*self.partitions, self.checkpoint_partition]
        )
        return ends

    def reached(self, ends: dict[TopicPartition, int]) -> bool:
        """Every partition not held has reached its end in `ends`."""
        for tp, end in ends.items():
            if tp.topic == self.topic and tp.partition in self.held:
                continue
            offset = self._offset(tp)
            if offset is None or offset < end:
                return False
        return True


__all__ = ["Held", "TopicFeed", "TopicShape"]
