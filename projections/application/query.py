"""Balance questions: current ones from the read store, as-of ones from the replay store.

`balances_answer` is the door for the CLI and HTTP: any view (county-year derived from
recipient-year), several values per filter, and the log position the answer reflects.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ledger.infrastructure.store_url import StoreLocation
from projections.domain.asof import AsOf
from projections.domain.counties import county_rows
from projections.domain.filters import Filters
from projections.domain.rows import (
    STORED_VIEWS,
    AgencyYearRow,
    BalanceRow,
    RecipientYearRow,
    View,
)
from projections.domain.selection import Selection
from projections.replay import (
    Dictionaries,
    Manifest,
    RecipientYearRows,
    ReplayStore,
    store_balances,
)
from projections.store.read_store import ReadStore
from schemas.calendar import today_in_stockholm
from schemas.errors import QueryParameter, Unavailable, UnknownSubject

READ_STORE = "read store"
REPLAY_STORE = "replay store"


def ready_manifest(replay: ReplayStore) -> Manifest:
    """The replay store's manifest, once it holds every position 1..N (else a named refusal)."""
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
    return manifest


def replay_balances(
    replay: ReplayStore, view: View, selection: Selection, as_of: AsOf, *, today: date | None = None
) -> Sequence[BalanceRow]:
    """Balances as of a date, an instant and/or a position, from the replay store with numpy."""
    assert view in STORED_VIEWS, f"{view} is derived: ask balances_answer"
    selection.check_for(view)
    manifest = ready_manifest(replay)
    if as_of.at_position is not None and as_of.at_position > manifest.max_position:
        raise Unavailable(
            QueryParameter.AT_POSITION,
            as_of.at_position,
            f"the replay store reaches position {manifest.max_position}; project or rebuild first",
        )
    dictionaries = replay.dictionaries
    if (
        selection.programme_id is not None
        and dictionaries.programmes.find(selection.programme_id) is None
    ):
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
    return store_balances(
        replay, view, today=today or today_in_stockholm(), selection=selection, as_of=as_of
    )


@dataclass(frozen=True, slots=True)
class BalanceAnswer:
    """The rows of one view, and which part of the log they reflect."""

    view: View
    rows: Sequence[BalanceRow]  # recipient-year from the replay store: RecipientYearRows
    position: int  # the highest log position counted (the at_position of a replay question)
    source: str  # READ_STORE or REPLAY_STORE


def balances_answer(
    location: StoreLocation,
    replay_dir: Path,
    view: View,
    filters: Filters,
    as_of: AsOf,
    *,
    today: date | None = None,
) -> BalanceAnswer:
    """Current balances from the read store; as-of ones from the local replay store."""
    if as_of.is_current:
        with ReadStore(location) as read_store:
            return read_store_answer(read_store, view, filters)
    return replay_answer(ReplayStore(replay_dir), view, filters, as_of, today=today)


def read_store_answer(read_store: ReadStore, view: View, filters: Filters) -> BalanceAnswer:
    """A view from the read store, rows and position from one snapshot."""
    filters.check_for(view)
    with read_store.snapshot():
        for programme_id in filters.programmes:
            if not read_store.has_programme(programme_id):
                raise UnknownSubject(
                    QueryParameter.PROGRAMME, programme_id, "no such programme in the read store"
                )
        for recipient in filters.recipients:
            if not read_store.has_recipient(recipient):
                raise UnknownSubject(
                    QueryParameter.RECIPIENT,
                    recipient,
                    "no balances for this recipient in the read store",
                )
        position = read_store.applied_position()
        rows = view_rows(read_store.balances, view, filters)
    return BalanceAnswer(view, rows, position, READ_STORE)


def replay_answer(
    replay: ReplayStore, view: View, filters: Filters, as_of: AsOf, *, today: date | None = None
) -> BalanceAnswer:
    """A view as of a date, an instant and/or a position, from the replay store."""
    filters.check_for(view)
    manifest = ready_manifest(replay)
    require_known(replay.dictionaries, filters, "ledger")

    def fetch(stored_view: View, selection: Selection) -> Sequence[BalanceRow]:
        return replay_balances(replay, stored_view, selection, as_of, today=today)

    rows = view_rows(fetch, view, filters)
    position = manifest.max_position if as_of.at_position is None else as_of.at_position
    return BalanceAnswer(view, rows, position, REPLAY_STORE)


Fetch = Callable[[View, Selection], Sequence[BalanceRow]]


def require_known(dictionaries: Dictionaries, filters: Filters, source: str) -> None:
    """Refuse a programme or recipient the columns' dictionaries do not hold, by name."""
    for programme_id in filters.programmes:
        if dictionaries.programmes.find(programme_id) is None:
            raise UnknownSubject(
                QueryParameter.PROGRAMME, programme_id, f"no such programme in the {source}"
            )
    for recipient in filters.recipients:
        if dictionaries.recipients.find(recipient) is None:
            raise UnknownSubject(
                QueryParameter.RECIPIENT, recipient, f"no such recipient in the {source}"
            )


def view_rows(fetch: Fetch, view: View, filters: Filters) -> Sequence[BalanceRow]:
    """A view's rows: the store narrows what it can, the filters keep the rest; derived views
    are computed from the stored ones. `fetch` answers a stored view (the read store, the
    replay store, an auditor's export)."""
    stored_view = View.RECIPIENT_YEAR if view is View.COUNTY_YEAR else view
    rows: Sequence[BalanceRow]
    if stored_view is View.AGENCY_YEAR and len(filters.programmes) > 1:
        # Agency rows carry no programme: each programme's split is asked for and summed.
        rows = _summed_agency_years(fetch, filters)
    else:
        rows = fetch(stored_view, filters.narrowest_selection(stored_view))
    if isinstance(rows, RecipientYearRows) and view is View.RECIPIENT_YEAR:
        # The engine's columns, in key order: filtered as columns, no row made here.
        return rows if filters.keeps_all else rows.kept_by(filters)
    kept = list(rows) if filters.keeps_all else [row for row in rows if filters.keeps(row)]
    if view is View.COUNTY_YEAR:
        recipient_rows = [row for row in kept if isinstance(row, RecipientYearRow)]
        assert len(recipient_rows) == len(kept), "county-year rolls up recipient-year rows"
        return [row for row in county_rows(recipient_rows) if filters.keeps(row)]
    return sorted(kept)


def _summed_agency_years(fetch: Fetch, filters: Filters) -> list[BalanceRow]:
    sums: dict[tuple[str, int], list[int]] = defaultdict(lambda: [0, 0, 0])
    for programme_id in filters.programmes:
        selection = Selection(programme_id=programme_id, year=filters.single_year)
        for row in fetch(View.AGENCY_YEAR, selection):
            assert isinstance(row, AgencyYearRow), row
            total = sums[(row.agency, row.year)]
            total[0] += row.awarded_ore
            total[1] += row.disbursed_ore
            total[2] += row.recovered_ore
    return [AgencyYearRow(agency, year, *money) for (agency, year), money in sums.items()]
