"""Balances from the replay columns with numpy: masks for as-of questions, group-by sums.

The result is `BaseTotals`, the same sums the read store's tables hold (recipient-year,
programme-year, programme-day, agency timeline); `projections.replay.views` turns them into the
three balance views.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from projections.domain.asof import CURRENT, AsOf
from projections.domain.kinds import KIND_COUNT, MEASURE_COUNT, MEASURE_OF_KIND
from projections.replay.columns import ReplayColumns, Table
from projections.replay.groupby import DENSE_BINS_MAX, BinSums, DenseSums, merge, pivot, sum_bins
from projections.replay.keyspace import KeySpace
from projections.replay.periods import Periods
from schemas.meaning import Measure

I64 = npt.NDArray[np.int64]
NO_MEASURE = 255

# Kind code -> measure code (NO_MEASURE for kinds without postings).
MEASURE_BY_KIND = np.full(KIND_COUNT, NO_MEASURE, dtype=np.uint8)
for _kind, _measure in MEASURE_OF_KIND.items():
    MEASURE_BY_KIND[_kind] = _measure

GRANT_MEASURES = (Measure.REQUESTED, Measure.AWARDED, Measure.DISBURSED, Measure.RECOVERED)
PROGRAMME_MEASURES = (Measure.APPROPRIATED, Measure.AWARDED, Measure.DISBURSED, Measure.RECOVERED)
DAY_MEASURES = (Measure.AWARDED, Measure.DISBURSED, Measure.RECOVERED)
# Measure code -> column of the programme-day sums (NO_MEASURE: not kept per day).
DAY_COLUMN_BY_MEASURE = np.full(256, NO_MEASURE, dtype=np.uint8)
for _column, _measure in enumerate(DAY_MEASURES):
    DAY_COLUMN_BY_MEASURE[_measure] = _column

RECIPIENT_YEAR_SUMS = ("requested_ore", "awarded_ore", "disbursed_ore", "recovered_ore")
PROGRAMME_YEAR_SUMS = ("appropriated_ore", "awarded_ore", "disbursed_ore", "recovered_ore")
PROGRAMME_DAY_SUMS = ("awarded_ore", "disbursed_ore", "recovered_ore")


@dataclass(frozen=True)
class BaseTotals:
    """Sums per key as code arrays, the content of the read store's base tables.

    recipient_year: programme, recipient, year, requested/awarded/disbursed/recovered_ore
    programme_year: programme, year, appropriated/awarded/disbursed/recovered_ore
    programme_day:  programme, year, effective_day, awarded/disbursed/recovered_ore
    timeline:       position, effective_day, programme, agency (entries known to the question)
    """

    recipient_year: Table
    programme_year: Table
    programme_day: Table
    timeline: Table
    programmes: list[str]
    recipients: list[str]
    agencies: list[str]


@dataclass(frozen=True)
class Spaces:
    """The key spaces of one store: recipient-year and programme-day."""

    recipient_year: KeySpace
    programme_day: KeySpace
    first_day: int


# Room left in an indexed store's key spaces for what later appends bring (new programmes,
# recipients, grant-years), so the index keeps answering until the next rebuild.
PROGRAMME_HEADROOM = 4
RECIPIENT_HEADROOM = 256
YEAR_HEADROOM = 5


def spaces_of(
    columns: ReplayColumns, programme_count: int, recipient_count: int, *, headroom: bool = False
) -> Spaces:
    """Key spaces wide enough for every stored posting (and for later ones, with headroom)."""
    years = columns.postings["year"]
    first_year = int(years.min()) if len(years) else 0
    year_span = int(years.max()) - first_year + 1 if len(years) else 1
    days = columns.events["effective_day"]
    first_day = int(days.min()) if len(days) else 0
    day_span = int(days.max()) - first_day + 1 if len(days) else 1
    programmes, recipients = max(programme_count, 1), max(recipient_count, 1)
    ry = KeySpace(programmes, recipients, MEASURE_COUNT, first_year, year_span)
    if headroom:
        ry = KeySpace(
            programmes + PROGRAMME_HEADROOM,
            recipients + RECIPIENT_HEADROOM,
            MEASURE_COUNT,
            first_year - YEAR_HEADROOM,
            year_span + 2 * YEAR_HEADROOM,
        )
    # The day space shares the recipient-year space's years (headroom included).
    return Spaces(
        ry, KeySpace(programmes, day_span, len(DAY_MEASURES), ry.first_year, ry.years), first_day
    )


@dataclass(frozen=True)
class Counted:
    """The events (and their postings) a question counts: a range and an optional mask."""

    event_start: int
    event_stop: int
    posting_start: int
    posting_stop: int
    mask: npt.NDArray[np.bool_] | None


def counted_events(
    columns: ReplayColumns,
    as_of: AsOf,
    programme: int | None,
    *,
    position_sorted: bool,
    event_start: int = 0,
    event_stop: int | None = None,
    posting_start: int | None = None,
) -> Counted:
    """Which events of [event_start, event_stop) count, as cheaply as the store's order allows."""
    events = columns.events
    positions = events["position"]
    stop = len(positions) if event_stop is None else event_stop
    counts = events["posting_count"]
    if posting_start is None:
        posting_start = int(counts[:event_start].sum(dtype=np.int64))
    if as_of.at_position is not None and position_sorted:
        # Sorted by position: "positions up to N" is a prefix, no mask needed.
        stop = event_start + int(
            np.searchsorted(positions[event_start:stop], as_of.at_position, side="right")
        )
    posting_stop = posting_start + int(counts[event_start:stop].sum(dtype=np.int64))
    mask: npt.NDArray[np.bool_] | None = None

    def narrow(condition: npt.NDArray[np.bool_]) -> None:
        nonlocal mask
        mask = condition if mask is None else mask & condition

    window = slice(event_start, stop)
    if as_of.at_position is not None and not position_sorted:
        narrow(positions[window] <= as_of.at_position)
    if as_of.as_of_day is not None:
        narrow(events["effective_day"][window] <= as_of.as_of_day)
    if as_of.known_at_us is not None:
        narrow(events["recorded_at_us"][window] <= as_of.known_at_us)
    if programme is not None:
        narrow(events["programme"][window] == programme)
    return Counted(event_start, stop, posting_start, posting_stop, mask)


