"""The same balances computed each way: the numpy engine over replay columns, the read store."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import date
from typing import Any

import orjson

from ledger.application.envelopes import chained_envelopes
from ledger.domain.recorded import ProgrammeEvent
from ledger.proof.chain_reader import GENESIS_POINT, Arrival, ChainPoint
from ledger.proof.coordinates import MessageAt
from ledger.proof.messages import read_envelope
from projections.consumer.columnizer import Columnizer
from projections.domain.asof import AsOf
from projections.domain.balances import Balances
from projections.domain.facts import EventFacts, facts_of
from projections.domain.rows import AgencyYearRow, ProgrammeYearRow, RecipientYearRow, View
from projections.domain.selection import Selection
from projections.replay import Dictionaries, ReplayColumns, every_view
from projections.store.read_store import ProvenBatch, ReadStore
from tests.ledgers.envelopes import message_key_of


def wire_envelopes(events: Iterable[ProgrammeEvent]) -> list[dict[str, Any]]:
    """The chained envelopes as a consumer sees them (through orjson, as on the topic)."""
    return [orjson.loads(orjson.dumps(envelope)) for envelope in chained_envelopes(events)]


def columns_of(envelopes: Iterable[dict[str, Any]]) -> tuple[ReplayColumns, Dictionaries]:
    """Replay columns of envelopes through the fast decode path (as `rebuild --from kafka`)."""
    dictionaries = Dictionaries()
    columnizer = Columnizer(dictionaries)
    for envelope in envelopes:
        columnizer.add(orjson.dumps(envelope))
    return columnizer.build().in_position_order(), dictionaries


def engine_balances(
    envelopes: list[dict[str, Any]], as_of: AsOf, *, today: date, selection: Selection | None = None
) -> Balances:
    """Balances by the numpy engine over the envelopes' columns."""
    columns, dictionaries = columns_of(envelopes)
    return every_view(
        columns,
        dictionaries.names(),
        today=today,
        as_of=as_of,
        selection=selection or Selection(),
    )


def stored_view_balances(read_store: ReadStore) -> Balances:
    """All three views as the read store shows them."""
    return Balances.of(
        [r for r in read_store.balances(View.RECIPIENT_YEAR) if isinstance(r, RecipientYearRow)],
        [r for r in read_store.balances(View.PROGRAMME_YEAR) if isinstance(r, ProgrammeYearRow)],
        [r for r in read_store.balances(View.AGENCY_YEAR) if isinstance(r, AgencyYearRow)],
    )


def arrivals_in_partitions(
    envelopes: list[dict[str, Any]], partitions: int = 3, topic: str = "topic"
) -> dict[int, list[Arrival[EventFacts]]]:
    """Messages per partition as the relay would key them (in offset order), as a reader reads
    them."""
    by_partition: dict[int, list[Arrival[EventFacts]]] = {p: [] for p in range(partitions)}
    for envelope in envelopes:
        partition = zlib.crc32(message_key_of(envelope)) % partitions
        queue = by_partition[partition]
        value = orjson.dumps(envelope)
        at = MessageAt(topic, partition, len(queue))
        _, link = read_envelope(value, at)
        queue.append(Arrival(link, at, value, facts_of(envelope)))
    return by_partition


def proven_batch(
    facts: list[EventFacts], after: ChainPoint, prev_hash: str, topic: str = "topic"
) -> ProvenBatch:
    """Consecutive positions after `after` as the projector applies them."""
    last = facts[-1]
    assert after.hash == prev_hash
    return ProvenBatch(
        topic=topic,
        facts=facts,
        after=after,
        through=ChainPoint(last.position, last.hash),
        resume_offsets={},
        checkpoint_offset=0,
        topic_id=None,
        partition_count=0,
    )


def apply_envelopes(
    read_store: ReadStore, envelopes: list[dict[str, Any]], batch_events: int = 500
) -> None:
    """Apply a chain (positions from 1) to the read store in proven batches."""
    after = GENESIS_POINT
    for start in range(0, len(envelopes), batch_events):
        chunk = envelopes[start : start + batch_events]
        read_store.apply_proven(
            proven_batch([facts_of(e) for e in chunk], after, chunk[0]["prev_hash"])
        )
        after = ChainPoint(chunk[-1]["position"], chunk[-1]["hash"])
