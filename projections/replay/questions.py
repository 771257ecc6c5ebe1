"""Balance totals for a question (current or as of a date, a moment, a position), and for a rebuild.

A question goes through the as-of index when one fits, else scans the columns; a rebuild makes
the index and the read store's totals in one pass.
"""

from __future__ import annotations

from projections.domain.asof import CURRENT, AsOf
from projections.replay import asof_index
from projections.replay.asof_index import AsOfIndex
from projections.replay.columns import CodeNames, ReplayColumns
from projections.replay.scan import CHUNK_EVENTS, QuestionSums, scanned_sums
from projections.replay.totals import (
    BaseTotals,
    KnownTimeline,
    known_entries,
    known_timeline,
    only_programme,
    programme_days,
    recipient_and_programme_years,
)


def question_totals(
    columns: ReplayColumns,
    names: CodeNames,
    *,
    as_of: AsOf = CURRENT,
    programme: int | None = None,
    index: AsOfIndex | None = None,
    position_sorted: bool = True,
) -> BaseTotals:
    """Totals of the events the question counts, and the timeline entries it knows of.

    `position_sorted`: the events are in increasing position order (then `at_position` is a
    prefix); an unsorted store answers too, through a mask. `programme`: a programme code.
    """
    sums = None
    if index is not None and position_sorted:
        sums = asof_index.indexed_sums(columns, index, as_of, programme)
    if sums is None:
        sums = scanned_sums(
            columns,
            names,
            as_of,
            programme,
            timeline=columns.timeline.rows(known_entries(columns.timeline, as_of)),
            position_sorted=position_sorted,
        )
    totals = totals_of(sums, names, known_timeline(columns.timeline, as_of, programme))
    return totals if programme is None else only_programme(totals, programme)


def rebuild_totals(
    columns: ReplayColumns, names: CodeNames, generation: int, chunk_events: int = CHUNK_EVENTS
) -> tuple[BaseTotals, AsOfIndex | None]:
    """Every event's totals (days folded per agency period) and the as-of index, in one pass
    over a position-ordered store."""
    index = asof_index.build(columns, names, generation, chunk_events=chunk_events)
    timeline = known_timeline(columns.timeline, CURRENT, None)
    if index is None:
        empty = scanned_sums(
            columns, names, CURRENT, None, timeline=columns.timeline, position_sorted=True
        )
        return totals_of(empty, names, timeline), None
    return totals_of(index.totals(), names, timeline, folded=True), index


def totals_of(
    sums: QuestionSums, names: CodeNames, timeline: KnownTimeline, *, folded: bool = False
) -> BaseTotals:
    """Bin sums turned into the base tables."""
    keys = sums.keys
    recipient_year, programme_year = recipient_and_programme_years(
        sums.grants, keys.grant_space, keys.pairs, names
    )
    return BaseTotals(
        recipient_year,
        programme_year,
        programme_days(sums.periods, keys.period_space, keys.periods, names),
        timeline,
        names,
        dict(keys.periods.folded_before) if folded else {},
    )