@dataclass(frozen=True)
class PartialSums:
    """Bin sums of some events: recipient-year bins, real-day bins, and agency-period bins."""

    recipient_year: BinSums
    programme_day: BinSums
    periods: BinSums | None = None


EMPTY = BinSums(
    np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
)


@dataclass
class Scratch:
    """Dense accumulators reused across the group-bys of one pass (fresh memory is slow)."""

    recipient_year: DenseSums | None = None
    periods: DenseSums | None = None

    def for_space(self, name: str, size: int) -> DenseSums | None:
        """The accumulator of a space, made on first use; None when too large for dense bins."""
        if size > DENSE_BINS_MAX:
            return None
        current: DenseSums | None = getattr(self, name)
        if current is None or current.size != size:
            current = DenseSums(size)
            setattr(self, name, current)
        return current


def _sum(bins: npt.NDArray[Any], amounts: I64, size: int, accumulator: DenseSums | None) -> BinSums:
    if accumulator is None:
        return sum_bins(bins, amounts, size=size)
    accumulator.add(bins, amounts)
    return accumulator.take()


def sum_counted(
    columns: ReplayColumns,
    counted: Counted,
    spaces: Spaces,
    *,
    with_days: bool = True,
    day_totals: DenseSums | None = None,
    periods: Periods | None = None,
    scratch: Scratch | None = None,
) -> PartialSums:
    """Group-by sums of the counted events' postings.

    Recipient-year bins always; real-day bins returned (`with_days`) or added to `day_totals`;
    agency-period bins when `periods` are given.
    """
    scratch = scratch or Scratch()
    events = columns.events
    window = slice(counted.event_start, counted.event_stop)
    # np.repeat converts its counts to intp on every call: convert once, repeat a few times.
    counts = events["posting_count"][window].astype(np.intp)
    years = columns.postings["year"][counted.posting_start : counted.posting_stop]
    amounts = columns.postings["amount_ore"][counted.posting_start : counted.posting_stop]
    mask = counted.mask
    if mask is not None:
        posting_mask = np.repeat(mask, counts)
        years = years[posting_mask]
        amounts = amounts[posting_mask]
        counts[~mask] = 0
    programmes = events["programme"][window]
    measures = MEASURE_BY_KIND[events["kind"][window]]

    ry_space = spaces.recipient_year
    ry_keys = ry_space.event_keys(programmes, events["recipient"][window], measures, None)
    ry_bins = ry_space.posting_bins(ry_keys, counts, years)
    del ry_keys
    recipient_year = _sum(
        ry_bins, amounts, ry_space.size, scratch.for_space("recipient_year", ry_space.size)
    )
    del ry_bins

    day_columns = DAY_COLUMN_BY_MEASURE[measures]
    is_day_measure = day_columns != NO_MEASURE
    days = events["effective_day"][window]
    programme_day = EMPTY
    if with_days or day_totals is not None:
        day_space = spaces.programme_day
        day_keys = day_space.event_keys(
            programmes, days.astype(np.int64) - spaces.first_day, day_columns, is_day_measure
        )
        day_bins = day_space.posting_bins(day_keys, counts, years)
        del day_keys
        if day_totals is not None:
            day_totals.add(day_bins, amounts)
        else:
            programme_day = _without_overflow(
                sum_bins(day_bins, amounts, size=day_space.size), day_space
            )
    period_sums = None
    if periods is not None:
        period_space = periods.space
        period_keys = period_space.event_keys(
            programmes, periods.of_events(programmes, days), day_columns, is_day_measure
        )
        period_bins = period_space.posting_bins(period_keys, counts, years)
        accumulator = scratch.for_space("periods", period_space.size)
        period_sums = _without_overflow(
            _sum(period_bins, amounts, period_space.size, accumulator), period_space
        )
    return PartialSums(recipient_year, programme_day, period_sums)


