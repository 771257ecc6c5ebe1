"""The recipient-year answer as columns: the C loop that makes the table from grant bins gives
the numpy path's rows, refuses bins it cannot trust by name, and the columns behave as the
sequence of rows they stand for (iteration, indexing, equality, filters)."""

from typing import Any

import numpy as np
import pytest

from projections.domain.filters import Filters
from projections.domain.rows import RecipientYearRow
from projections.replay import asof_index, posting_sums
from projections.replay.accumulators import BinSums
from projections.replay.columns import CodeNames, ReplayColumns
from projections.replay.counting import Counted
from projections.replay.key_spaces import MEASURE_SLOTS, KeySpace, PairIndex, YearSpan
from projections.replay.range_sums import Accumulators, add_postings
from projections.replay.recipient_year_rows import RecipientYearRows
from projections.replay.totals import (
    GRANT_SLOTS,
    MeasureRows,
    RecipientYearTotals,
    recipient_years,
    recipient_years_of_bins,
)
from schemas.meaning import Measure
from tests.ledgers.vectorised import synthetic_columns

EVENTS = 20_000
CHUNK_EVENTS = 4_096


@pytest.fixture(scope="module")
def ledger() -> tuple[ReplayColumns, CodeNames, asof_index.Prepared]:
    """Synthetic columns, their names and key tables, as a rebuild prepares them."""
    columns, dictionaries, _ = synthetic_columns(EVENTS)
    names = dictionaries.names()
    prepared = asof_index.prepare(columns, names, chunk_events=CHUNK_EVENTS)
    assert prepared is not None
    return columns, names, prepared


def grant_sums(columns: ReplayColumns, prepared: asof_index.Prepared, chunks: slice) -> BinSums:
    """The grant bin sums of these chunks."""
    into = Accumulators.for_keys(prepared.keys)
    for window in prepared.windows[chunks]:
        add_postings(columns.events, columns.postings, Counted(window, None), prepared.keys, into)
    taken = into.take(prepared.keys).grants
    assert taken is not None
    return taken


def assert_same_table(left: RecipientYearTotals, right: RecipientYearTotals) -> None:
    """Column by column equal."""
    for name in RecipientYearTotals.__dataclass_fields__:
        assert np.array_equal(getattr(left, name), getattr(right, name)), name


@pytest.mark.parametrize("chunks", [slice(None), slice(0, 1), slice(2, 3), slice(-1, None)])
def test_the_c_rows_are_the_numpy_rows(
    ledger: tuple[ReplayColumns, CodeNames, asof_index.Prepared], chunks: slice
) -> None:
    """Every event, a first chunk, a middle one, the short last one."""
    columns, names, prepared = ledger
    sums, keys = grant_sums(columns, prepared, chunks), prepared.keys
    expected = recipient_years(MeasureRows.of(sums, keys.grant_space), keys.pairs, names)
    assert len(expected.year) > 0
    assert_same_table(recipient_years_of_bins(sums, keys.grant_space, keys.pairs), expected)


def tiny_space() -> tuple[KeySpace, PairIndex]:
    """Two programmes; pair 0 has no recipient (code 0), pairs 1 and 2 have real ones."""
    years = YearSpan(2020, 3)
    pairs = PairIndex.of_pairs(
        np.array([0, 0, 1], dtype=np.int64), np.array([0, 4, 2], dtype=np.int64), 5, years, True
    )
    return KeySpace(pairs.count, years), pairs


def bin_of(pair: int, year: int, measure: Measure) -> int:
    """A bin of tiny_space."""
    return ((pair * 3) + (year - 2020)) * MEASURE_SLOTS + int(measure)


def rows_of(bins: list[int], sums: list[int]) -> RecipientYearTotals:
    """The C rows of these bins in tiny_space."""
    space, pairs = tiny_space()
    return recipient_years_of_bins(
        BinSums(np.array(bins, dtype=np.int64), np.array(sums, dtype=np.int64)), space, pairs
    )


