"""Balance totals for a question (current or as of a date, a moment, a position), and for a rebuild.

A question goes through the as-of index when one fits, else scans the columns; a rebuild makes
the index and the read store's totals in one pass.
"""

from __future__ import annotations

from projections.domain.asof import CURRENT, AsOf
from projections.replay import asof_index
from projections.replay.asof_index import AsOfIndex
from projections.replay.columns import CodeNames, ReplayColumns
from projections.replay.range_sums import EVERY_SUM, Wanted
from projections.replay.scan import CHUNK_EVENTS, scanned_sums
from projections.replay.totals import BaseTotals, known_entries, known_timeline


def question_totals(
    columns: ReplayColumns,
    names: CodeNames,
    *,
    as_of: AsOf = CURRENT,
    programme: int | None = None,
    index: AsOfIndex | None = None,
    position_sorted: bool = True,
    wanted: Wanted = EVERY_SUM,
) -> BaseTotals:
    """Totals of the events the question counts, and the timeline entries it knows of.

    `position_sorted`: the events are in increasing position order (then `at_position` is a
    prefix); an unsorted store answers too, through a mask. `programme`: a programme code.
    """
    sums = None
    if index is not None and position_sorted:
        sums = asof_index.indexed_sums(columns, index, as_of, programme, wanted)
    if sums is None:
        sums = scanned_sums(
            columns,
            names,
            as_of,
            programme,
            timeline=columns.timeline.rows(known_entries(columns.timeline, as_of)),
            position_sorted=position_sorted,
            wanted=wanted,
        )
    timeline = known_timeline(columns.timeline, as_of, programme)
    return BaseTotals(sums, names, timeline, programme=programme)


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
        return BaseTotals(empty, names, timeline), None
    folded = dict(index.keys.periods.folded_before)
    return BaseTotals(index.totals(), names, timeline, folded_before=folded), index
