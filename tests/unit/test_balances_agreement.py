"""Random ledgers (commands through the real write side): every way of computing balances agrees.

The reference fold, the numpy engine over the replay columns (plain and as-of), and the SQLite
read store and replay store fed by the reader's proof (ledger.proof) from partitions delivered in
a random interleaving with re-delivered batches and checkpoints at random points: all give
exactly the same rows.
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
from projections.domain.facts import EventFacts
from projections.domain.reference import reference_balances
from projections.replay import asof_index
from projections.replay.builder import ColumnBuilder
from projections.replay.engine import base_totals, totals_from_sums
from projections.replay.store import ReplayStore
from projections.replay.views import balances_from_totals
from projections.store.read_store import ReadStore
from tests.synthetic_ledger import (
    arrivals_in_partitions,
    columns_of,
    engine_balances,
    proven_batch,
    random_actions,
    recorded_events,
    run_actions,
    stored_view_balances,
    wire_envelopes,
)

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
            dictionaries = replay.dictionaries
            names = (
                dictionaries.programmes.values,
                dictionaries.recipients.values,
                dictionaries.agencies.values,
            )
            totals = base_totals(replay.load(), names, position_sorted=True)
            assert balances_from_totals(totals, today=today) == expected


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
    lists = (
        dictionaries.programmes.values,
        dictionaries.recipients.values,
        dictionaries.agencies.values,
    )
    # Indexed up to some point after the last handover; later events are the unindexed tail.
    indexed = data.draw(st.integers(int(columns.timeline["position"].max()), columns.event_count))
    prefix = columns.select_events(np.arange(columns.event_count) < indexed)
    built = asof_index.build(
        prefix, len(lists[0]), len(lists[1]), 0, chunk_events=data.draw(st.integers(1, 12))
    )
    assert built.index is not None
    recorded = [event.recorded_at for event in events]
    as_of = AsOf(
        as_of_date=data.draw(st.none() | st.dates(date(2017, 12, 1), date(2023, 6, 30))),
        as_known_at=data.draw(
            st.none() | st.sampled_from(recorded).map(lambda t: t + timedelta(minutes=1))
        ),
        at_position=data.draw(st.none() | st.integers(0, len(events))),
    )
    sums = asof_index.indexed_sums(
        columns, built.index, as_of, None, stored_events=columns.event_count
    )
    if sums is None:
        return  # declined: a handover after the index, or a timeline known only in part
    totals = totals_from_sums(
        sums,
        built.index.spaces,
        timeline=columns.timeline,
        as_of=as_of,
        programme=None,
        names=lists,
    )
    assert balances_from_totals(totals, today=today, as_of=as_of) == reference_balances(
        events, as_of, today=today
    )