def test_rows_need_a_real_recipient_and_a_grant_measure() -> None:
    """No row for the programme's own pair or for appropriations alone; a reached slot that sums
    to zero still makes a row (as the numpy path does)."""
    table = rows_of(
        [
            bin_of(0, 2020, Measure.AWARDED),  # recipient code 0: the programme itself
            bin_of(1, 2020, Measure.APPROPRIATED),  # no grant measure
            bin_of(1, 2021, Measure.AWARDED),
            bin_of(1, 2021, Measure.RECOVERED),
            bin_of(2, 2022, Measure.DISBURSED),
        ],
        [7, 9, 100, 3, 0],
    )
    assert table.recipient.tolist() == [4, 2]
    assert table.programme.tolist() == [0, 1]
    assert table.year.tolist() == [2021, 2022]
    assert table.awarded_ore.tolist() == [100, 0]
    assert table.recovered_ore.tolist() == [3, 0]
    assert table.disbursed_ore.tolist() == [0, 0]
    assert table.requested_ore.tolist() == [0, 0]


@pytest.mark.parametrize(
    "bins",
    [
        [bin_of(1, 2021, Measure.RECOVERED), bin_of(1, 2021, Measure.AWARDED)],  # descending
        [bin_of(1, 2021, Measure.AWARDED), bin_of(1, 2021, Measure.AWARDED)],  # repeated
        [-1],
        [bin_of(3, 2020, Measure.AWARDED)],  # a pair past the table
    ],
)
def test_bins_out_of_order_or_outside_the_pairs_are_named(bins: list[int]) -> None:
    """The order the rows' key order rests on is checked, not assumed."""
    with pytest.raises(AssertionError, match="grant bin"):
        rows_of(bins, [1] * len(bins))


def call_grant_rows(**changed: Any) -> int:
    """grant_rows on one valid bin, with some arguments replaced."""
    _, pairs = tiny_space()
    arguments: dict[str, Any] = {
        "bins": np.array([bin_of(1, 2021, Measure.AWARDED)], dtype=np.int64),
        "sums": np.array([5], dtype=np.int64),
        "pair_programme": pairs.programme,
        "pair_recipient": pairs.recipient,
        "year_first": 2020,
        "year_count": 3,
        "measure_slots": MEASURE_SLOTS,
        "grant_slots": GRANT_SLOTS,
        "out": np.zeros(7, dtype=np.int64),
    }
    arguments.update(changed)
    return posting_sums.grant_rows(*arguments.values())


def test_grant_rows_takes_well_formed_input() -> None:
    """The valid call makes its one row."""
    assert call_grant_rows() == 1


@pytest.mark.parametrize(
    ("changed", "message"),
    [
        ({"sums": np.zeros(2, dtype=np.int64)}, "differ in length"),
        ({"pair_recipient": np.zeros(1, dtype=np.int64)}, "pair columns"),
        ({"year_count": 0}, "not positive"),
        ({"out": np.zeros(6, dtype=np.int64)}, "out does not hold"),
        (
            {"grant_slots": np.array([MEASURE_SLOTS], dtype=np.intp), "out": np.zeros(4, "i8")},
            "grant slot outside",
        ),
        ({"bins": np.zeros(1, dtype=np.int32)}, "bins: expected"),
        ({"out": np.zeros(7, dtype=np.int64)[::-1]}, "out: not a contiguous"),
    ],
)
def test_malformed_grant_rows_input_is_a_value_error(changed: dict[str, Any], message: str) -> None:
    """Wrong lengths, widths or dtypes: refused before a bin is read."""
    with pytest.raises(ValueError, match=message):
        call_grant_rows(**changed)


@pytest.fixture(scope="module")
def answer(ledger: tuple[ReplayColumns, CodeNames, asof_index.Prepared]) -> RecipientYearRows:
    """Every event's recipient-year rows as columns."""
    columns, names, prepared = ledger
    sums = grant_sums(columns, prepared, slice(None))
    table = recipient_years_of_bins(sums, prepared.keys.grant_space, prepared.keys.pairs)
    return RecipientYearRows(table, names.programmes, names.recipients)