def _without_overflow(sums: BinSums, space: KeySpace) -> BinSums:
    """Drop the overflow bins (postings of measures the space does not count)."""
    kept = sums.bins < space.event_key_count * space.years
    return BinSums(sums.bins[kept], sums.sums[kept], sums.counts[kept])


def merge_partials(parts: list[PartialSums]) -> PartialSums:
    """Add partial sums of several event ranges."""
    with_periods = [part.periods for part in parts if part.periods is not None]
    return PartialSums(
        merge([part.recipient_year for part in parts]),
        merge([part.programme_day for part in parts]),
        merge(with_periods) if with_periods else None,
    )


def _recipient_tables_dense(sums: BinSums, space: KeySpace) -> tuple[Table, Table]:
    """Recipient-year and programme-year tables by reshaping dense bins (no sorting)."""
    inside = sums.bins < space.event_key_count * space.years
    pairs = space.outer * space.inner
    dense = np.zeros(pairs * space.measures * space.years, dtype=np.int64)
    touched = np.zeros(len(dense), dtype=np.bool_)
    dense[sums.bins[inside]] = sums.sums[inside]
    touched[sums.bins[inside]] = sums.counts[inside] > 0
    # bins are (pair, measure, year): rows (pair, year) with one column per measure.
    by_row = dense.reshape(pairs, space.measures, space.years).transpose(0, 2, 1)
    reached = touched.reshape(pairs, space.measures, space.years).transpose(0, 2, 1)
    rows = np.flatnonzero(reached.any(axis=2).ravel())
    row_sums = by_row.reshape(-1, space.measures)[rows]
    row_reached = reached.reshape(-1, space.measures)[rows]
    pair, year_offset = np.divmod(rows, space.years)
    programmes, recipients = np.divmod(pair, space.inner)
    recipient_year = _recipient_year_table(
        programmes, recipients, year_offset + space.first_year, row_sums, row_reached
    )
    # Programme-year: summed over recipients.
    shape = (space.outer, space.inner, space.years, space.measures)
    programme_sums = by_row.reshape(shape).sum(axis=1)
    programme_reached: npt.NDArray[np.bool_] = np.asarray(reached.reshape(shape).any(axis=1))
    present = programme_reached[..., list(PROGRAMME_MEASURES)].any(axis=2)
    programme_codes, year_offsets = np.nonzero(present)
    programme_year: Table = {
        "programme": programme_codes.astype(np.int64),
        "year": year_offsets.astype(np.int64) + space.first_year,
    }
    for measure, name in zip(PROGRAMME_MEASURES, PROGRAMME_YEAR_SUMS, strict=True):
        programme_year[name] = programme_sums[programme_codes, year_offsets, measure]
    return recipient_year, programme_year


def _recipient_year_table(
    programmes: I64, recipients: I64, years: I64, sums: I64, reached: npt.NDArray[np.bool_]
) -> Table:
    """The recipient-year rows among (programme, recipient, year) groups: real recipients with
    grant money touched (recipient code 0 carries programme-level amounts)."""
    grant = (recipients > 0) & reached[:, list(GRANT_MEASURES)].any(axis=1)
    table: Table = {
        "programme": programmes[grant],
        "recipient": recipients[grant],
        "year": years[grant],
    }
    for measure, name in zip(GRANT_MEASURES, RECIPIENT_YEAR_SUMS, strict=True):
        table[name] = sums[grant, measure]
    return table


