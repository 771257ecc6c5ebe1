"""A rebuild folds each programme's day rows into one per agency period, up to its latest act:
the write side lets no handover take effect before acts already recorded. A handover that does
anyway (a forged or foreign stream) would split a folded row: the read store refuses it, applies
nothing of its batch, and names it."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ledger.proof.chain_reader import ChainPoint
from projections.application.query import today_utc
from projections.domain.facts import EventFacts
from projections.domain.kinds import EventKind
from projections.replay import (
    ColumnBuilder,
    Dictionaries,
    ReplayColumns,
    ReplayStore,
    concatenate,
    every_view,
    rebuild_totals,
)
from projections.store.read_store import HandoverIntoFoldedDays, ProvenBatch, ReadStore
from projections.store.schema import folded_before_key
from tests.ledgers.balances_each_way import columns_of, proven_batch, stored_view_balances
from tests.ledgers.envelopes import synthetic_envelopes

EVENTS = 600
PROGRAMME = "synthetic-1"


@dataclass(frozen=True)
class Rebuilt:
    """A read store rebuilt from these columns."""

    read_store: ReadStore
    columns: ReplayColumns
    dictionaries: Dictionaries
    through: ChainPoint


@pytest.fixture
def rebuilt(tmp_path: Path) -> Iterator[Rebuilt]:
    """A read store rebuilt from a small synthetic ledger (positions 1..EVENTS)."""
    replay = ReplayStore(tmp_path / "replay", durable=False)
    envelopes = list(synthetic_envelopes(EVENTS))
    columns, dictionaries = columns_of(envelopes)
    through = ChainPoint(EVENTS, envelopes[-1]["hash"])
    with replay.writing():
        replay.rewrite(
            columns, dictionaries=dictionaries, max_position_hash=None, topic=None, partitions={}
        )
        totals = rebuild_totals(replay)
    with ReadStore.open(f"sqlite:///{tmp_path / 'read.db'}") as read_store:
        read_store.replace(
            totals,
            topic=None,
            marks={},
            complete_through=EVENTS,
            source="test",
            complete_through_hash=through.hash,
        )
        yield Rebuilt(read_store, columns, dictionaries, through)


def handover(rebuilt: Rebuilt, effective_day: int) -> ProvenBatch:
    """A handover of PROGRAMME to Boverket right after the rebuilt positions, as the projector
    hands a proven batch to the read store."""
    facts = EventFacts(
        position=rebuilt.through.position + 1,
        kind=EventKind.PROGRAMME_HANDED_OVER,
        programme_id=PROGRAMME,
        recipient=None,
        effective_day=effective_day,
        recorded_at_us=0,
        hash="0" * 64,
        postings=(),
        timeline_agency="boverket",
    )
    return proven_batch([facts], rebuilt.through, rebuilt.through.hash)


def folded_before(read_store: ReadStore) -> int:
    """The first day the rebuild kept apart for PROGRAMME."""
    return read_store.db.day_of(read_store.state()[folded_before_key(PROGRAMME)])


def test_a_rebuild_keeps_few_day_rows(rebuilt: Rebuilt) -> None:
    """One row per agency period and year, plus the latest day's: not one per day."""
    db = rebuilt.read_store.db
    day_rows = db.execute("SELECT COUNT(*) FROM programme_day_totals")[0][0]
    programme_years = db.execute("SELECT COUNT(*) FROM programme_year_totals")[0][0]
    timeline_entries = db.execute("SELECT COUNT(*) FROM agency_timeline")[0][0]
    assert day_rows <= (timeline_entries + 1) * programme_years


def test_a_handover_into_folded_days_is_refused_and_nothing_applied(rebuilt: Rebuilt) -> None:
    """Effective a day before the programme's latest act: stop, name it, change nothing."""
    read_store = rebuilt.read_store
    before = stored_view_balances(read_store), read_store.progress()
    with pytest.raises(HandoverIntoFoldedDays, match=PROGRAMME):
        read_store.apply_proven(handover(rebuilt, folded_before(read_store) - 1))
    assert (stored_view_balances(read_store), read_store.progress()) == before


def test_a_handover_on_the_latest_day_splits_exactly(rebuilt: Rebuilt) -> None:
    """The earliest day the write side allows: applied, and every view equals the engine's
    over all the events (the money of that day goes to the new agency)."""
    batch = handover(rebuilt, folded_before(rebuilt.read_store))
    rebuilt.read_store.apply_proven(batch)
    assert rebuilt.read_store.progress().applied.position == EVENTS + 1
    builder = ColumnBuilder(rebuilt.dictionaries)
    builder.add(batch.facts[0])
    every_event = concatenate([rebuilt.columns, builder.build()])
    expected = every_view(every_event, rebuilt.dictionaries.names(), today=today_utc())
    assert stored_view_balances(rebuilt.read_store) == expected