def test_the_columns_read_as_their_rows(answer: RecipientYearRows) -> None:
    """Iteration, indexing from either end, slices, len and equality agree with the rows."""
    rows = list(answer)
    assert len(rows) == len(answer) > 100
    assert all(isinstance(row, RecipientYearRow) for row in rows)
    assert rows == sorted(rows), "key order"
    assert answer[0] == rows[0] and answer[-1] == rows[-1] and answer[57] == rows[57]
    assert list(answer[10:20]) == rows[10:20] and list(answer[::-7]) == rows[::-7]
    assert answer == rows and rows == answer and answer == tuple(rows)
    assert answer != rows[:-1] and answer != [*rows[:-1], rows[0]]
    with pytest.raises(IndexError):
        answer[len(rows)]
    assert type(rows[0].year) is int and type(rows[0].awarded_ore) is int


@pytest.mark.parametrize("seed", range(6))
def test_filters_on_columns_keep_what_keeps_keeps(answer: RecipientYearRows, seed: int) -> None:
    """Random programmes, recipients and year ranges: the same rows as asking each row."""
    rows = list(answer)
    generator = np.random.default_rng(seed)
    programmes = sorted({row.programme_id for row in rows})
    recipients = sorted({row.recipient for row in rows})
    years = sorted({row.year for row in rows})
    first = int(generator.choice(years))
    filters = Filters(
        programmes=tuple(generator.choice(programmes, 2).tolist()) if seed % 2 else (),
        recipients=tuple(generator.choice(recipients, 40).tolist()) if seed % 3 else (),
        years=((first, first + int(generator.integers(0, 3))), (first + 5, first + 5))
        if seed != 4
        else (),
    )
    kept = answer.kept_by(filters)
    assert list(kept) == [row for row in rows if filters.keeps(row)]


def test_labels_by_code_or_by_row_agree(answer: RecipientYearRows) -> None:
    """Labelling once per code (many rows) or once per row (few) gives the same labels."""
    expected = [f"<{row.recipient}>" for row in answer]
    assert answer.recipient_labels(lambda code: f"<{code}>") == expected
    few = answer[:3]
    assert few.recipient_labels(lambda code: f"<{code}>") == expected[:3]


@pytest.mark.parametrize("slots", [MEASURE_SLOTS, MEASURE_SLOTS + 1, MEASURE_SLOTS + 3])
def test_any_slot_count_gives_the_same_rows(slots: int) -> None:
    """The loop is specialised for the engine's slot count (a division by a constant); any
    other count takes the general loop and lays the same rows out."""
    assert posting_sums.ENGINE_MEASURE_SLOTS == MEASURE_SLOTS
    _, pairs = tiny_space()
    keys = [(1, 0, Measure.AWARDED), (1, 1, Measure.REQUESTED), (1, 1, Measure.RECOVERED)]
    keys += [(2, 2, Measure.DISBURSED), (2, 2, Measure.APPROPRIATED)]
    bins = np.array([((pair * 3) + year) * slots + int(m) for pair, year, m in keys], np.int64)
    out = np.zeros(7 * len(bins), dtype=np.int64)
    rows = posting_sums.grant_rows(
        bins, np.arange(1, len(bins) + 1, dtype=np.int64), pairs.programme, pairs.recipient,
        2020, 3, slots, GRANT_SLOTS, out,
    )  # fmt: skip
    table = out.reshape(7, len(bins))[:, :rows]
    assert table.tolist() == [
        [0, 0, 1],  # programme
        [4, 4, 2],  # recipient
        [2020, 2021, 2022],  # year
        [0, 2, 0],  # requested
        [1, 0, 0],  # awarded
        [0, 0, 4],  # disbursed
        [0, 3, 0],  # recovered
    ]
