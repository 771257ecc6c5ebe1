"""The engine's hot loop in C (projections/replay/posting_sums.c): the same sums as the
whole-chunk numpy path, for every window and mask; and on bad input a named error, nothing
read or written out of bounds, and accumulators left empty."""

from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from projections.replay import asof_index, posting_sums
from projections.replay.accumulators import DenseSums
from projections.replay.columns import ReplayColumns
from projections.replay.counting import Counted, EventWindow
from projections.replay.key_spaces import MEASURE_SLOT_OF_KIND, MEASURE_SLOTS, UNKNOWN_KEY
from projections.replay.range_sums import (
    Accumulators,
    KeyTables,
    QuestionSums,
    _add_postings_numpy,
    _scatter_dense,
)
from tests.ledgers.vectorised import synthetic_columns

EVENTS = 20_000
CHUNK_EVENTS = 4_096


@pytest.fixture(scope="module")
def ledger() -> tuple[ReplayColumns, asof_index.Prepared]:
    """Synthetic columns and their key tables, as a rebuild prepares them."""
    columns, dictionaries, _ = synthetic_columns(EVENTS)
    prepared = asof_index.prepare(columns, dictionaries.names(), chunk_events=CHUNK_EVENTS)
    assert prepared is not None
    return columns, prepared


def sums_of(add: Any, columns: ReplayColumns, keys: KeyTables, counted: Counted) -> QuestionSums:
    """One window added into fresh dense accumulators, taken out."""
    into = Accumulators.for_keys(keys)
    assert isinstance(into.grants, DenseSums) and isinstance(into.periods, DenseSums)
    add(columns.events, columns.postings, counted, keys, into)
    return into.take(keys)


def assert_same(left: QuestionSums, right: QuestionSums) -> None:
    """Same bins reached, same sums, for grants and periods."""
    for name in ("grants", "periods"):
        mine, theirs = getattr(left, name), getattr(right, name)
        assert np.array_equal(mine.bins, theirs.bins), name
        assert np.array_equal(mine.sums, theirs.sums), name


@pytest.mark.parametrize("clamp_days", [False, True])
def test_every_chunk_sums_as_the_numpy_path_does(
    ledger: tuple[ReplayColumns, asof_index.Prepared], clamp_days: bool
) -> None:
    """Whole chunks, the last one short, with days clamped or not."""
    columns, prepared = ledger
    keys = replace(prepared.keys, clamp_days=clamp_days)
    for window in prepared.windows:
        counted = Counted(window, None)
        assert_same(
            sums_of(_scatter_dense, columns, keys, counted),
            sums_of(_add_postings_numpy, columns, keys, counted),
        )


def test_a_masked_window_counts_only_its_masked_events(
    ledger: tuple[ReplayColumns, asof_index.Prepared],
) -> None:
    """Random masks (an as-of question's), an empty one, a full one."""
    columns, prepared = ledger
    generator = np.random.default_rng(5)
    window = prepared.windows[1]
    size = window.stop - window.start
    masks = [generator.random(size) < share for share in (0.0, 0.1, 0.5, 1.0)]
    for mask in masks:
        counted = Counted(window, mask)
        assert_same(
            sums_of(_scatter_dense, columns, prepared.keys, counted),
            sums_of(_add_postings_numpy, columns, prepared.keys, counted),
        )


def test_grants_or_periods_alone(ledger: tuple[ReplayColumns, asof_index.Prepared]) -> None:
    """A question that wants one kind of sums leaves the other accumulator out."""
    columns, prepared = ledger
    keys, window = prepared.keys, prepared.windows[0]
    whole = sums_of(_scatter_dense, columns, keys, Counted(window, None))
    for wanted in ("grants", "periods"):
        into = Accumulators.for_keys(keys)
        setattr(into, "periods" if wanted == "grants" else "grants", None)
        _scatter_dense(columns.events, columns.postings, Counted(window, None), keys, into)
        alone = getattr(into, wanted).take()
        assert np.array_equal(alone.sums, getattr(whole, wanted).sums)


def test_an_unknown_pair_is_named_and_leaves_the_accumulators_empty(
    ledger: tuple[ReplayColumns, asof_index.Prepared],
) -> None:
    """A pair missing from the key table: AssertionError naming the event, nothing kept."""
    columns, prepared = ledger
    window = prepared.windows[2]
    victim = window.start + 100
    pairs = prepared.keys.pairs
    lookup = pairs.lookup.copy()
    events = columns.events
    slot = int(events.programme[victim]) * pairs.recipient_codes + int(events.recipient[victim])
    lookup[slot] = UNKNOWN_KEY
    keys = replace(prepared.keys, pairs=replace(pairs, lookup=lookup))
    into = Accumulators.for_keys(keys)
    with pytest.raises(AssertionError, match=f"event {victim}.*missing from the key table"):
        _scatter_dense(events, columns.postings, Counted(window, None), keys, into)
    assert isinstance(into.grants, DenseSums) and isinstance(into.periods, DenseSums)
    assert not into.grants.touched.any() and not into.grants.sums.any()
    assert not into.periods.touched.any()


