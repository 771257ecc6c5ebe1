"""Random ledgers (commands through the real write side): every way of computing balances agrees.

The reference fold, the numpy engine over the replay columns (plain and as-of), the SQLite read
store and replay store fed by the reader's proof (ledger.proof) from partitions delivered in a
random interleaving with re-delivered batches and checkpoints at random points, and a read store
rebuilt from part of the ledger (days folded per agency period) then kept current with the rest
by the same proof: all give exactly the same rows.
"""

import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.application.grant_ledger import GrantLedger
from ledger.domain.recorded import ProgrammeEvent
from ledger.proof.chain_reader import GENESIS_POINT, Arrival, ChainPoint, ChainReader
from ledger.proof.coordinates import MessageAt
from projections.domain.asof import AsOf
from projections.domain.balances import Balances
from projections.domain.facts import EventFacts
from projections.domain.reference import reference_balances
from projections.replay import ColumnBuilder, ReplayStore, asof_index, every_view, rebuild_totals
from projections.store.read_store import ReadStore
from tests.ledgers.balances_each_way import (
    arrivals_in_partitions,
    columns_of,
    engine_balances,
    proven_batch,
    stored_view_balances,
    wire_envelopes,
)
from tests.ledgers.random_commands import random_actions, recorded_events, run_actions

EXAMPLES = 25
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def record(actions: list[dict[str, Any]], directory: Path) -> list[ProgrammeEvent]:
    """Run the commands through GrantLedger; the recorded events in position order."""
    ledger = GrantLedger(f"sqlite:///{directory / 'ledger.db'}")
    try:
        run_actions(ledger, actions)
        return recorded_events(ledger)
    finally:
        ledger.close()


def delivery_order(
    by_partition: dict[int, list[Arrival[EventFacts]]], data: st.DataObject
) -> list[list[Arrival[EventFacts]]]:
    """Batches as a group of consumers might see them: partitions interleaved at random, each
    partition in offset order, and now and then a batch delivered again."""
    cursors = dict.fromkeys(by_partition, 0)
    batches: list[list[Arrival[EventFacts]]] = []
    while any(cursors[p] < len(messages) for p, messages in by_partition.items()):
        open_partitions = [p for p, messages in by_partition.items() if cursors[p] < len(messages)]
        partition = data.draw(st.sampled_from(open_partitions))
        size = data.draw(st.integers(1, 6))
        start = cursors[partition]
        batch = by_partition[partition][start : start + size]
        cursors[partition] = start + len(batch)
        again: bool = data.draw(st.booleans())
        if batches and again:
            redelivered: list[Arrival[EventFacts]] = data.draw(st.sampled_from(batches))
            batch = batch + redelivered  # a re-delivery rides along
        batches.append(batch)
    return batches


def apply_proven(
    reader: ChainReader[EventFacts], read_store: ReadStore, replay: ReplayStore
) -> None:
    """What the reader releases, to the replay store and the read store, as the projector does."""
    before = reader.released
    proven = reader.take_proven(5)
    while proven:
        facts = [arrival.payload for arrival in proven]
        builder = ColumnBuilder(replay.dictionaries)
        for one in facts:
            builder.add(one)
        replay.append(builder.build(), newest_hash=(facts[-1].position, facts[-1].hash))
        read_store.apply_proven(proven_batch(facts, before, proven[0].link.prev_hash))
        before = ChainPoint(facts[-1].position, facts[-1].hash)
        proven = reader.take_proven(5)


