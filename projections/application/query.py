"""Balance questions: current ones from the read store, as-of ones from the replay store."""

from __future__ import annotations

from datetime import UTC, date, datetime

from ledger.domain.errors import LedgerError
from projections.domain.asof import AsOf
from projections.domain.rows import BalanceRow, View
from projections.domain.selection import Selection
from projections.replay import asof_index
from projections.replay.engine import base_totals, totals_from_sums
from projections.replay.store import ReplayStore
from projections.replay.views import balances_from_totals
from projections.store.read_store import ReadStore


def today_utc() -> date:
    """Today's UTC date: the 'now' of the read store's views (SQLite's date('now'))."""
    return datetime.now(tz=UTC).date()


def stored_balances(read_store: ReadStore, view: View, selection: Selection) -> list[BalanceRow]:
    """Current balances from the read store's views."""
    selection.check_for(view)
    if selection.programme_id is not None and not read_store.has_programme(selection.programme_id):
        raise LedgerError(
            "--programme", selection.programme_id, "no such programme in the read store"
        )
    if selection.recipient is not None and not read_store.has_recipient(selection.recipient):
        raise LedgerError(
            "--recipient", selection.recipient, "no balances for this recipient in the read store"
        )
    return read_store.balances(view, selection)


def replay_balances(
    replay: ReplayStore, view: View, selection: Selection, as_of: AsOf, *, today: date | None = None
) -> list[BalanceRow]:
    """Balances as of a date, an instant and/or a position, from the replay store with numpy."""
    selection.check_for(view)
    manifest = replay.manifest
    if manifest.events == 0:
        raise LedgerError(
            "replay store",
            str(replay.directory),
            "is empty: run `grant-ledger project` or `grant-ledger rebuild --from kafka` first",
        )
    if manifest.events != manifest.max_position:
        # A scaled-out instance holds only its partitions; an interrupted catch-up has holes.
        raise LedgerError(
            "replay store",
            str(replay.directory),
            f"does not hold every position 1..{manifest.max_position} (it holds "
            f"{manifest.events}): run `grant-ledger rebuild` to complete it first",
        )
    if as_of.at_position is not None and as_of.at_position > manifest.max_position:
        raise LedgerError(
            "--at-position",
            as_of.at_position,
            f"the replay store reaches position {manifest.max_position}; project or rebuild first",
        )
    dictionaries = replay.dictionaries
    programme: int | None = None
    if selection.programme_id is not None:
        programme = dictionaries.programmes.find(selection.programme_id)
        if programme is None:
            raise LedgerError(
                "--programme", selection.programme_id, "no such programme in the ledger"
            )
    if (
        selection.recipient is not None
        and dictionaries.recipients.find(selection.recipient) is None
    ):
        raise LedgerError("--recipient", selection.recipient, "no such recipient in the ledger")
    columns = replay.load()
    lists = (
        dictionaries.programmes.values,
        dictionaries.recipients.values,
        dictionaries.agencies.values,
    )
    totals = None
    index = (
        asof_index.load(replay.directory, manifest.generation) if manifest.position_sorted else None
    )
    if index is not None:
        sums = asof_index.indexed_sums(
            columns, index, as_of, programme, stored_events=manifest.events
        )
        if sums is not None:
            totals = totals_from_sums(
                sums,
                index.spaces,
                timeline=columns.timeline,
                as_of=as_of,
                programme=programme,
                names=lists,
            )
    if totals is None:
        totals = base_totals(
            columns,
            lists,
            as_of=as_of,
            programme=programme,
            position_sorted=manifest.position_sorted,
        )
    balances = balances_from_totals(
        totals, today=today or today_utc(), as_of=as_of, selection=selection, only=view
    )
    return list(balances.view(view))
