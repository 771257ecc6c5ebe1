"""How the relay puts a window of events and its checkpoint on Kafka: two modes, one interface.

- **Transactions** (a broker that honours them, e.g. Apache Kafka): each window's events and
  its checkpoint are one Kafka transaction. `read_committed` readers see a window whole or not
  at all; a restarted or second relay with the same transactional.id fences the old producer
  and the broker aborts its open window, so a frozen old producer can never land a duplicate.
- **Idempotent** (Tansu, or GRANT_LEDGER_RELAY_TRANSACTIONS=off): the idempotent producer keeps
  each partition's order; a window's checkpoint goes out once every send of it is
  acknowledged. After a crash mid-window the restarted relay reads back what landed and skips
  it, but a send still in flight from a dead producer can land later: `verify` reports it.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import orjson
from kafka.errors import (
    InvalidProducerEpochError,
    KafkaError,
    KafkaTimeoutError,
    ProducerFencedError,
)
from kafka.producer.future import FutureRecordMetadata

from ledger.domain.recorded import format_utc
from ledger.infrastructure.kafka.clients import close_producer
from ledger.infrastructure.kafka.errors import BrokerUnavailable
from ledger.infrastructure.kafka.transactions import (
    TRANSACTION_WAIT_S,
    Waiting,
    end_transaction,
)
from ledger.proof.signatures import CheckpointSigner
from ledger.relay.messages import (
    CHECKPOINT_KEY,
    CHECKPOINT_PARTITION,
    NOTIFICATION_ID_HEADER,
    OutgoingMessage,
)
from schemas.envelope import (
    CLOUDEVENTS_SOURCE,
    CLOUDEVENTS_SPECVERSION,
    CONTENT_TYPE,
    Checkpoint,
)
from schemas.errors import Unavailable

log = logging.getLogger("grant_ledger.relay")

FLUSH_WAIT_S = 5.0
MODE_TRANSACTIONS = "transactions"
MODE_IDEMPOTENT = "idempotent"
#: Transport header of checkpoints: the mode the relay published the window in.
RELAY_MODE_HEADER = "gl_relay_mode"
CHECKPOINT_CE_TYPE = b"grant-ledger.Checkpoint.v1"


class PublishFailedError(BrokerUnavailable):
    """The broker refused or lost a message; the relay reconnects and resumes from the topic."""


class RelayFencedError(Unavailable):
    """Another relay took over this store and topic (same transactional.id): this one stops."""


@dataclass(frozen=True, slots=True)
class WindowEnd:
    """Where a window ends on the chain: its checkpoint."""

    position: int
    hash: str
    notification_id: int


def checkpoint_record(
    end: WindowEnd, mode: str, signer: CheckpointSigner
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The signed checkpoint message's value and headers (CloudEvents binding, as events have)."""
    recorded_at = format_utc(datetime.now(tz=UTC))
    body = signer.sign(
        {
            "position": end.position,
            "hash": end.hash,
            "events": end.position,
            "recorded_at": recorded_at,
        }
    )
    Checkpoint.model_validate(body)  # the contract's shape, before it leaves
    value = orjson.dumps(body)
    headers = [
        ("ce_specversion", CLOUDEVENTS_SPECVERSION.encode()),
        ("ce_id", f"checkpoint-{end.position}-{end.hash[:16]}".encode()),
        ("ce_type", CHECKPOINT_CE_TYPE),
        ("ce_source", f"{CLOUDEVENTS_SOURCE}:checkpoints".encode()),
        ("ce_time", recorded_at.encode()),
        ("content-type", CONTENT_TYPE.encode()),
        (NOTIFICATION_ID_HEADER, str(end.notification_id).encode()),
        (RELAY_MODE_HEADER, mode.encode()),
    ]
    return value, headers


def _ignore(position: int) -> None:
    del position


class WindowPublisher(Protocol):
    """Puts events and the checkpoints of their windows on Kafka."""

    mode: str
    producer: Any
    checkpoints: int
    stopping: bool
    on_checkpoint: Callable[[int], None]

    def send(self, message: OutgoingMessage, partition: int) -> None:
        """Send one event of the open window."""

    def end_window(self, end: WindowEnd) -> None:
        """Close the open window with its checkpoint."""

    def settle(self, through_position: int) -> None:
        """Make every closed window acknowledged and checkpointed (the relay is idle)."""

    def check(self, position: int) -> None:
        """Raise PublishFailedError when a send failed; publish checkpoints now due."""

    def close(self, *, flush: bool) -> None:
        """Release the producer (flushing what is pending when asked)."""


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
    end: WindowEnd | None = None
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


