"""The hot replay path: a compact columnar store of every applied event and its numpy engine.

This module is the one entry point for the rest of the read side (projector, rebuild, queries,
CLI) and for any other reader, such as an auditor replaying an export file offline:

    columns: ReplayColumns  -- from the local replay store (`ReplayStore.load()`), or built from
                               any events with `ColumnBuilder` (EventFacts) or the consumer's
                               Columnizer (envelope bytes) or `batch_columns` (an export's Arrow
                               batches); with their `Dictionaries`
    balances(columns, dictionaries.names(), view, today=..., selection=..., as_of=...)
                            -- the rows `grant-ledger balances` shows, from those columns
                               (recipient-year as RecipientYearRows: columns until read)
    totals(...)             -- the same as base tables (code arrays), e.g. to reconcile a read store

A store adds `store_balances` (through its as-of index when one fits) and `rebuild_totals`
(every projection's totals in one pass, the as-of index written beside the columns). The
modules behind this one are the engine's internals.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from projections.domain.asof import CURRENT, AsOf
from projections.domain.balances import Balances
from projections.domain.rows import STORED_VIEWS, BalanceRow, View
from projections.domain.selection import EVERYTHING, Selection
from projections.replay import index_files
from projections.replay.asof_index import AsOfIndex
from projections.replay.builder import ColumnBuilder
from projections.replay.columns import (
    CodeMaps,
    CodeNames,
    Dictionaries,
    ReplayColumns,
    code_maps,
    concatenate,
)
from projections.replay.export_columns import batch_columns
from projections.replay.layout import (
    HASH_PREFIX_HEX_CHARS,
    EventColumns,
    PostingColumns,
    TimelineColumns,
)
from projections.replay.manifest import Manifest, PartitionMark
from projections.replay.questions import question_totals
from projections.replay.questions import rebuild_totals as _rebuild_totals
from projections.replay.range_sums import EVERY_SUM, Wanted
from projections.replay.recipient_year_rows import RecipientYearRows, collector_paused
from projections.replay.scan import CHUNK_EVENTS
from projections.replay.store import ReplayStore, ReplayStoreBusy, ReplayStoreError
from projections.replay.totals import (
    BaseTotals,
    KnownTimeline,
    ProgrammeDayTotals,
    ProgrammeYearTotals,
    RecipientYearTotals,
)
from projections.replay.verify import Verification, check_chain, verify_chain, verify_store
from projections.replay.views import balances_from_totals, recipient_year_rows

# The sums each view is made of: recipient- and programme-years come from the grant bins, the
# agency split from the period bins.
WANTED_BY_VIEW: dict[View | None, Wanted] = {
    View.RECIPIENT_YEAR: Wanted(grants=True, periods=False),
    View.PROGRAMME_YEAR: Wanted(grants=True, periods=False),
    View.AGENCY_YEAR: Wanted(grants=False, periods=True),
}
assert set(WANTED_BY_VIEW) == set(STORED_VIEWS), "every stored view says which sums it needs"

__all__ = [
    "HASH_PREFIX_HEX_CHARS",
    "AsOfIndex",
    "BaseTotals",
    "CodeMaps",
    "CodeNames",
    "ColumnBuilder",
    "Dictionaries",
    "EventColumns",
    "KnownTimeline",
    "Manifest",
    "PartitionMark",
    "PostingColumns",
    "ProgrammeDayTotals",
    "ProgrammeYearTotals",
    "RecipientYearRows",
    "RecipientYearTotals",
    "ReplayColumns",
    "ReplayStore",
    "ReplayStoreBusy",
    "ReplayStoreError",
    "TimelineColumns",
    "Verification",
    "balances",
    "batch_columns",
    "check_chain",
    "code_maps",
    "collector_paused",
    "concatenate",
    "every_view",
    "load_index",
    "rebuild_totals",
    "rebuilt_totals",
    "store_balances",
    "totals",
    "verify_chain",
    "verify_store",
]


def totals(
    columns: ReplayColumns,
    names: CodeNames,
    *,
    as_of: AsOf = CURRENT,
    programme_id: str | None = None,
    index: AsOfIndex | None = None,
    position_sorted: bool | None = None,
    view: View | None = None,
) -> BaseTotals:
    """The base tables of the events a question counts (a programme unknown to `names`: none);
    with a `view`, only the sums that view needs.

    `position_sorted`: whether the events are in increasing position order (None: look);
    `index`: an as-of index of these columns (`load_index`), used when it fits the question.
    """
    programme = None
    if programme_id is not None:
        programme = names.programmes.index(programme_id) if programme_id in names.programmes else -1
    return question_totals(
        columns,
        names,
        as_of=as_of,
        programme=programme,
        index=index,
        position_sorted=columns.is_position_sorted()
        if position_sorted is None
        else position_sorted,
        wanted=WANTED_BY_VIEW.get(view, EVERY_SUM),
    )


def balances(
    columns: ReplayColumns,
    names: CodeNames,
    view: View,
    *,
    today: date,
    selection: Selection = EVERYTHING,
    as_of: AsOf = CURRENT,
    index: AsOfIndex | None = None,
    position_sorted: bool | None = None,
) -> Sequence[BalanceRow]:
    """The rows of one balance view over these columns, sorted by key, as `balances` shows them.

    `today` is the "now" of the programme-year view's agency (at year end, or today). Views
    derived from these (county-year) are the application's to make.
    """
    assert view in STORED_VIEWS, f"{view} is derived from the stored views"
    base = totals(
        columns,
        names,
        as_of=as_of,
        programme_id=selection.programme_id,
        index=index,
        position_sorted=position_sorted,
        view=view,
    )
    if view is View.RECIPIENT_YEAR:
        # The row-heavy view stays columns until read (see recipient_year_rows).
        return recipient_year_rows(base, selection)
    rows = balances_from_totals(base, today=today, as_of=as_of, selection=selection, only=view)
    return list(rows.view(view))


def every_view(
    columns: ReplayColumns,
    names: CodeNames,
    *,
    today: date,
    selection: Selection = EVERYTHING,
    as_of: AsOf = CURRENT,
    index: AsOfIndex | None = None,
    position_sorted: bool | None = None,
    only: View | None = None,
) -> Balances:
    """The rows of all three balance views (of `only` one, the others left empty)."""
    base = totals(
        columns,
        names,
        as_of=as_of,
        programme_id=selection.programme_id,
        index=index,
        position_sorted=position_sorted,
        view=only,
    )
    return balances_from_totals(base, today=today, as_of=as_of, selection=selection, only=only)


def load_index(store: ReplayStore) -> AsOfIndex | None:
    """The store's as-of index, when one was built for its current generation."""
    if not store.manifest.position_sorted:
        return None
    return index_files.load(store.directory, store.manifest.generation)