def _recipient_tables_sparse(sums: BinSums, ry_space: KeySpace) -> tuple[Table, Table]:
    """Recipient-year and programme-year tables of a key space too large for dense arrays."""
    inside = sums.bins < ry_space.event_key_count * ry_space.years
    bins = sums.bins[inside]
    programme_codes, recipient_codes, measures, years = ry_space.decode(bins)
    pair_year = (programme_codes * ry_space.inner + recipient_codes) * ry_space.years + (
        years - ry_space.first_year
    )
    keys, table, reached = pivot(
        pair_year, measures, sums.sums[inside], sums.counts[inside], MEASURE_COUNT
    )
    pair, year_offset = np.divmod(keys, ry_space.years)
    key_programmes, key_recipients = np.divmod(pair, ry_space.inner)
    recipient_year = _recipient_year_table(
        key_programmes, key_recipients, year_offset + ry_space.first_year, table, reached
    )
    # Programme-year: the recipient-year groups added up over recipients, per measure.
    py_keys, index = np.unique(key_programmes * ry_space.years + year_offset, return_inverse=True)
    py_sums = np.zeros((len(py_keys), MEASURE_COUNT), dtype=np.int64)
    py_reached = np.zeros((len(py_keys), MEASURE_COUNT), dtype=np.bool_)
    np.add.at(py_sums, index, table)
    np.logical_or.at(py_reached, index, reached)
    present = py_reached[:, list(PROGRAMME_MEASURES)].any(axis=1)
    py_programme, py_year_offset = np.divmod(py_keys[present], ry_space.years)
    programme_year: Table = {
        "programme": py_programme,
        "year": py_year_offset + ry_space.first_year,
    }
    for measure, name in zip(PROGRAMME_MEASURES, PROGRAMME_YEAR_SUMS, strict=True):
        programme_year[name] = py_sums[present, measure]
    return recipient_year, programme_year


def totals_from_sums(
    sums: PartialSums,
    spaces: Spaces,
    *,
    timeline: Table,
    as_of: AsOf,
    programme: int | None,
    names: tuple[list[str], list[str], list[str]],
) -> BaseTotals:
    """Bin sums turned into the base tables."""
    ry_space = spaces.recipient_year
    if ry_space.size <= DENSE_BINS_MAX:
        recipient_year, programme_year = _recipient_tables_dense(sums.recipient_year, ry_space)
    else:
        recipient_year, programme_year = _recipient_tables_sparse(sums.recipient_year, ry_space)

    day_space = spaces.programme_day
    inside = sums.programme_day.bins < day_space.event_key_count * day_space.years
    day_programmes, day_offsets, day_columns, day_years = day_space.decode(
        sums.programme_day.bins[inside]
    )
    day_keys = (day_programmes * day_space.inner + day_offsets) * day_space.years + (
        day_years - day_space.first_year
    )
    keys, table, _ = pivot(
        day_keys,
        day_columns,
        sums.programme_day.sums[inside],
        sums.programme_day.counts[inside],
        len(DAY_MEASURES),
    )
    programme_day_key, year_offset = np.divmod(keys, day_space.years)
    day_programme, day_offset = np.divmod(programme_day_key, day_space.inner)
    programme_day: Table = {
        "programme": day_programme,
        "year": year_offset + day_space.first_year,
        "effective_day": day_offset + spaces.first_day,
    }
    for column, name in enumerate(PROGRAMME_DAY_SUMS):
        programme_day[name] = table[:, column]

    programmes, recipients, agencies = names
    return BaseTotals(
        recipient_year,
        programme_year,
        programme_day,
        known_timeline(timeline, as_of, programme),
        programmes,
        recipients,
        agencies,
    )


Names = tuple[list[str], list[str], list[str]]  # programmes, recipients, agencies by code


def base_totals(
    columns: ReplayColumns,
    names: Names,
    *,
    as_of: AsOf = CURRENT,
    programme: int | None = None,
    position_sorted: bool,
) -> BaseTotals:
    """Group-by sums of the counted postings, and the known agency timeline.

    `position_sorted`: the events are in increasing position order (then `at_position` is a
    prefix); an unsorted store answers too, through a mask.
    """
    spaces = spaces_of(columns, len(names[0]), len(names[1]))
    counted = counted_events(columns, as_of, programme, position_sorted=position_sorted)
    sums = sum_counted(columns, counted, spaces)
    return totals_from_sums(
        sums, spaces, timeline=columns.timeline, as_of=as_of, programme=programme, names=names
    )


def known_timeline(timeline: Table, as_of: AsOf, programme: int | None) -> Table:
    """Timeline entries the question knows of, in position order."""
    keep = np.ones(len(timeline["position"]), dtype=np.bool_)
    if as_of.at_position is not None:
        keep &= timeline["position"] <= as_of.at_position
    if as_of.known_at_us is not None:
        keep &= timeline["recorded_at_us"] <= as_of.known_at_us
    if programme is not None:
        keep &= timeline["programme"] == programme
    positions = np.asarray(timeline["position"])[keep]
    order = np.argsort(positions, kind="stable")
    return {
        name: np.asarray(timeline[name])[keep][order]
        for name in ("position", "effective_day", "programme", "agency")
    }
