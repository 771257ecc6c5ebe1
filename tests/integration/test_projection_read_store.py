"""The read store: readers never see a half-built rebuild; a rebuild waits for no projector."""

import threading

import pytest

from ledger.proof.chain_reader import GENESIS_POINT, ChainPoint
from projections.domain.facts import facts_of
from projections.domain.rows import View
from projections.replay import totals as replay_totals
from projections.store.dialects import RebuildBlocked
from projections.store.read_store import ProgressMoved, ReadStore
from schemas.chain import GENESIS_HASH
from tests.ledgers.balances_each_way import columns_of, proven_batch
from tests.ledgers.envelopes import synthetic_envelopes

EVENTS = 3_000
SWAPS = 5


def total_awarded(read_store: ReadStore) -> int:
    """Awarded money over all programme-years, as a reader sees it."""
    return sum(row.awarded_ore for row in read_store.balances(View.PROGRAMME_YEAR))


def test_readers_see_the_old_or_the_new_balances_never_a_mix(read_store_url: str) -> None:
    """While rebuilds swap tables back and forth, a reader only ever sees one of two totals."""
    envelopes = list(synthetic_envelopes(EVENTS))
    half, whole = columns_of(envelopes[: EVENTS // 2]), columns_of(envelopes)
    totals = {}
    for name, (columns, dictionaries) in (("half", half), ("whole", whole)):
        totals[name] = replay_totals(columns, dictionaries.names())
    with ReadStore.open(read_store_url) as writer:
        writer.replace(totals["half"], topic=None, marks={}, complete_through=0, source="test")
        expected = {total_awarded(writer)}
        writer.replace(totals["whole"], topic=None, marks={}, complete_through=0, source="test")
        expected.add(total_awarded(writer))
    assert len(expected) == 2

    seen: set[int] = set()
    errors: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            with ReadStore.open(read_store_url) as reader:
                while not done.is_set():
                    seen.add(total_awarded(reader))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    with ReadStore.open(read_store_url) as writer:
        for swap in range(SWAPS):
            writer.replace(
                totals["half" if swap % 2 else "whole"],
                topic=None,
                marks={},
                complete_through=0,
                source="test",
            )
    done.set()
    thread.join()
    assert not errors, errors
    assert seen <= expected, seen - expected


def test_rebuild_refuses_while_a_projector_runs(read_store_url: str) -> None:
    """The projector's shared lock keeps a rebuild (exclusive) from swapping under it."""
    with (
        ReadStore.open(read_store_url) as projecting,
        projecting.projector_lock(exclusive=False),
        ReadStore.open(read_store_url) as rebuilding,
        pytest.raises(RebuildBlocked, match="project"),
        rebuilding.projector_lock(exclusive=True),
    ):
        pass


def test_applying_is_exactly_once_by_position(read_store_url: str) -> None:
    """A batch again, or a batch that does not follow what is applied: refused, nothing counted."""
    envelopes = list(synthetic_envelopes(600))
    facts = [facts_of(envelope) for envelope in envelopes]
    with ReadStore.open(read_store_url) as read_store:
        read_store.apply_proven(proven_batch(facts[:50], GENESIS_POINT, GENESIS_HASH))
        once = read_store.balances(View.RECIPIENT_YEAR)
        with pytest.raises(ProgressMoved):  # the same batch again
            read_store.apply_proven(proven_batch(facts[:50], GENESIS_POINT, GENESIS_HASH))
        assert read_store.balances(View.RECIPIENT_YEAR) == once
        after_50 = ChainPoint(50, envelopes[49]["hash"])
        read_store.apply_proven(proven_batch(facts[50:], after_50, envelopes[49]["hash"]))
        with pytest.raises(ProgressMoved):  # a second reader behind the first
            read_store.apply_proven(proven_batch(facts[50:], after_50, envelopes[49]["hash"]))
        progress = read_store.progress()
        assert progress.applied == ChainPoint(600, envelopes[-1]["hash"])
