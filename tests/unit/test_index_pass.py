"""The as-of index's pass (asof_index._chunk_sums): its chunks summed on PASS_THREADS threads give
the same sums, chunk by chunk, as one thread; a poisoned event stops the pass with the error the
one-thread pass names (the first bad event in the store's order), and nothing is built."""

from dataclasses import replace

import numpy as np
import pytest

from projections.replay import asof_index
from projections.replay.columns import ReplayColumns
from tests.ledgers.vectorised import synthetic_columns

EVENTS = 20_000
CHUNK_EVENTS = 1_024
NO_SUCH_KIND = 255  # past the kinds' measure slots: the C scatter refuses the event


@pytest.fixture(scope="module")
def ledger() -> tuple[ReplayColumns, asof_index.Prepared]:
    """Synthetic columns of ~20 chunks and their key tables, as a rebuild prepares them."""
    columns, dictionaries, _ = synthetic_columns(EVENTS)
    prepared = asof_index.prepare(columns, dictionaries.names(), chunk_events=CHUNK_EVENTS)
    assert prepared is not None and len(prepared.windows) > 4 * asof_index.PASS_THREADS
    return columns, prepared


def poisoned(columns: ReplayColumns, *victims: int) -> ReplayColumns:
    """The columns with these events' kind made one no measure slot has."""
    kind = columns.events.kind.copy()
    kind[list(victims)] = NO_SUCH_KIND
    return replace(columns, events=replace(columns.events, kind=kind))


def test_the_threads_sum_each_chunk_as_one_thread_does(
    ledger: tuple[ReplayColumns, asof_index.Prepared], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same bins and sums per chunk, grants and periods, in chunk order."""
    columns, prepared = ledger
    threaded = asof_index._chunk_sums(columns, prepared)
    monkeypatch.setattr(asof_index, "PASS_THREADS", 1)
    alone = asof_index._chunk_sums(columns, prepared)
    for mine, theirs in zip(threaded, alone, strict=True):
        assert len(mine) == len(theirs) == len(prepared.windows)
        for chunk, (left, right) in enumerate(zip(mine, theirs, strict=True)):
            assert np.array_equal(left.bins, right.bins), chunk
            assert np.array_equal(left.sums, right.sums), chunk


@pytest.mark.parametrize("first_chunk", [0, 1, 2, 5])
def test_the_first_poisoned_event_is_named_whichever_thread_meets_it(
    ledger: tuple[ReplayColumns, asof_index.Prepared], first_chunk: int
) -> None:
    """Bad events in two chunks summed by different threads: the earlier one is named, as a
    one-thread pass names it, never the later one a thread checked first."""
    columns, prepared = ledger
    first = prepared.windows[first_chunk].start + 7
    later = prepared.windows[first_chunk + 1].start + 3
    with pytest.raises(AssertionError, match=f"event {first} of the store: its kind has no"):
        asof_index._chunk_sums(poisoned(columns, first, later), prepared)


def test_a_poisoned_event_builds_no_index(
    ledger: tuple[ReplayColumns, asof_index.Prepared],
) -> None:
    """The whole build stops with the named error: no index to save or answer from."""
    columns, _ = ledger
    clean, dictionaries, _ = synthetic_columns(EVENTS)
    victim = EVENTS - 5  # in the last chunk
    with pytest.raises(AssertionError, match=f"event {victim} of the store"):
        asof_index.build(
            poisoned(clean, victim), dictionaries.names(), 1, chunk_events=CHUNK_EVENTS
        )
    assert columns.events.kind.max() < NO_SUCH_KIND, "the fixture's columns stay clean"