def test_a_year_outside_the_key_space_stops_the_pass(
    ledger: tuple[ReplayColumns, asof_index.Prepared],
) -> None:
    """A posting whose year has no bins would land in another pair's bins: refused."""
    columns, prepared = ledger
    keys = replace(prepared.keys, years=replace(prepared.keys.years, count=1))
    into = Accumulators.for_keys(prepared.keys)
    with pytest.raises(AssertionError, match="year is outside"):
        _scatter_dense(
            columns.events, columns.postings, Counted(prepared.windows[0], None), keys, into
        )


def scatter_arguments(
    columns: ReplayColumns, prepared: asof_index.Prepared, **changes: Any
) -> list[Any]:
    """The C function's arguments for the first window, with some replaced by name."""
    keys, window = prepared.keys, prepared.windows[0]
    into = Accumulators.for_keys(keys)
    assert isinstance(into.grants, DenseSums) and isinstance(into.periods, DenseSums)
    events, postings = columns.events, columns.postings
    arguments: dict[str, Any] = {
        "programme": events.programme,
        "recipient": events.recipient,
        "day": events.effective_day,
        "kind": events.kind,
        "posting_count": events.posting_count,
        "year": postings.year,
        "amount": postings.amount_ore,
        "start": window.start,
        "stop": window.stop,
        "posting_start": window.posting_start,
        "posting_stop": window.posting_stop,
        "mask": None,
        "measures": MEASURE_SLOT_OF_KIND,
        "pairs": keys.pairs.lookup,
        "recipient_codes": keys.pairs.recipient_codes,
        "periods": keys.periods.lookup,
        "days_first": keys.periods.days.first,
        "days_count": keys.periods.days.count,
        "clamp": False,
        "year_first": keys.years.first,
        "year_count": keys.years.count,
        "measure_slots": MEASURE_SLOTS,
        "grant_sums": into.grants.sums,
        "grant_touched": into.grants.touched,
        "period_sums": into.periods.sums,
        "period_touched": into.periods.touched,
    }
    assert set(changes) <= set(arguments)
    arguments.update(changes)
    return list(arguments.values())


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"programme": np.zeros(EVENTS, dtype=np.int64)}, "programme: expected"),
        ({"stop": EVENTS + 1}, "window's events lie outside"),
        ({"posting_stop": 10**9}, "window's postings lie outside"),
        ({"mask": np.ones(3, dtype=np.bool_)}, "mask is not the window's length"),
        ({"grant_touched": None}, "grants need pair keys, sums and touched flags together"),
        ({"grant_touched": np.zeros(5, dtype=np.uint64)}, "grant flags are not a bit per"),
        ({"grant_touched": np.zeros(64, dtype=np.bool_)}, "grant touched: expected .*8-byte"),
        ({"recipient": np.zeros(EVENTS - 1, dtype=np.int32)}, "event columns differ"),
        ({"grant_sums": np.zeros(5, dtype=np.int64).data.toreadonly()}, "writable"),
    ],
)
def test_malformed_inputs_are_value_errors(
    ledger: tuple[ReplayColumns, asof_index.Prepared], changes: dict[str, Any], message: str
) -> None:
    """Wrong dtypes, lengths, windows, read-only outputs: a ValueError saying which."""
    columns, prepared = ledger
    with pytest.raises(ValueError, match=message):
        posting_sums.scatter(*scatter_arguments(columns, prepared, **changes))


def test_postings_that_run_past_the_window_are_refused(
    ledger: tuple[ReplayColumns, asof_index.Prepared],
) -> None:
    """Posting counts that claim more postings than the window holds: named, not read."""
    columns, prepared = ledger
    window = prepared.windows[0]
    short = EventWindow(window.start, window.stop, window.posting_start, window.posting_stop - 1)
    with pytest.raises(AssertionError, match="postings run past"):
        posting_sums.scatter(*scatter_arguments(columns, prepared, posting_stop=short.posting_stop))


def test_pairs_are_marked_as_numpy_marks_them(
    ledger: tuple[ReplayColumns, asof_index.Prepared],
) -> None:
    """Every (programme, recipient) of a window flagged, nothing else."""
    columns, prepared = ledger
    events, width = columns.events, prepared.keys.pairs.recipient_codes
    window = prepared.windows[1]
    seen = np.zeros((int(events.programme.max()) + 1) * width, dtype=np.bool_)
    posting_sums.mark_pairs(
        events.programme, events.recipient, window.start, window.stop, width, seen
    )
    expected = np.zeros_like(seen)
    rows = window.events
    expected[events.programme[rows].astype(np.intp) * width + events.recipient[rows]] = True
    assert np.array_equal(seen, expected)


def test_a_recipient_outside_the_pair_table_is_named(
    ledger: tuple[ReplayColumns, asof_index.Prepared],
) -> None:
    """A recipient code at or past the table's width would flag another programme's pair."""
    columns, _ = ledger
    events = columns.events
    victim = int(np.flatnonzero(events.recipient > 0)[0])
    narrow = int(events.recipient[victim])
    seen = np.zeros((int(events.programme.max()) + 1) * narrow, dtype=np.bool_)
    with pytest.raises(AssertionError, match=f"event {victim}.*recipient code is outside"):
        posting_sums.mark_pairs(events.programme, events.recipient, 0, victim + 1, narrow, seen)
