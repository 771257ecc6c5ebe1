"""The relay loop: notification log -> Kafka, exactly once, in global order, with checkpoints."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from eventsourcing.persistence import OperationalError as StoreOperationalError
from kafka.errors import KafkaError
from kafka.partitioner.default import murmur2

from ledger.application.grant_ledger import GrantLedger
from ledger.infrastructure.kafka.clients import (
    BrokerRefusedClientError,
    close_producer,
    open_producer,
    require_listening,
)
from ledger.infrastructure.kafka.errors import BrokerUnavailable
from ledger.infrastructure.kafka.reading import (
    producer_config,
    read_from_offsets,
    read_partition_tails,
)
from ledger.infrastructure.kafka.topics import ensure_topics
from ledger.infrastructure.kafka.transactions import (
    TRANSACTION_WAIT_S,
    TRANSACTIONAL_MAX_BLOCK_MS,
    broker_honours_transactions,
    init_transactions,
    transactional_id,
)
from ledger.infrastructure.log_waiter import LogWaiter, log_waiter
from ledger.infrastructure.operations.status import ProcessHealth
from ledger.infrastructure.operations.stop_signals import StopDeadline
from ledger.proof.coordinates import MessageAt
from ledger.proof.signatures import CheckpointSigner
from ledger.proof.skips import SkipRequest
from ledger.relay.chained_log import (
    PREFETCH_MIN_BACKLOG,
    ChainedLog,
    ChainStart,
    InlineChainedLog,
    PrefetchedChainedLog,
)
from ledger.relay.messages import NOTIFICATION_ID_HEADER, header_value
from ledger.relay.metrics import RelayMetrics
from ledger.relay.publisher_lock import PublisherLock, PublisherLockHeld, store_identity
from ledger.relay.publishers import (
    MODE_IDEMPOTENT,
    MODE_TRANSACTIONS,
    IdempotentPublisher,
    TransactionalPublisher,
    WindowEnd,
    WindowPublisher,
)
from ledger.relay.resume import (
    RUNBOOK,
    ChainMark,
    ResumePoint,
    TopicDivergedError,
    TopicState,
    find_resume_point,
    usable_anchor,
)
from ledger.settings import KafkaSettings, kafka_endpoint
from schemas.errors import ConfigurationError

log = logging.getLogger("grant_ledger.relay")

IDLE_WAIT_S = 1.0
# With events in an open window, a short wait before closing it: readers see a window only
# once its checkpoint is out (and, with transactions, once it is committed).
OPEN_WINDOW_WAIT_S = 0.05
BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 15.0
CHECKPOINT_PARTITIONS = 1
STANDBY_RETRY_S = 1.0
# While following, the chain's tip is checkpointed at most this often, so a trickle of
# commands does not become one transaction and checkpoint per event (and at least this soon).
TIP_CHECKPOINT_INTERVAL_S = 0.2
STANDBY_LOG_EVERY_S = 30.0
# How often the relay counts what is not yet published (one COUNT over the store's index).
OBSERVE_EVERY_S = 2.0
# From a stop request to the process's exit, at most. Told to stop, the relay's own waits give up
# within seconds (a flush: FLUSH_WAIT_S a batch; a close: PRODUCER_FORCE_CLOSE_WAIT_S; a read-back:
# a consumer request timeout); a wait nobody bounded ends the process here instead of hanging it
# (ledger.infrastructure.operations.stop_signals), abandoning what the next run resumes anyway.
RELAY_STOP_DEADLINE_S = 60.0


class RelayModeRefused(ConfigurationError):
    """GRANT_LEDGER_RELAY_TRANSACTIONS=on, and the broker does not honour transactions."""


@dataclass(slots=True)
class RelayStats:
    """What a relay run did."""

    published: int = 0
    skipped_already_on_topic: int = 0
    checkpoints: int = 0
    reconnects: int = 0
    last_position: int = 0
    elapsed_s: float = 0.0
    mode: str = ""

    @property
    def events_per_s(self) -> float:
        """Published events per second over the run."""
        return self.published / self.elapsed_s if self.elapsed_s > 0 else 0.0


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
    ours = notification_id is not None and notification_id.isascii() and notification_id.isdigit()
    if mark is None or notification_id is None or not ours:
        return None  # not a checkpoint of ours: resume from genesis instead of trusting it
    return ChainMark(mark[0], mark[1], int(notification_id))


@dataclass(slots=True)
class _Cursor:
    """The last chained event handed to the publisher: its position, hash and store id."""

    after_id: int
    position: int
    prev_hash: str

    def advance(self, position: int, chain_hash: str, notification_id: int) -> None:
        """Move past one event."""
        assert position == self.position + 1, f"position {position} after {self.position}"
        self.position, self.prev_hash, self.after_id = position, chain_hash, notification_id

    def start(self) -> ChainStart:
        """Where a chained log continues after the cursor."""
        return ChainStart(self.after_id, self.position + 1, self.prev_hash)

    def window_end(self) -> WindowEnd:
        """The checkpoint of a window ending at the cursor."""
        return WindowEnd(self.position, self.prev_hash, self.after_id)


class Relay:
    """Publishes every programme event of the store to the events topic, once, in order."""

    def __init__(
        self,
        ledger: GrantLedger,
        settings: KafkaSettings,
        bootstrap_servers: str,
        signer: CheckpointSigner,
        *,
        skips: Sequence[SkipRequest] = (),
        metrics: RelayMetrics | None = None,
        health: ProcessHealth | None = None,
    ) -> None:
        self._metrics = metrics
        self._health = health or ProcessHealth("relay")
        self._observed_at = 0.0
        self._ledger = ledger
        self._signer = signer
        self._skips = {request.at: request.reason for request in skips}
        self._settings = settings
        self._bootstrap = bootstrap_servers
        self._endpoint = kafka_endpoint(settings, bootstrap_servers)
        self._stop = threading.Event()
        self._publisher: WindowPublisher | None = None
        self._partition_cache: dict[bytes, int] = {}
        self._partitions = 0
        self._prefetcher: PrefetchedChainedLog | None = None
        self._checkpoints_of_earlier_connections = 0
        # Set once the topics existed for this run: a topic created after that was lost.
        self._published_before = False
        self.stats = RelayStats()

    def stop(self) -> None:
        """Ask the loop to finish its page, flush, checkpoint and return (or, with the broker
        away, to give up waiting: what is not acknowledged is published by the next run)."""
        self._stop.set()
        publisher = self._publisher
        if publisher is not None:
            publisher.stopping = True

    def stop_deadline(self, exit_code: int) -> StopDeadline:
        """How long a stop may take before the process gives up on it, and what that abandons."""
        return StopDeadline(RELAY_STOP_DEADLINE_S, self._abandoning, exit_code)

    def _abandoning(self) -> str:
        stats = self.stats
        return (
            f"the events handed to Kafka through position {stats.last_position} that no "
            f"checkpoint covers yet ({stats.checkpoints} checkpoints this run): they stay in the "
            "store, and the next run resumes from what the topic holds"
        )

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
        self._health.set_ready(False, "standing by: another relay publishes this store and topic")
        while not self._stop.is_set():
            self._health.beat()
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
                # A refused client (wrong credentials) is retried while following: they may be
                # rotated in; a one-off run stops on it.
                except (KafkaError, BrokerUnavailable, BrokerRefusedClientError, OSError) as exc:
                    self._disconnect()
                    self._unavailable("kafka", f"waiting for Kafka at {self._bootstrap}")
                    if once and isinstance(exc, BrokerRefusedClientError):
                        raise  # wrong credentials do not fix themselves: say so and stop
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
                    self._unavailable("store", "waiting for the event store")
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
        require_listening(self._endpoint)
        # A broker that does not answer is retried (BrokerUnavailable); a topic that would lose
        # events (TopicWouldLoseEvents, a ConfigurationError) stops the relay.
        topics = ensure_topics(
            self._endpoint,
            {settings.topic: settings.partitions, settings.checkpoint_topic: CHECKPOINT_PARTITIONS},
            settings.replication_factor,
        )
        if self._published_before and topics[settings.topic].created:
            log.warning(
                "relay: the topic %s was gone (deleted, or the broker lost its data) and is "
                "re-created: the store is published again from position 1; readers notice the "
                "new topic and re-read it (README: a foreign message on the topic, re-create)",
                settings.topic,
            )
        self._published_before = True
        self._publisher = self._open_publisher()
        # A stop requested while it was being opened found no publisher to tell: tell it now,
        # or its flushes would wait for an absent broker for ever.
        self._publisher.stopping = self._stop.is_set()
        self.stats.mode = self._publisher.mode
        if self._metrics is not None:
            self._publisher.on_checkpoint = self._metrics.checkpointed
            self._metrics.set_mode(self._publisher.mode)
        partitions = self._publisher_partitions()
        self._partitions = len(partitions)
        self._partition_cache.clear()
        # A broker that stops delivering while we read back is retried (BrokerUnavailable);
        # a diverged topic (an IntegrityFailure) stops the relay.
        topic_state, anchor = self._read_back()
        resume = find_resume_point(self._ledger, topic_state, anchor)
        log.info(
            "relay: publishing to %s from position %d (%d already on the topic ahead)",
            settings.topic,
            resume.next_position,
            len(resume.published_ahead),
        )
        self._health.set_ready(True, f"publishing to {settings.topic} ({self.stats.mode})")
        return resume

    def _unavailable(self, dependency: str, reason: str) -> None:
        self._health.set_ready(False, reason)
        if self._metrics is not None:
            self._metrics.errors.labels(dependency=dependency).inc()

    def _observe(self, cursor: _Cursor) -> None:
        """Beat, and every few seconds measure the lag (a count in the store)."""
        self._health.beat()
        now = time.monotonic()
        if self._metrics is None or now - self._observed_at < OBSERVE_EVERY_S:
            return
        self._observed_at = now
        lag = self._ledger.programme_events_after(cursor.after_id)
        oldest = self._ledger.stored_programme_events(cursor.after_id, 1) if lag else []
        self._metrics.position.set(cursor.position)
        self._metrics.observe(
            self.stats.published, lag, oldest[0].state["timestamp"] if oldest else None
        )

    def _publisher_partitions(self) -> set[int]:
        assert self._publisher is not None
        partitions: set[int] | None = self._publisher.producer.partitions_for(self._settings.topic)
        assert partitions, f"topic {self._settings.topic} has no partitions"
        return partitions

    def _open_publisher(self) -> WindowPublisher:
        """Transactions where the broker proves it honours them (or as configured)."""
        settings, endpoint = self._settings, self._endpoint
        topics = (settings.topic, settings.checkpoint_topic, self._bootstrap)
        if settings.relay_transactions != "off":
            txn_id = transactional_id(store_identity(self._ledger.store), settings.topic)
            producer = open_producer(
                endpoint,
                **producer_config(transactional_id=txn_id, max_block_ms=TRANSACTIONAL_MAX_BLOCK_MS),
            )
            try:
                honoured = self._init_and_probe(producer)
            except BaseException:
                close_producer(producer, 0)  # its I/O thread would outlive the reconnect
                raise
            if honoured:
                log.info(
                    "relay: mode %s: each window and its checkpoint in one Kafka transaction "
                    "(transactional.id %s); readers read_committed",
                    MODE_TRANSACTIONS,
                    txn_id,
                )
                return TransactionalPublisher(producer, topics, self._signer)
            close_producer(producer, 0)
            if settings.relay_transactions == "on":
                raise RelayModeRefused(
                    "GRANT_LEDGER_RELAY_TRANSACTIONS",
                    "on",
                    f"the broker at {self._bootstrap} shows aborted records to read_committed "
                    "readers: its transactions cannot be trusted (use auto or off)",
                )
            reason = "the broker does not honour transactions"
        else:
            reason = "GRANT_LEDGER_RELAY_TRANSACTIONS=off"
        log.warning(
            "relay: mode %s (%s): idempotent producer, checkpoints once a window is "
            "acknowledged; a send still in flight from a crashed relay can land twice, and "
            "`grant-ledger verify` reports it",
            MODE_IDEMPOTENT,
            reason,
        )
        return IdempotentPublisher(
            open_producer(endpoint, **producer_config()), topics, self._signer
        )

    def _init_and_probe(self, producer: Any) -> bool:
        """Take over the transactional id (fencing any earlier producer of this store and topic
        and ending its open window), then probe: True when the broker honours transactions."""
        settings = self._settings

        def waiting(what: str, waited_s: float) -> bool:
            log.warning(
                "relay: waiting for Kafka's transaction coordinator at %s to %s (%.0f s; "
                "reconnecting after %.0f s)",
                self._bootstrap,
                what,
                waited_s,
                TRANSACTION_WAIT_S,
            )
            return not self._stop.is_set()

        init_transactions(producer, waiting)
        return broker_honours_transactions(
            producer, self._endpoint, settings.topic, settings.replication_factor, waiting
        )

    def _read_back(self) -> tuple[TopicState, ChainMark]:
        """What the topic holds after the last checkpoint, read back message by message.

        Messages the operator said to skip (`--skip`) are treated as absent; any other message
        that is not one of ours stops the relay (TopicDivergedError) naming where it is.
        """
        topic = self._settings.topic
        tails = read_partition_tails(self._endpoint, topic)
        tail_positions = {
            p: None if self._skipped(topic, r) else _position_of(r.value)
            for p, r in tails.items()
            if r is not None
        }
        last_on_topic = max((pos for pos in tail_positions.values() if pos), default=0)
        checkpoint_record = read_partition_tails(
            self._endpoint, self._settings.checkpoint_topic
        ).get(0)
        checkpoint = (
            _checkpoint_mark(checkpoint_record.value, list(checkpoint_record.headers or ()))
            if checkpoint_record
            else None
        )
        anchor = usable_anchor(checkpoint, last_on_topic)
        span = last_on_topic - anchor.position
        # At most `span` messages per partition can carry a position after the anchor; a
        # partition whose tail is not ours (or skipped) is read whole.
        starts = {
            p: (max(0, record.offset - span) if tail_positions.get(p) else 0)
            for p, record in tails.items()
            if record is not None and (span > 0 or not tail_positions.get(p))
        }
        hashes: dict[int, str] = {}
        places: dict[int, MessageAt] = {}
        for record in read_from_offsets(self._endpoint, topic, starts):
            at = MessageAt(topic, record.partition, record.offset)
            if self._skipped(topic, record):
                continue
            envelope = _envelope_mark(record.value)
            if envelope is None:
                log.warning(
                    "relay: %s is not an envelope: readers stop on it until it is skipped "
                    '(`grant-ledger project --skip %s --reason "…"`; README: a foreign message)',
                    at,
                    at,
                )
            elif envelope[0] > anchor.position:
                position, chain_hash = envelope
                if hashes.setdefault(position, chain_hash) != chain_hash:
                    raise TopicDivergedError(
                        "position",
                        position,
                        f"appears twice on the topic with different hashes ({places[position]} "
                        f"and {at}): {RUNBOOK}",
                    )
                places.setdefault(position, at)
        last_on_topic = max(last_on_topic, max(hashes, default=0))
        return TopicState(hashes, last_on_topic, places), anchor

    def _skipped(self, topic: str, record: Any) -> bool:
        at = MessageAt(topic, record.partition, record.offset)
        reason = self._skips.get(at)
        if reason is None:
            return False
        log.warning("relay: skipping %s as told (%s)", at, reason)
        return True

    def _disconnect(self, flush: bool = False) -> None:
        publisher, self._publisher = self._publisher, None
        if publisher is not None:
            publisher.close(flush=flush)
            self._checkpoints_of_earlier_connections += publisher.checkpoints

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
    def _pump(  # noqa: PLR0912, PLR0915 (the relay's one publishing loop, kept whole on purpose)
        self, resume: ResumePoint, once: bool, waiter: LogWaiter
    ) -> None:
        publisher = self._publisher
        assert publisher is not None
        checkpoint_every = self._settings.checkpoint_every
        cursor = _Cursor(resume.after_notification_id, resume.next_position - 1, resume.prev_hash)
        checkpointed = resume.last_checkpoint_position
        ahead = resume.published_ahead
        tip_checkpointed_at = 0.0
        chained = self._open_log(cursor.after_id, cursor.position + 1, cursor.prev_hash)
        try:
            while not self._stop.is_set():
                self._observe(cursor)
                window_open = cursor.position > checkpointed
                page = chained.next_page(OPEN_WINDOW_WAIT_S if window_open else IDLE_WAIT_S)
                if not page:
                    if isinstance(chained, PrefetchedChainedLog):
                        # Caught up: follow new events in this process (LISTEN/NOTIFY or poll).
                        chained.close()
                        chained = InlineChainedLog(self._ledger, cursor.start())
                        continue
                    due = (
                        once or time.monotonic() - tip_checkpointed_at >= TIP_CHECKPOINT_INTERVAL_S
                    )
                    if window_open and due:
                        # Idle: the chain's tip gets its checkpoint (and, with transactions, its
                        # commit) now, so readers see it within one short window.
                        tip_checkpointed_at = time.monotonic()
                        publisher.end_window(cursor.window_end())
                        checkpointed = cursor.position
                    publisher.settle(cursor.position)
                    self._count_checkpoints(publisher)
                    if once and cursor.position <= checkpointed:
                        return
                    if cursor.position <= checkpointed:
                        waiter.wait(IDLE_WAIT_S)
                    continue
                for message in page:
                    if message.position in ahead:
                        self.stats.skipped_already_on_topic += 1
                    else:
                        publisher.send(message, self._partition_of(message.key))
                        self.stats.published += 1
                        if self._metrics is not None:
                            self._metrics.published.inc()
                    cursor.advance(message.position, message.hash, message.notification_id)
                    if message.position % checkpoint_every == 0:
                        publisher.end_window(cursor.window_end())
                        checkpointed = cursor.position
                self.stats.last_position = cursor.position
                if self._metrics is not None:
                    self._metrics.position.set(cursor.position)
                publisher.check(cursor.position)
                self._count_checkpoints(publisher)
            if cursor.position > checkpointed:
                # Stopping with a window open: finish it, so its work is not redone.
                publisher.end_window(cursor.window_end())
                publisher.settle(cursor.position)
                self._count_checkpoints(publisher)
        finally:
            chained.close()

    def _count_checkpoints(self, publisher: WindowPublisher) -> None:
        self.stats.checkpoints = self._checkpoints_of_earlier_connections + publisher.checkpoints
