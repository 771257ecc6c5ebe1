"""The engine's result: sums per key as code arrays, the content of the read store's base tables.

Rows come in key order: recipient-year by (programme id, recipient code, year), programme-year by
(programme id, year), programme-day by (programme id, year, effective day) -- the string order of
the names, which is the order of the read store's primary keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from projections.domain.asof import AsOf
from projections.replay import posting_sums
from projections.replay.accumulators import BinSums
from projections.replay.agency_periods import AgencyPeriods
from projections.replay.columns import CodeNames
from projections.replay.key_spaces import MEASURE_SLOTS, KeySpace, PairIndex, name_ranks
from projections.replay.layout import TimelineColumns
from projections.replay.range_sums import QuestionSums
from schemas.meaning import Measure

I64 = npt.NDArray[np.int64]
Flags = npt.NDArray[np.bool_]

GRANT_MEASURES = (Measure.REQUESTED, Measure.AWARDED, Measure.DISBURSED, Measure.RECOVERED)
PROGRAMME_MEASURES = (Measure.APPROPRIATED, Measure.AWARDED, Measure.DISBURSED, Measure.RECOVERED)
DAY_MEASURES = (Measure.AWARDED, Measure.DISBURSED, Measure.RECOVERED)
# A measure's slot in a bin is its code (key_spaces.MEASURE_SLOT_OF_KIND).
GRANT_SLOTS = np.array(GRANT_MEASURES, dtype=np.intp)
# The C loops divide by the engine's slot count as a constant (any other count works, slower).
assert posting_sums.ENGINE_MEASURE_SLOTS == MEASURE_SLOTS, "posting_sums.c's slots are stale"


@dataclass(frozen=True)
class RecipientYearTotals:
    """Per programme, recipient and grant-year (codes)."""

    programme: I64
    recipient: I64
    year: I64
    requested_ore: I64
    awarded_ore: I64
    disbursed_ore: I64
    recovered_ore: I64


@dataclass(frozen=True)
class ProgrammeYearTotals:
    """Per programme and grant-year, summed over its recipients (appropriations included)."""

    programme: I64
    year: I64
    appropriated_ore: I64
    awarded_ore: I64
    disbursed_ore: I64
    recovered_ore: I64


@dataclass(frozen=True)
class ProgrammeDayTotals:
    """Per programme, grant-year and effective day: the money the agency split attributes.

    Days of one agency period may be folded into a row dated the period's first day.
    """

    programme: I64
    year: I64
    effective_day: I64
    awarded_ore: I64
    disbursed_ore: I64
    recovered_ore: I64


@dataclass(frozen=True)
class KnownTimeline:
    """The agency-timeline entries a question knows of, in position order."""

    position: I64
    effective_day: I64
    programme: I64
    agency: I64


class BaseTotals:
    """Everything the three balance views are made of: each table made from the question's bin
    sums when first asked for (an agency-year question never makes the recipient-year rows)."""

    def __init__(
        self,
        sums: QuestionSums,
        names: CodeNames,
        timeline: KnownTimeline,
        *,
        programme: int | None = None,
        folded_before: dict[int, int] | None = None,
    ) -> None:
        self.sums = sums
        self.names = names
        self.timeline = timeline
        # Only this programme's rows (a code), or every programme's.
        self.programme = programme
        # Programme code -> first effective day kept apart in programme_day (days before it are
        # folded into period rows); only after a rebuild, for the read store's guard.
        self.folded_before = folded_before or {}

    @cached_property
    def _grant_rows(self) -> MeasureRows:
        grants = self.sums.grants
        assert grants is not None, "this question's sums have no grant bins"
        return MeasureRows.of(grants, self.sums.keys.grant_space)

    # Each table is made when first asked for: a recipient-year question never sums the
    # programme-years.
    @cached_property
    def recipient_year(self) -> RecipientYearTotals:
        """Per programme, recipient and grant-year."""
        grants = self.sums.grants
        assert grants is not None, "this question's sums have no grant bins"
        keys = self.sums.keys
        if keys.pairs.in_name_order:
            table = recipient_years_of_bins(grants, keys.grant_space, keys.pairs)
        else:
            table = recipient_years(self._grant_rows, keys.pairs, self.names)
        if self.programme is None:
            return table
        return RecipientYearTotals(*_rows(table, table.programme == self.programme))

    @cached_property
    def programme_year(self) -> ProgrammeYearTotals:
        """Per programme and grant-year."""
        keys = self.sums.keys
        table = programme_years(self._grant_rows, keys.grant_space, keys.pairs, self.names)
        if self.programme is None:
            return table
        return ProgrammeYearTotals(*_rows(table, table.programme == self.programme))

    @cached_property
    def programme_day(self) -> ProgrammeDayTotals:
        """Per programme, grant-year and (period's first) effective day."""
        periods = self.sums.periods
        assert periods is not None, "this question's sums have no period bins"
        keys = self.sums.keys
        days = programme_days(periods, keys.period_space, keys.periods, self.names)
        if self.programme is None:
            return days
        return ProgrammeDayTotals(*_rows(days, days.programme == self.programme))


def known_entries(timeline: TimelineColumns, as_of: AsOf) -> Flags:
    """The timeline entries a question knows of (published by its moment and position)."""
    keep = np.ones(len(timeline), dtype=np.bool_)
    if as_of.at_position is not None:
        keep &= timeline.position <= as_of.at_position
    if as_of.known_at_us is not None:
        keep &= timeline.recorded_at_us <= as_of.known_at_us
    return keep


def known_timeline(timeline: TimelineColumns, as_of: AsOf, programme: int | None) -> KnownTimeline:
    """Timeline entries the question knows of (of one programme, when given), in position order."""
    keep = known_entries(timeline, as_of)
    if programme is not None:
        keep = keep & (timeline.programme == programme)
    known = timeline.rows(keep)
    order = np.argsort(known.position, kind="stable")
    return KnownTimeline(
        known.position[order].astype(np.int64),
        known.effective_day[order].astype(np.int64),
        known.programme[order].astype(np.int64),
        known.agency[order].astype(np.int64),
    )


@dataclass(frozen=True)
class MeasureRows:
    """Bins grouped into rows (unit, year) with one column per measure slot."""

    unit: I64
    year: I64
    sums: I64  # [row, measure slot]
    reached: Flags  # [row, measure slot]: a posting reached it

    @classmethod
    def of(cls, sums: BinSums, space: KeySpace) -> MeasureRows:
        """Rows of sorted bins: bins of one row are adjacent, so no sorting is needed."""
        row_keys, measure = np.divmod(sums.bins, MEASURE_SLOTS)
        starts = np.ones(len(row_keys), dtype=np.bool_)
        starts[1:] = row_keys[1:] != row_keys[:-1]
        row_of_bin = np.cumsum(starts) - 1
        rows = int(row_of_bin[-1]) + 1 if len(row_of_bin) else 0
        table = np.zeros((rows, MEASURE_SLOTS), dtype=np.int64)
        reached = np.zeros((rows, MEASURE_SLOTS), dtype=np.bool_)
        table[row_of_bin, measure] = sums.sums
        reached[row_of_bin, measure] = True
        unit, year_offset = np.divmod(row_keys[starts], space.years.count)
        return cls(unit, year_offset + space.years.first, table, reached)

    def keep(self, rows: Flags) -> MeasureRows:
        """Only these rows."""
        return MeasureRows(self.unit[rows], self.year[rows], self.sums[rows], self.reached[rows])

    def any_reached(self, measures: tuple[Measure, ...]) -> Flags:
        """Rows where a posting reached one of these measures."""
        return np.asarray(self.reached[:, list(measures)].any(axis=1), dtype=np.bool_)


def recipient_years(rows: MeasureRows, pairs: PairIndex, names: CodeNames) -> RecipientYearTotals:
    """Recipient-year rows: real recipients with grant money, in key order."""
    programme, recipient = pairs.programme[rows.unit], pairs.recipient[rows.unit]
    grant = (recipient > 0) & rows.any_reached(GRANT_MEASURES)
    recipient_year = RecipientYearTotals(
        programme[grant],
        recipient[grant],
        rows.year[grant],
        *(rows.sums[grant, measure] for measure in GRANT_MEASURES),
    )
    if not pairs.in_name_order:
        recipient_year = _recipient_rows_in_name_order(recipient_year, names)
    assert _in_key_order(recipient_year, names), "recipient-year rows out of key order"
    return recipient_year


def recipient_years_of_bins(
    sums: BinSums, space: KeySpace, pairs: PairIndex
) -> RecipientYearTotals:
    """Recipient-year rows straight from sorted grant bins, in one C pass: the same rows as
    `recipient_years` (tests/unit/test_posting_sums.py holds them equal), in key order because
    the pairs are numbered in name order and the bins ascend (the C loop asserts they do)."""
    assert pairs.in_name_order, "bin order is key order only for pairs numbered in name order"
    columns = 3 + len(GRANT_MEASURES)
    out = np.empty(columns * len(sums), dtype=np.int64)
    rows = posting_sums.grant_rows(
        sums.bins,
        sums.sums,
        pairs.programme,
        pairs.recipient,
        space.years.first,
        space.years.count,
        MEASURE_SLOTS,
        GRANT_SLOTS,
        out,
    )
    table = out.reshape(columns, len(sums))[:, :rows]
    return RecipientYearTotals(*table)


def programme_years(
    rows: MeasureRows, space: KeySpace, pairs: PairIndex, names: CodeNames
) -> ProgrammeYearTotals:
    """Programme-year rows: the grant rows summed over recipients, in key order."""
    return _programme_years(rows, pairs.programme[rows.unit], space, names)


def _in_key_order(totals: RecipientYearTotals, names: CodeNames) -> bool:
    """Rows strictly ascending by (programme id, recipient code, year), checked in one pass."""
    if len(totals.year) < 2:
        return True
    recipient_rank = name_ranks(names.recipients)[totals.recipient]
    years = totals.year - int(totals.year.min())
    key = name_ranks(names.programmes)[totals.programme] * len(names.recipients)
    key = (key + recipient_rank) * (int(years.max()) + 1) + years
    return bool(np.all(key[1:] > key[:-1]))


def _recipient_rows_in_name_order(
    totals: RecipientYearTotals, names: CodeNames
) -> RecipientYearTotals:
    order = np.lexsort(
        (
            totals.year,
            name_ranks(names.recipients)[totals.recipient],
            name_ranks(names.programmes)[totals.programme],
        )
    )
    return RecipientYearTotals(
        *(getattr(totals, name)[order] for name in RecipientYearTotals.__dataclass_fields__)
    )


def _programme_years(
    rows: MeasureRows, programme: I64, space: KeySpace, names: CodeNames
) -> ProgrammeYearTotals:
    """Rows summed over recipients into (programme in name order, year)."""
    ranks = name_ranks(names.programmes)
    key = ranks[programme] * space.years.count + (rows.year - space.years.first)
    size = max(len(names.programmes), 1) * space.years.count
    # One flat bin per (programme-year, measure slot): numpy's fast 1-D scatter-add.
    flat = (key[:, None] * MEASURE_SLOTS + np.arange(MEASURE_SLOTS)).ravel()
    sums = np.zeros(size * MEASURE_SLOTS, dtype=np.int64)
    np.add.at(sums, flat, rows.sums.ravel())
    reached = np.zeros(size * MEASURE_SLOTS, dtype=np.bool_)
    reached[flat[rows.reached.ravel()]] = True
    by_row = sums.reshape(size, MEASURE_SLOTS)
    present = np.flatnonzero(
        reached.reshape(size, MEASURE_SLOTS)[:, list(PROGRAMME_MEASURES)].any(axis=1)
    )
    rank, year_offset = np.divmod(present, space.years.count)
    code_of_rank = np.argsort(ranks)
    return ProgrammeYearTotals(
        code_of_rank[rank].astype(np.int64),
        year_offset + space.years.first,
        *(by_row[present, measure] for measure in PROGRAMME_MEASURES),
    )


def programme_days(
    sums: BinSums, space: KeySpace, periods: AgencyPeriods, names: CodeNames
) -> ProgrammeDayTotals:
    """Period rows with day-measure money, each dated its period's first day, in key order."""
    rows = MeasureRows.of(sums, space)
    rows = rows.keep(rows.any_reached(DAY_MEASURES))
    programme = periods.programme[rows.unit]
    day = periods.first_day[rows.unit]
    order = np.lexsort((day, rows.year, name_ranks(names.programmes)[programme]))
    return ProgrammeDayTotals(
        programme[order],
        rows.year[order],
        day[order],
        *(rows.sums[order, measure] for measure in DAY_MEASURES),
    )


def _rows(table: object, keep: Flags) -> list[I64]:
    return [getattr(table, name)[keep] for name in type(table).__dataclass_fields__]  # type: ignore[attr-defined]