def store_balances(
    store: ReplayStore,
    view: View,
    *,
    today: date,
    selection: Selection = EVERYTHING,
    as_of: AsOf = CURRENT,
) -> Sequence[BalanceRow]:
    """`balances` over a replay store's columns, through its as-of index when one fits."""
    return balances(
        store.load(),
        store.dictionaries.names(),
        view,
        today=today,
        selection=selection,
        as_of=as_of,
        index=load_index(store),
        position_sorted=store.manifest.position_sorted,
    )


def rebuild_totals(store: ReplayStore, *, chunk_events: int = CHUNK_EVENTS) -> BaseTotals:
    """Every projection's totals from a position-ordered store (compact it first), in one pass;
    the as-of index of this generation is written beside the columns."""
    with rebuilt_totals(store, chunk_events=chunk_events) as result:
        return result


@contextlib.contextmanager
def rebuilt_totals(
    store: ReplayStore,
    *,
    chunk_events: int = CHUNK_EVENTS,
    before_writing: Callable[[], None] = lambda: None,
) -> Iterator[BaseTotals]:
    """`rebuild_totals` for a caller with more to do with the totals (a read store to fill): the
    as-of index is written by a second thread meanwhile (file writes, like SQLite's steps, run
    outside the GIL), and the write is awaited on exit, its failure raised there.

    `before_writing` runs after the pass, before anything derived is written or handed out: it
    raises when the columns turn out not to be trusted (their digests, run beside the pass).
    """
    assert store.manifest.position_sorted, "compact the store before a rebuild"
    result, index = _rebuild_totals(
        store.load(), store.dictionaries.names(), store.manifest.generation, chunk_events
    )
    before_writing()
    if index is None:
        yield result
        return
    with ThreadPoolExecutor(1, thread_name_prefix="asof-index") as writer:
        written = writer.submit(index_files.save, index, store.directory)
        try:
            yield result
        finally:
            written.result()
