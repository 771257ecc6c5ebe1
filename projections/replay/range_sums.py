"""The hot loop: the postings of counted events, summed into grant bins and period bins.

Per event: its pair's and its period's key parts (two table lookups) plus its measure; both
repeated once per posting in one call, widened by the posting's year, scatter-added. Everything
else the engine does is per chunk or per result row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from projections.replay import posting_sums
from projections.replay.accumulators import BinSums, DenseSums, SparseSums, accumulator_for
from projections.replay.agency_periods import AgencyPeriods
from projections.replay.counting import Counted
from projections.replay.key_spaces import (
    MEASURE_SLOT_OF_KIND,
    MEASURE_SLOTS,
    UNKNOWN_KEY,
    Keys,
    KeySpace,
    PairIndex,
    YearSpan,
)
from projections.replay.layout import EventColumns, PostingColumns


@dataclass(frozen=True)
class KeyTables:
    """What turns an event into its key parts, for one year span."""

    pairs: PairIndex
    periods: AgencyPeriods
    years: YearSpan
    # True when events may lie outside the period table's days (appended after an index).
    clamp_days: bool = False

    @property
    def grant_space(self) -> KeySpace:
        """(pair, year, measure) bins."""
        return KeySpace(self.pairs.count, self.years)

    @property
    def period_space(self) -> KeySpace:
        """(period, year, measure) bins."""
        return KeySpace(self.periods.count, self.years)


@dataclass(frozen=True)
class Wanted:
    """Which sums a question needs: grant bins (recipient- and programme-years), period bins
    (the agency split), or both."""

    grants: bool = True
    periods: bool = True


EVERY_SUM = Wanted()


@dataclass(frozen=True)
class ColumnWords:
    """An as-of index's reached bins as a bitmap with the count before each word: the dense
    accumulator then holds one sum per index column, not per bin of the key space."""

    words: npt.NDArray[np.uint64]
    word_columns: npt.NDArray[np.int64]


@dataclass
class Accumulators:
    """One dense accumulator per key space wanted, reused across the ranges of a pass."""

    grants: DenseSums | SparseSums | None
    periods: DenseSums | SparseSums | None
    # Set: the dense accumulators are over these index columns (every bin must be one of them).
    grant_columns: ColumnWords | None = None
    period_columns: ColumnWords | None = None

    @classmethod
    def for_keys(cls, keys: KeyTables, wanted: Wanted = EVERY_SUM) -> Accumulators:
        """Sized for these key tables."""
        return cls(
            accumulator_for(keys.grant_space.size) if wanted.grants else None,
            accumulator_for(keys.period_space.size) if wanted.periods else None,
        )

    def take(self, keys: KeyTables) -> QuestionSums:
        """What was accumulated; the accumulators are empty again afterwards."""
        return QuestionSums(
            keys,
            None if self.grants is None else self.grants.take(),
            None if self.periods is None else self.periods.take(),
        )


@dataclass(frozen=True)
class QuestionSums:
    """What a pass counted: grant bins and period bins (None: not wanted), and their key tables."""

    keys: KeyTables
    grants: BinSums | None
    periods: BinSums | None


def add_postings(
    events: EventColumns,
    postings: PostingColumns,
    counted: Counted,
    keys: KeyTables,
    into: Accumulators,
) -> None:
    """Add the counted events' postings to the grant and period accumulators."""
    wanted = [a for a in (into.grants, into.periods) if a is not None]
    if all(isinstance(accumulator, DenseSums) for accumulator in wanted):
        _scatter_dense(events, postings, counted, keys, into)
    else:
        assert into.grant_columns is None and into.period_columns is None, "columns are dense"
        _add_postings_numpy(events, postings, counted, keys, into)


def _scatter_dense(
    events: EventColumns,
    postings: PostingColumns,
    counted: Counted,
    keys: KeyTables,
    into: Accumulators,
) -> None:
    """The hot path: the C loop (posting_sums.c) adds into the dense accumulators."""
    grants, periods = into.grants, into.periods
    assert isinstance(grants, DenseSums | None) and isinstance(periods, DenseSums | None)
    window = counted.window
    try:
        posting_sums.scatter(
            events.programme,
            events.recipient,
            events.effective_day,
            events.kind,
            events.posting_count,
            postings.year,
            postings.amount_ore,
            window.start,
            window.stop,
            window.posting_start,
            window.posting_stop,
            counted.mask,
            MEASURE_SLOT_OF_KIND,
            None if grants is None else keys.pairs.lookup,
            keys.pairs.recipient_codes,
            None if periods is None else keys.periods.lookup,
            keys.periods.days.first,
            keys.periods.days.count,
            keys.clamp_days,
            keys.years.first,
            keys.years.count,
            MEASURE_SLOTS,
            None if grants is None else grants.sums,
            None if grants is None else grants.touched,
            None if periods is None else periods.sums,
            None if periods is None else periods.touched,
            *_words_of(into.grant_columns),
            *_words_of(into.period_columns),
        )
    except AssertionError:
        # The events before the bad one were added: nothing of this pass may be read.
        for accumulator in (grants, periods):
            if accumulator is not None:
                accumulator.clear()
        raise


def _words_of(columns: ColumnWords | None) -> tuple[Any, Any]:
    return (None, None) if columns is None else (columns.words, columns.word_columns)


def _add_postings_numpy(
    events: EventColumns,
    postings: PostingColumns,
    counted: Counted,
    keys: KeyTables,
    into: Accumulators,
) -> None:
    """Whole-chunk numpy for key spaces too large for dense accumulators (sparse sums)."""
    rows, posting_rows = counted.window.events, counted.window.postings
    programme = events.programme[rows]
    recipient = events.recipient[rows]
    day = events.effective_day[rows]
    kind = events.kind[rows]
    # np.repeat converts its counts to intp on every call: convert once.
    counts = events.posting_count[rows].astype(np.intp)
    years = postings.year[posting_rows]
    amounts = postings.amount_ore[posting_rows]
    if counted.mask is not None:
        mask = counted.mask
        posting_mask = np.repeat(mask, counts)
        years, amounts = years[posting_mask], amounts[posting_mask]
        programme, recipient, day, kind, counts = (
            programme[mask],
            recipient[mask],
            day[mask],
            kind[mask],
            counts[mask],
        )
    if len(amounts) == 0:
        return
    measure = MEASURE_SLOT_OF_KIND[kind]
    event_keys = []
    if into.grants is not None:
        event_keys.append(_pair_keys(keys.pairs, programme, recipient) + measure)
    if into.periods is not None:
        periods = keys.periods.keys(programme.astype(np.intp), day, clamp=keys.clamp_days)
        event_keys.append(periods + measure)
    # One repeat for both key columns: its cost is per element, not per byte.
    repeated = np.repeat(np.column_stack(event_keys), counts, axis=0)
    year_part = years.astype(np.intp)
    year_part *= MEASURE_SLOTS
    wanted = [a for a in (into.grants, into.periods) if a is not None]
    for column, accumulator in enumerate(wanted):
        accumulator.add(repeated[:, column] + year_part, amounts)


def _pair_keys(pairs: PairIndex, programme: npt.NDArray[Any], recipient: npt.NDArray[Any]) -> Keys:
    flat = programme.astype(np.intp)
    flat *= pairs.recipient_codes
    flat += recipient
    keys: Keys = pairs.lookup[flat]
    # Unknown pairs have hugely negative keys; numpy would wrap them around silently.
    assert int(keys.min()) > UNKNOWN_KEY // 2, "an event's pair is missing from the key table"
    return keys
