"""The relay loop: notification log -> Kafka, exactly once, in global order, with checkpoints."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
import psycopg
from eventsourcing.persistence import OperationalError as StoreOperationalError
from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError
from kafka.partitioner.default import murmur2
from kafka.producer.future import FutureRecordMetadata

from ledger.application.grant_ledger import GrantLedger
from ledger.domain.recorded import format_utc
from ledger.infrastructure.kafka.errors import BrokerUnavailable
from ledger.infrastructure.kafka.reading import (
    producer_config,
    read_from_offsets,
    read_partition_tails,
)
from ledger.infrastructure.kafka.topics import ensure_topics
from ledger.infrastructure.log_waiter import LogWaiter, log_waiter
from ledger.relay.chained_log import (
    PREFETCH_MIN_BACKLOG,
    ChainedLog,
    ChainStart,
    InlineChainedLog,
    PrefetchedChainedLog,
)
from ledger.relay.messages import (
    CHECKPOINT_KEY,
    NOTIFICATION_ID_HEADER,
    header_value,
)
from ledger.relay.publisher_lock import PublisherLock, PublisherLockHeld
from ledger.relay.resume import (
    ChainMark,
    ResumePoint,
    TopicDivergedError,
    TopicState,
    find_resume_point,
    usable_anchor,
)
from ledger.settings import BOOTSTRAP_ENV_VAR, KafkaSettings
from schemas.envelope import CONTENT_TYPE, Checkpoint

log = logging.getLogger("grant_ledger.relay")

IDLE_WAIT_S = 1.0
FLUSH_WAIT_S = 5.0
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 15.0
CHECKPOINT_PARTITIONS = 1
PROBE_TIMEOUT_S = 2.0
STANDBY_RETRY_S = 1.0
IDLE_CHECKPOINT_EVERY_S = 5.0
STANDBY_LOG_EVERY_S = 30.0


def _require_listening(bootstrap_servers: str) -> None:
    # A refused TCP connection tells at once that the broker is down; kafka-python's own
    # bootstrap would retry silently for its whole timeout first.
    for address in bootstrap_servers.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection((host or "localhost", int(port)), PROBE_TIMEOUT_S):
                return
        except OSError:
            continue
    raise BrokerUnavailable(BOOTSTRAP_ENV_VAR, bootstrap_servers, "connection refused")


class PublishFailedError(BrokerUnavailable):
    """The broker refused or lost a message; the relay reconnects and resumes from the topic."""


@dataclass(slots=True)
class RelayStats:
    """What a relay run did."""

    published: int = 0
    skipped_already_on_topic: int = 0
    checkpoints: int = 0
    reconnects: int = 0
    last_position: int = 0
    elapsed_s: float = 0.0

    @property
    def events_per_s(self) -> float:
        """Published events per second over the run."""
        return self.published / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(slots=True)
class _Window:
    """Events sent since the previous checkpoint; its checkpoint waits for all their acks.

    Checkpointing this way, instead of flushing at every checkpoint, keeps the producer's
    pipeline full: the checkpoint still goes out only once every event at or below it is
    acknowledged, which is what a restarted relay relies on. The idempotent producer
    completes a partition's sends in order, so the last send to each partition stands for
    all of that partition's sends in the window.
    """

    last_send: dict[int, FutureRecordMetadata] = field(default_factory=dict)
    position: int = 0
    hash: str = ""
    notification_id: int = 0
    # Set from the producer's sender thread when any send of the window fails: a later send to
    # the same partition may still succeed (the client bumps its epoch and carries on), so the
    # window's last sends alone cannot prove it complete.
    failed: list[BaseException] = field(default_factory=list)

    def fail(self, exc: BaseException) -> None:
        """Producer errback: this window will never be checkpointed."""
        self.failed.append(exc)

    @property
    def settled(self) -> bool:
        """Every event of the window is acknowledged."""
        return not self.failed and all(f.succeeded() for f in self.last_send.values())


def _envelope_mark(value: bytes | None) -> tuple[int, str] | None:
    """(position, hash) of a message that is one of our envelopes, else None."""
    try:
        body = orjson.loads(value or b"")
        position, chain_hash = body["position"], body["hash"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if not isinstance(position, int) or not isinstance(chain_hash, str) or position < 1:
        return None
    return position, chain_hash


def _position_of(value: bytes | None) -> int | None:
    mark = _envelope_mark(value)
    return mark[0] if mark else None


def _checkpoint_mark(value: bytes | None, headers: list[tuple[str, bytes]]) -> ChainMark | None:
    notification_id = header_value(headers, NOTIFICATION_ID_HEADER)
    mark = _envelope_mark(value)
    if mark is None or notification_id is None or not notification_id.isdigit():
        return None  # not a checkpoint of ours: resume from genesis instead of trusting it
    return ChainMark(mark[0], mark[1], int(notification_id))


class Relay:
    """Publishes every programme event of the store to the events topic, once, in order."""

    def __init__(
        self, ledger: GrantLedger, settings: KafkaSettings, bootstrap_servers: str
    ) -> None:
        self._ledger = ledger
        self._settings = settings
        self._bootstrap = bootstrap_servers
        self._stop = threading.Event()
        self._producer: KafkaProducer | None = None
        self._partition_cache: dict[bytes, int] = {}
        self._partitions = 0
        self._failure: BaseException | None = None
        self._prefetcher: PrefetchedChainedLog | None = None
        self.stats = RelayStats()

    def stop(self) -> None:
        """Ask the loop to finish its page, flush, checkpoint and return."""
        self._stop.set()

    def run(self, once: bool = False) -> RelayStats:
        """Publish until caught up (`once`) or until stopped; survive broker outages."""
        started = time.monotonic()
        lock = PublisherLock(self._ledger.store, self._settings.topic)
        if not self._take(lock, once):
            self.stats.elapsed_s = time.monotonic() - started
            return self.stats
        try:
            return self._run_holding_lock(once, started)
        finally:
            lock.release()

    def _take(self, lock: PublisherLock, once: bool) -> bool:
        """Become the one publisher; `--once` refuses, a follower stands by until it can."""
        if lock.acquire():
            return True
        if once:
            raise PublisherLockHeld(
                "topic",
                self._settings.topic,
                "another relay is publishing this store to this topic; it publishes what "
                "`--once` would have",
            )
        waited_s = 0.0
        while not self._stop.is_set():
            if waited_s % STANDBY_LOG_EVERY_S == 0:
                log.info(
                    "relay: standing by, another relay is publishing to %s", self._settings.topic
                )
            self._stop.wait(STANDBY_RETRY_S)
            waited_s += STANDBY_RETRY_S
            if lock.acquire():
                return True
        return False

    def _run_holding_lock(self, once: bool, started: float) -> RelayStats:
        backoff_s = BACKOFF_FIRST_S
        waiter = log_waiter(self._ledger.recorder, self._ledger.store)
        try:
            while not self._stop.is_set():
                try:
                    self._spawn_prefetcher()
                    resume = self._connect()
                    backoff_s = BACKOFF_FIRST_S
                    self._pump(resume, once, waiter)
                    if once:
                        break
                except (KafkaError, BrokerUnavailable, OSError) as exc:
                    self._disconnect()
                    self.stats.reconnects += 1
                    log.warning(
                        "waiting for Kafka at %s (%s); events stay safe in the store and are "
                        "published when it is back; retrying in %.1f s",
                        self._bootstrap,
                        exc,
                        backoff_s,
                    )
                    self._stop.wait(backoff_s)
                    backoff_s = min(backoff_s * 2, BACKOFF_MAX_S)
                except (StoreOperationalError, psycopg.OperationalError) as exc:
                    self._disconnect()
                    log.warning(
                        "waiting for the event store (%s); retrying in %.1f s", exc, backoff_s
                    )
                    self._stop.wait(backoff_s)
                    backoff_s = min(backoff_s * 2, BACKOFF_MAX_S)
        finally:
            if self._prefetcher is not None:
                self._prefetcher.close()
                self._prefetcher = None
            self._disconnect(flush=True)
            waiter.close()
            self.stats.elapsed_s = time.monotonic() - started
        return self.stats

    # ----------------------------------------------------------------- connection

    def _connect(self) -> ResumePoint:
        settings = self._settings
        log.info("relay: connecting to Kafka at %s", self._bootstrap)
        _require_listening(self._bootstrap)
        # A broker that does not answer is retried (BrokerUnavailable); a topic that would lose
        # events is a ConfigurationError and stops the relay.
        ensure_topics(
            self._bootstrap,
            {
                settings.topic: settings.partitions,
                settings.checkpoint_topic: CHECKPOINT_PARTITIONS,
            },
            settings.replication_factor,
        )
        self._failure = None
        self._producer = KafkaProducer(bootstrap_servers=self._bootstrap, **producer_config())
        partitions = self._producer.partitions_for(settings.topic)
        assert partitions, f"topic {settings.topic} has no partitions"
        self._partitions = len(partitions)
        self._partition_cache.clear()
        # A broker that stops delivering is retried; a diverged topic stops the relay.
        topic_state, anchor = self._read_back()
        resume = find_resume_point(self._ledger, topic_state, anchor)
        log.info(
            "relay: publishing to %s from position %d (%d already on the topic ahead)",
            settings.topic,
            resume.next_position,
            len(resume.published_ahead),
        )
        return resume

    def _read_back(self) -> tuple[TopicState, ChainMark]:
        """What the topic holds after the last checkpoint, read back message by message."""
        topic = self._settings.topic
        tails = read_partition_tails(self._bootstrap, topic)
        tail_positions = {p: _position_of(r.value) for p, r in tails.items() if r is not None}
        last_on_topic = max((pos for pos in tail_positions.values() if pos), default=0)
        checkpoint_record = read_partition_tails(
            self._bootstrap, self._settings.checkpoint_topic
        ).get(0)
        checkpoint = (
            _checkpoint_mark(checkpoint_record.value, list(checkpoint_record.headers or ()))
            if checkpoint_record
            else None
        )
        anchor = usable_anchor(checkpoint, last_on_topic)
        span = last_on_topic - anchor.position
        # At most `span` messages per partition can carry a position after the anchor; a
        # partition whose tail is not ours is read whole.
        starts = {
            p: (max(0, record.offset - span) if tail_positions.get(p) else 0)
            for p, record in tails.items()
            if record is not None and span > 0
        }
        hashes: dict[int, str] = {}
        for record in read_from_offsets(self._bootstrap, topic, starts):
            envelope = _envelope_mark(record.value)
            if envelope is None:
                log.warning(
                    "relay: partition %d offset %d of %s is not an envelope (ignored)",
                    record.partition,
                    record.offset,
                    topic,
                )
            elif envelope[0] > anchor.position:
                position, chain_hash = envelope
                if hashes.setdefault(position, chain_hash) != chain_hash:
                    raise TopicDivergedError(
                        "position", position, "appears twice on the topic with different hashes"
                    )
        return TopicState(hashes, last_on_topic), anchor

    def _disconnect(self, flush: bool = False) -> None:
        producer, self._producer = self._producer, None
        if producer is None:
            return
        try:
            if flush:
                producer.flush(timeout=FLUSH_WAIT_S)
        except KafkaError as exc:
            log.warning("relay: unacknowledged messages at shutdown (%s); resumed next run", exc)
        finally:
            producer.close(timeout=0 if not flush else FLUSH_WAIT_S)

    def _partition_of(self, key: bytes) -> int:
        # kafka-python's default partitioner (murmur2, as the Java client), cached per key:
        # the few hundred recipient keys make the pure-Python hash a hot-path cost otherwise.
        partition = self._partition_cache.get(key)
        if partition is None:
            partition = (murmur2(key) & 0x7FFFFFFF) % self._partitions
            self._partition_cache[key] = partition
        return partition

    # ----------------------------------------------------------------- publishing

    def _spawn_prefetcher(self) -> None:
        # Started before connecting to Kafka, so its start-up overlaps ours; used only when
        # the backlog turns out large enough to be worth a second core.
        if self._prefetcher is None and self._store_size() >= PREFETCH_MIN_BACKLOG:
            self._prefetcher = PrefetchedChainedLog(self._ledger.store.url)

    def _store_size(self) -> int:
        return self._ledger.recorder.max_notification_id() or 0

    def _open_log(self, after_id: int, next_position: int, prev_hash: str) -> ChainedLog:
        start = ChainStart(after_id, next_position, prev_hash)
        prefetcher, self._prefetcher = self._prefetcher, None
        backlog = self._store_size() - after_id
        if prefetcher is not None and backlog >= PREFETCH_MIN_BACKLOG:
            log.info("relay: catching up on about %d stored events in a prefetch process", backlog)
            prefetcher.begin(start)
            return prefetcher
        if prefetcher is not None:
            prefetcher.close()
        return InlineChainedLog(self._ledger, start)

    # One loop holds the window, the sealed windows and the chain's tip together: every send,
    # checkpoint and idle decision sees the same state. Split, they would pass it all around.
    def _pump(  # noqa: PLR0915 (the relay's one publishing loop, kept whole on purpose)
        self, resume: ResumePoint, once: bool, waiter: LogWaiter
    ) -> None:
        producer = self._producer
        assert producer is not None
        topic = self._settings.topic
        checkpoint_every = self._settings.checkpoint_every
        after_id, position, prev_hash = (
            resume.after_notification_id,
            resume.next_position - 1,
            resume.prev_hash,
        )
        checkpointed = resume.last_checkpoint_position
        ahead = resume.published_ahead
        on_error = self._record_failure
        window = _Window()
        sealed: deque[_Window] = deque()
        tip_checkpointed_at = 0.0
        chained = self._open_log(after_id, position + 1, prev_hash)
        try:
            while not self._stop.is_set():
                page = chained.next_page(IDLE_WAIT_S)
                if not page:
                    if isinstance(chained, PrefetchedChainedLog):
                        # Caught up: follow new events in this process (LISTEN/NOTIFY or poll).
                        chained.close()
                        chained = InlineChainedLog(
                            self._ledger, ChainStart(after_id, position + 1, prev_hash)
                        )
                        continue
                    tip_due = (
                        once or time.monotonic() - tip_checkpointed_at >= IDLE_CHECKPOINT_EVERY_S
                    )
                    if position > checkpointed and tip_due:
                        # Idle: the chain's tip gets a checkpoint too (at most every few
                        # seconds while following, so a trickle of commands does not turn
                        # into one checkpoint per event).
                        tip_checkpointed_at = time.monotonic()
                        self._seal(window, position, prev_hash, after_id, sealed)
                        window = _Window()
                        checkpointed = position
                    if sealed:
                        self._flush(position)
                        self._publish_settled(sealed)
                        self._flush(position)
                        assert not sealed, "after a flush every window is acknowledged"
                    if once:
                        return
                    waiter.wait(IDLE_WAIT_S)
                    continue
                for message in page:
                    position = message.position
                    if position in ahead:
                        self.stats.skipped_already_on_topic += 1
                    else:
                        partition = self._partition_of(message.key)
                        window.last_send[partition] = (
                            producer.send(
                                topic,
                                key=message.key,
                                value=message.value,
                                headers=message.headers,
                                partition=partition,
                            )
                            .add_errback(window.fail)
                            .add_errback(on_error)
                        )
                        self.stats.published += 1
                    prev_hash, after_id = message.hash, message.notification_id
                    if position % checkpoint_every == 0:
                        self._seal(window, position, prev_hash, after_id, sealed)
                        window = _Window()
                        checkpointed = position
                self.stats.last_position = position
                if self._failure is not None:
                    raise PublishFailedError("position", position, str(self._failure))
                self._publish_settled(sealed)
        finally:
            chained.close()

    @staticmethod
    def _seal(
        window: _Window,
        position: int,
        chain_hash: str,
        notification_id: int,
        sealed: deque[_Window],
    ) -> None:
        window.position, window.hash, window.notification_id = position, chain_hash, notification_id
        sealed.append(window)

    def _publish_settled(self, sealed: deque[_Window]) -> None:
        """Publish, in order, the checkpoints whose events are all acknowledged."""
        while sealed and sealed[0].settled:
            window = sealed.popleft()
            self._send_checkpoint(window.position, window.hash, window.notification_id)

    def _record_failure(self, exc: BaseException) -> None:
        if self._failure is None:
            self._failure = exc

    def _flush(self, through_position: int) -> None:
        producer = self._producer
        assert producer is not None
        while True:
            try:
                producer.flush(timeout=FLUSH_WAIT_S)
                break
            except KafkaTimeoutError:
                log.warning(
                    "relay: waiting for Kafka at %s to acknowledge events up to position %d",
                    self._bootstrap,
                    through_position,
                )
                if self._stop.is_set():
                    raise
        if self._failure is not None:
            raise PublishFailedError("position", through_position, str(self._failure))

    def _send_checkpoint(self, position: int, chain_hash: str, notification_id: int) -> None:
        """Publish a chain point whose events are all acknowledged."""
        producer = self._producer
        assert producer is not None
        checkpoint = Checkpoint(
            position=position,
            hash=chain_hash,
            events=position,
            recorded_at=datetime.now(tz=UTC),
        )
        value = orjson.dumps(
            {
                **checkpoint.model_dump(mode="json"),
                "recorded_at": format_utc(checkpoint.recorded_at),
            }
        )
        producer.send(
            self._settings.checkpoint_topic,
            key=CHECKPOINT_KEY,
            value=value,
            headers=[
                ("content-type", CONTENT_TYPE.encode()),
                (NOTIFICATION_ID_HEADER, str(notification_id).encode()),
            ],
        ).add_errback(self._record_failure)
        self.stats.checkpoints += 1
        self.stats.last_position = position