class _Producing:
    """What both modes share: the producer, the topics, the first failure seen."""

    def __init__(
        self,
        producer: Any,
        topics: tuple[str, str, str],
        signer: CheckpointSigner,
    ) -> None:
        self.producer = producer
        self.topic, self.checkpoint_topic, self.bootstrap = topics
        self.signer = signer
        self.failure: BaseException | None = None
        # Set when the relay is told to stop: waiting for an absent broker then gives up.
        self.stopping = False
        #: Called with a checkpoint's position once it is sent (metrics, logs).
        self.on_checkpoint: Callable[[int], None] = _ignore

    def record_failure(self, exc: BaseException) -> None:
        """Producer errback: remember the first failure; the pump raises it."""
        if self.failure is None:
            self.failure = exc

    def raise_failure(self, position: int) -> None:
        """PublishFailedError when any send failed."""
        if self.failure is not None:
            raise PublishFailedError("position", position, str(self.failure))

    def send_event(self, message: OutgoingMessage, partition: int) -> FutureRecordMetadata:
        """Send one event to its partition."""
        future: FutureRecordMetadata = self.producer.send(
            self.topic,
            key=message.key,
            value=message.value,
            headers=message.headers,
            partition=partition,
        ).add_errback(self.record_failure)
        return future

    def send_checkpoint(self, end: WindowEnd, mode: str) -> None:
        """Send a window's checkpoint."""
        value, headers = checkpoint_record(end, mode, self.signer)
        # Always partition 0, in order: readers read that one partition, whatever count a
        # topic auto-created behind the relay's back was given.
        self.producer.send(
            self.checkpoint_topic,
            key=CHECKPOINT_KEY,
            value=value,
            headers=headers,
            partition=CHECKPOINT_PARTITION,
        ).add_errback(self.record_failure)
        self.on_checkpoint(end.position)

    def flush(
        self, through_position: int, *, give_up: bool, max_wait_s: float | None = None
    ) -> None:
        """Wait until everything sent is acknowledged (logging while the broker is away);
        KafkaTimeoutError after `max_wait_s` when given."""
        started = time.monotonic()
        while True:
            try:
                self.producer.flush(timeout=FLUSH_WAIT_S)
                break
            except KafkaTimeoutError:
                waited_s = time.monotonic() - started
                log.warning(
                    "relay: waiting for Kafka at %s to acknowledge events up to position %d "
                    "(%.0f s)",
                    self.bootstrap,
                    through_position,
                    waited_s,
                )
                if give_up or self.stopping:
                    raise  # told to stop: the next run resumes from what the topic holds
                if max_wait_s is not None and waited_s >= max_wait_s:
                    raise KafkaTimeoutError(
                        f"no acknowledgement for events up to position {through_position} "
                        f"within {waited_s:.0f} s"
                    ) from None
        self.raise_failure(through_position)

    def close_producer(self, *, flush: bool) -> None:
        """Flush if asked and close; a failure to flush leaves the rest to the next run."""
        try:
            if flush:
                self.producer.flush(timeout=FLUSH_WAIT_S)
        except KafkaError as exc:
            log.warning("relay: unacknowledged messages at shutdown (%s); resumed next run", exc)
        finally:
            close_producer(self.producer, FLUSH_WAIT_S if flush else 0)


