"""Balance questions: current ones from the read store, as-of ones from the replay store."""

from __future__ import annotations

from datetime import UTC, date, datetime

from ledger.domain.errors import LedgerError
from projections.domain.asof import AsOf
from projections.domain.rows import BalanceRow, View
from projections.domain.selection import Selection
from projections.replay import ReplayStore, store_balances
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
    if (
        selection.programme_id is not None
        and dictionaries.programmes.find(selection.programme_id) is None
    ):
        raise LedgerError("--programme", selection.programme_id, "no such programme in the ledger")
    if (
        selection.recipient is not None
        and dictionaries.recipients.find(selection.recipient) is None
    ):
        raise LedgerError("--recipient", selection.recipient, "no such recipient in the ledger")
    return store_balances(
        replay, view, today=today or today_utc(), selection=selection, as_of=as_of
    )