@SETTINGS
@given(actions=random_actions(), data=st.data())
def test_every_way_agrees_with_the_reference(
    actions: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Engine, as-of engine, replay store and read store all equal the reference fold."""
    today = datetime.now(tz=UTC).date()
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary)
        events = record(actions, directory)
        envelopes = wire_envelopes(events)
        expected = reference_balances(events, today=today)

        assert engine_balances(envelopes, AsOf(), today=today) == expected

        last = len(events)
        recorded = [event.recorded_at for event in events]
        as_of = AsOf(
            as_of_date=data.draw(st.none() | st.dates(date(2017, 12, 1), date(2023, 6, 30))),
            as_known_at=data.draw(
                st.none() | st.sampled_from(recorded).map(lambda t: t + timedelta(minutes=1))
            ),
            at_position=data.draw(st.none() | st.integers(0, last)),
        )
        assert engine_balances(envelopes, as_of, today=today) == reference_balances(
            events, as_of, today=today
        )

        batches = delivery_order(arrivals_in_partitions(envelopes), data)
        signed_at = sorted(set(data.draw(st.lists(st.integers(1, max(last, 1)), max_size=4))))
        replay = ReplayStore(directory / "replay", durable=False)
        reader: ChainReader[EventFacts] = ChainReader(GENESIS_POINT)
        with ReadStore.open(f"sqlite:///{directory / 'read.db'}") as read_store, replay.writing():
            for number, batch in enumerate(batches):
                for arrival in batch:
                    reader.offer(arrival)
                if signed_at and number % 3 == 0:
                    envelope = envelopes[signed_at.pop(0) - 1]
                    at = MessageAt("checkpoints", 0, number)
                    reader.offer_checkpoint(envelope["position"], envelope["hash"], at)
                apply_proven(reader, read_store, replay)
            if envelopes:
                at = MessageAt("checkpoints", 0, len(batches))
                reader.offer_checkpoint(last, envelopes[-1]["hash"], at)
            apply_proven(reader, read_store, replay)
            assert reader.released.position == last
            assert stored_view_balances(read_store) == expected

            replay.compact()
            assert replay.manifest.complete
            names = replay.dictionaries.names()
            assert every_view(replay.load(), names, today=today) == expected

        rebuilt_through = data.draw(st.integers(0, last))
        assert (
            rebuilt_then_projected(directory, envelopes, batches, rebuilt_through, today=today)
            == expected
        )


def rebuilt_then_projected(
    directory: Path,
    envelopes: list[dict[str, Any]],
    batches: list[list[Arrival[EventFacts]]],
    rebuilt_through: int,
    *,
    today: date,
) -> Balances:
    """A read store rebuilt from positions 1..rebuilt_through (its days folded per agency
    period), then fed every batch through a reader that starts where the rebuild ended: those
    positions are recognised as applied, the rest applied."""
    replay = ReplayStore(directory / "rebuilt-replay", durable=False)
    with replay.writing():
        columns, dictionaries = columns_of(envelopes[:rebuilt_through])
        replay.rewrite(
            columns, dictionaries=dictionaries, max_position_hash=None, topic=None, partitions={}
        )
        totals = rebuild_totals(replay)
    start = GENESIS_POINT
    if rebuilt_through:
        start = ChainPoint(rebuilt_through, envelopes[rebuilt_through - 1]["hash"])
    reader: ChainReader[EventFacts] = ChainReader(start)
    with ReadStore.open(f"sqlite:///{directory / 'rebuilt.db'}") as read_store:
        read_store.replace(
            totals,
            topic=None,
            marks={},
            complete_through=rebuilt_through,
            source="test",
            complete_through_hash=start.hash,
        )
        for batch in batches:
            for arrival in batch:
                reader.offer(arrival)
        if envelopes:
            reader.offer_checkpoint(
                len(envelopes), envelopes[-1]["hash"], MessageAt("checkpoints", 0, 0)
            )
        proven = reader.take_proven(len(envelopes))
        if proven:
            facts = [arrival.payload for arrival in proven]
            read_store.apply_proven(proven_batch(facts, start, proven[0].link.prev_hash))
        return stored_view_balances(read_store)


@SETTINGS
@given(actions=random_actions(), data=st.data())
def test_the_as_of_index_answers_like_the_reference(
    actions: list[dict[str, Any]], data: st.DataObject
) -> None:
    """Zone maps + cumulative chunk sums (tiny chunks here), with events appended after the
    index was built: as-of answers equal the reference's, or the index declines (full scan)."""
    today = datetime.now(tz=UTC).date()
    with tempfile.TemporaryDirectory() as temporary:
        events = record(actions, Path(temporary))
    envelopes = wire_envelopes(events)
    columns, dictionaries = columns_of(envelopes)
    names = dictionaries.names()
    # Indexed up to some point after the last handover; later events are the unindexed tail.
    indexed = data.draw(st.integers(int(columns.timeline.position.max()), columns.event_count))
    prefix = columns.select_events(np.arange(columns.event_count) < indexed)
    index = asof_index.build(prefix, names, 0, chunk_events=data.draw(st.integers(1, 12)))
    assert index is not None
    recorded = [event.recorded_at for event in events]
    as_of = AsOf(
        as_of_date=data.draw(st.none() | st.dates(date(2017, 12, 1), date(2023, 6, 30))),
        as_known_at=data.draw(
            st.none() | st.sampled_from(recorded).map(lambda t: t + timedelta(minutes=1))
        ),
        at_position=data.draw(st.none() | st.integers(0, len(events))),
    )
    if asof_index.indexed_sums(columns, index, as_of, None) is None:
        return  # declined: a handover after the index, or a timeline known only in part
    answer = every_view(columns, names, today=today, as_of=as_of, index=index)
    assert answer == reference_balances(events, as_of, today=today)