class IdempotentPublisher(_Producing):
    """Windows pipelined on the idempotent producer; checkpoints once a window is acknowledged."""

    mode = MODE_IDEMPOTENT

    def __init__(
        self, producer: Any, topics: tuple[str, str, str], signer: CheckpointSigner
    ) -> None:
        super().__init__(producer, topics, signer)
        self._window = _Window()
        self._sealed: deque[_Window] = deque()
        self.checkpoints = 0

    def send(self, message: OutgoingMessage, partition: int) -> None:
        """Send one event; its window remembers the partition's last send."""
        self._window.last_send[partition] = self.send_event(message, partition).add_errback(
            self._window.fail
        )

    def end_window(self, end: WindowEnd) -> None:
        """Seal the window; its checkpoint goes out once all its sends are acknowledged."""
        self._window.end = end
        self._sealed.append(self._window)
        self._window = _Window()

    def settle(self, through_position: int) -> None:
        """Flush, publish the due checkpoints, flush them too."""
        if not self._sealed:
            return
        self.flush(through_position, give_up=False)
        self._publish_settled()
        self.flush(through_position, give_up=False)
        assert not self._sealed, "after a flush every window is acknowledged"

    def check(self, position: int) -> None:
        """Raise on a failed send; checkpoint the windows already acknowledged."""
        self.raise_failure(position)
        self._publish_settled()

    def _publish_settled(self) -> None:
        while self._sealed and self._sealed[0].settled:
            window = self._sealed.popleft()
            assert window.end is not None
            self.send_checkpoint(window.end, self.mode)
            self.checkpoints += 1

    def close(self, *, flush: bool) -> None:
        """Close the producer."""
        self.close_producer(flush=flush)


class TransactionalPublisher(_Producing):
    """Each window and its checkpoint in one Kafka transaction."""

    mode = MODE_TRANSACTIONS

    def __init__(
        self, producer: Any, topics: tuple[str, str, str], signer: CheckpointSigner
    ) -> None:
        super().__init__(producer, topics, signer)
        self._open = False
        self._last_sent_position = 0
        self.checkpoints = 0

    def _begin(self) -> None:
        if not self._open:
            self.producer.begin_transaction()
            self._open = True

    def send(self, message: OutgoingMessage, partition: int) -> None:
        """Send one event inside the window's transaction."""
        self._begin()
        self.send_event(message, partition)
        self._last_sent_position = message.position

    def end_window(self, end: WindowEnd) -> None:
        """Add the checkpoint and commit: the window becomes visible whole, or not at all."""
        self._begin()
        self.send_checkpoint(end, self.mode)
        try:
            # Every send acknowledged first (logging while the broker is away): the commit
            # then only writes the markers, and a failed send aborts instead of committing.
            # Bounded: sends to a topic the broker lost (restarted on an emptied data dir) are
            # never acknowledged; a new connection re-creates it and publishes again.
            self.flush(end.position, give_up=False, max_wait_s=TRANSACTION_WAIT_S)
            end_transaction(self.producer, commit=True, waiting=self.waiting_for(end.position))
        except (ProducerFencedError, InvalidProducerEpochError):
            self._open = False
            raise RelayFencedError(
                "transactional.id",
                self.producer.config.get("transactional_id"),
                "another relay took over this store and topic; this one stops",
            ) from None
        except KafkaTimeoutError as exc:
            # No answer in time: this producer is left mid-commit (or mid-flush) and cannot
            # abort. The next connection's producer takes over its transactional id, which
            # completes or aborts the window, and the relay resumes from what the topic holds.
            self._open = False
            raise PublishFailedError(
                "position", end.position, f"window not committed ({exc}); a new producer resumes"
            ) from None
        except (KafkaError, PublishFailedError) as exc:
            self._abort_quietly(end.position)
            raise PublishFailedError("position", end.position, f"window aborted: {exc}") from None
        self._open = False
        self.checkpoints += 1

    def waiting_for(self, position: int) -> Waiting:
        """What the relay says while the transaction coordinator has not answered."""

        def waiting(what: str, waited_s: float) -> bool:
            log.warning(
                "relay: waiting for Kafka's transaction coordinator at %s to %s (window ending "
                "at position %d) for %.0f s; a new producer takes over after %.0f s",
                self.bootstrap,
                what,
                position,
                waited_s,
                TRANSACTION_WAIT_S,
            )
            return not self.stopping

        return waiting

    def _abort_quietly(self, position: int) -> None:
        try:
            end_transaction(self.producer, commit=False, waiting=self.waiting_for(position))
        except KafkaError as exc:
            log.warning("relay: could not abort the open window (%s); the broker will", exc)
        self._open = False

    def settle(self, through_position: int) -> None:
        """Nothing to do: every closed window was committed when it ended."""
        del through_position

    def check(self, position: int) -> None:
        """Raise on a failed send (the commit would fail anyway; fail early)."""
        if self.failure is not None:
            self._abort_quietly(position)
        self.raise_failure(position)

    def close(self, *, flush: bool) -> None:
        """Abort an open window (never half-commit) and close the producer."""
        if self._open:
            self._abort_quietly(self._last_sent_position)
        self.close_producer(flush=False)
