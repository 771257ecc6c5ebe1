"""Balance questions: current ones from the read store, as-of ones from the replay store."""

from __future__ import annotations

from datetime import date

from projections.domain.asof import AsOf
from projections.domain.rows import BalanceRow, View
from projections.domain.selection import Selection
from projections.replay import asof_index
from projections.replay.engine import BaseTotals, base_totals, totals_from_sums
from projections.replay.store import ReplayStore
from projections.replay.views import balances_from_totals
from projections.store.read_store import ReadStore
from schemas.calendar import today_in_stockholm
from schemas.errors import InvalidQuery, QueryParameter, Unavailable, UnknownSubject


def stored_balances(read_store: ReadStore, view: View, selection: Selection) -> list[BalanceRow]:
    """Current balances from the read store's views."""
    selection.check_for(view)
    if selection.programme_id is not None and not read_store.has_programme(selection.programme_id):
        raise UnknownSubject(
            QueryParameter.PROGRAMME, selection.programme_id, "no such programme in the read store"
        )
    if selection.recipient is not None and not read_store.has_recipient(selection.recipient):
        raise UnknownSubject(
            QueryParameter.RECIPIENT,
            selection.recipient,
            "no balances for this recipient in the read store",
        )
    return read_store.balances(view, selection)


def replay_balances(
    replay: ReplayStore, view: View, selection: Selection, as_of: AsOf, *, today: date | None = None
) -> list[BalanceRow]:
    """Balances as of a date, an instant and/or a position, from the replay store with numpy."""
    selection.check_for(view)
    _require_complete(replay, as_of)
    programme = _programme_code(replay, selection)
    totals = _replay_totals(replay, as_of, programme)
    balances = balances_from_totals(
        totals, today=today or today_in_stockholm(), as_of=as_of, selection=selection, only=view
    )
    return list(balances.view(view))


def _require_complete(replay: ReplayStore, as_of: AsOf) -> None:
    """Refuse a replay store that does not hold every position 1..N (and the asked one) yet."""
    manifest = replay.manifest
    if manifest.events == 0:
        raise Unavailable(
            "replay store",
            str(replay.directory),
            "is empty: run `grant-ledger project` or `grant-ledger rebuild --from kafka` first",
        )
    if manifest.events != manifest.max_position:
        # A scaled-out instance holds only its partitions; an interrupted catch-up has holes.
        raise Unavailable(
            "replay store",
            str(replay.directory),
            f"does not hold every position 1..{manifest.max_position} (it holds "
            f"{manifest.events}): run `grant-ledger rebuild` to complete it first",
        )
    if as_of.at_position is not None and as_of.at_position > manifest.max_position:
        raise InvalidQuery(
            QueryParameter.AT_POSITION,
            as_of.at_position,
            f"the replay store reaches position {manifest.max_position}; project or rebuild first",
        )


def _programme_code(replay: ReplayStore, selection: Selection) -> int | None:
    """The replay store's code of the selected programme; refuses unknown subjects."""
    dictionaries = replay.dictionaries
    programme: int | None = None
    if selection.programme_id is not None:
        programme = dictionaries.programmes.find(selection.programme_id)
        if programme is None:
            raise UnknownSubject(
                QueryParameter.PROGRAMME, selection.programme_id, "no such programme in the ledger"
            )
    if (
        selection.recipient is not None
        and dictionaries.recipients.find(selection.recipient) is None
    ):
        raise UnknownSubject(
            QueryParameter.RECIPIENT, selection.recipient, "no such recipient in the ledger"
        )
    return programme


def _replay_totals(replay: ReplayStore, as_of: AsOf, programme: int | None) -> BaseTotals:
    """The as-of totals: from the as-of index when it answers, else from every event."""
    manifest = replay.manifest
    dictionaries = replay.dictionaries
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
    return totals
