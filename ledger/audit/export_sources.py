"""Where an export reads the published record: the event store, or the topic itself.

Both give envelopes in position order, each checked to follow the one before (consecutive
positions, prev_hash = the previous hash), so an export never writes a broken record silently;
and checkpoints: the relay's, read from the checkpoint topic, or (from the store) computed on
the store's chain at the same positions the relay checkpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from ledger.application.chain_index import ChainIndex
from ledger.application.grant_ledger import GrantLedger
from ledger.application.published_log import cursor_before, store_envelopes
from ledger.domain.recorded import format_utc
from ledger.infrastructure.kafka.reading import read_all
from ledger.infrastructure.kafka.security import KafkaEndpoint
from schemas.chain import canonical_bytes, chain_hash
from schemas.errors import IntegrityFailure, InvalidQuery, QueryParameter

SOURCE_STORE = "store"
SOURCE_KAFKA = "kafka"
SOURCES = (SOURCE_STORE, SOURCE_KAFKA)


class ExportRefused(IntegrityFailure):
    """The record to export does not hold together (a gap, a fork, a foreign message)."""


@dataclass(frozen=True, slots=True)
class PositionRange:
    """Positions first..last (last None: up to the head)."""

    first: int = 1
    last: int | None = None

    def __post_init__(self) -> None:
        if self.first < 1:
            raise InvalidQuery(
                QueryParameter.EXPORT_FROM_POSITION, self.first, "positions start at 1"
            )
        if self.last is not None and self.last < self.first:
            raise InvalidQuery(
                QueryParameter.EXPORT_TO_POSITION,
                self.last,
                f"before the first position {self.first}",
            )

    def holds(self, position: int) -> bool:
        """True when the position is inside the range."""
        return position >= self.first and (self.last is None or position <= self.last)


@dataclass
class RecordSource:
    """Envelopes in position order, the checkpoints that go with them, and the expected size."""

    envelopes: Iterator[dict[str, Any]]
    expected_events: int | None
    checkpoints_from_topic: list[dict[str, Any]] | None = None
    described: dict[str, Any] = field(default_factory=dict)


def from_store(ledger: GrantLedger, positions: PositionRange) -> RecordSource:
    """The store's chain over the range: from genesis, or from the chain index's link before
    its first event (a whole export needs no index: it chains the store as it goes)."""
    index = ChainIndex(ledger)
    if positions.first == 1:
        known = index.indexed_head()
        expected = None if known == 0 else known if positions.last is None else positions.last
        cursor = None
    else:
        head = index.extend()
        if positions.first > head:
            held = f"the store holds positions 1..{head}" if head else "the store holds no events"
            raise InvalidQuery(QueryParameter.EXPORT_FROM_POSITION, positions.first, held)
        last = head if positions.last is None else min(positions.last, head)
        expected, cursor = last - positions.first + 1, cursor_before(ledger, positions.first)
    envelopes = store_envelopes(ledger, through_position=positions.last, cursor=cursor)
    return RecordSource(envelopes, expected, None, {"store_kind": ledger.store.kind})


def from_kafka(
    endpoint: KafkaEndpoint, topic: str, checkpoint_topic: str, positions: PositionRange
) -> RecordSource:
    """The topic's envelopes merged into position order; the relay's checkpoints in range."""
    checkpoints = []
    for record in read_all(endpoint, checkpoint_topic):
        body = _json_object(record.value)
        if body is None or not isinstance(body.get("position"), int):
            raise ExportRefused(
                "checkpoint_topic", checkpoint_topic, f"offset {record.offset} is no checkpoint"
            )
        if positions.holds(body["position"]):
            checkpoints.append({**body, "source": "topic"})
    return RecordSource(
        _in_position_order(read_all(endpoint, topic), positions, topic),
        None,
        checkpoints,
        {"topic": topic, "checkpoint_topic": checkpoint_topic},
    )


def _json_object(value: bytes | None) -> dict[str, Any] | None:
    try:
        body = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None


def _in_position_order(
    records: Iterator[Any], positions: PositionRange, topic: str
) -> Iterator[dict[str, Any]]:
    """Each partition is in position order; hold early arrivals until their turn comes.

    Positions are gap-free, so the next one to write is always known; what waits is bounded by
    how far apart the broker's fetches of different partitions run.
    """
    waiting: dict[int, dict[str, Any]] = {}
    next_position = positions.first
    for record in records:
        envelope = _json_object(record.value)
        where = f"partition {record.partition} offset {record.offset}"
        if envelope is None or not isinstance(envelope.get("position"), int):
            raise ExportRefused("topic", topic, f"{where} is not an envelope")
        position = envelope["position"]
        if not positions.holds(position) or position < next_position:
            continue
        earlier = waiting.get(position)
        if earlier is not None:
            if earlier["hash"] != envelope["hash"]:
                raise ExportRefused(
                    "position", position, f"on the topic twice, different ({where})"
                )
            continue  # a duplicate send (idempotent mode, a crashed relay): the same event
        waiting[position] = envelope
        while next_position in waiting:
            yield waiting.pop(next_position)
            next_position += 1
            if positions.last is not None and next_position > positions.last:
                return
    if waiting:
        raise ExportRefused(
            "position", next_position, f"missing from the topic ({len(waiting)} later ones read)"
        )


class ChainFollower:
    """Checks each envelope follows the one before and matches its own hash."""

    def __init__(self, first_position: int) -> None:
        self.next_position = first_position
        self.prev_hash: str | None = None
        self.first_prev_hash: str | None = None
        self.first_hash: str | None = None

    def follow(self, envelope: dict[str, Any]) -> None:
        """Refuse an envelope out of order, off the chain, or not matching its hash."""
        position = envelope["position"]
        if position != self.next_position:
            raise ExportRefused("position", position, f"expected position {self.next_position}")
        if self.prev_hash is not None and envelope["prev_hash"] != self.prev_hash:
            raise ExportRefused("position", position, "prev_hash is not the previous event's hash")
        if chain_hash(envelope["prev_hash"], canonical_bytes(envelope)) != envelope["hash"]:
            raise ExportRefused("position", position, "the envelope does not match its own hash")
        if self.first_hash is None:
            self.first_prev_hash, self.first_hash = envelope["prev_hash"], envelope["hash"]
        self.prev_hash = envelope["hash"]
        self.next_position += 1


def store_checkpoint(envelope: dict[str, Any], exported_at: datetime) -> dict[str, Any]:
    """A checkpoint of the store's chain at an envelope (unsigned)."""
    return {
        "position": envelope["position"],
        "hash": envelope["hash"],
        "events": envelope["position"],
        "recorded_at": format_utc(exported_at.astimezone(UTC)),
        "source": SOURCE_STORE,
        "signature": None,
        "key_id": None,
    }
