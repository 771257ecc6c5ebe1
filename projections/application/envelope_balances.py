"""Balances of envelopes read from anywhere (the store, a topic, an export), by the projector's
hot replay engine: the same columns and group-bys as `rebuild`, so the same rows as `balances`."""

from __future__ import annotations

from datetime import date

from projections.consumer.columnizer import Columnizer
from projections.domain.asof import CURRENT, AsOf
from projections.domain.balances import Balances
from projections.domain.selection import EVERYTHING, Selection
from projections.replay.columns import Dictionaries, ReplayColumns
from projections.replay.engine import base_totals
from projections.replay.views import balances_from_totals


class EnvelopeBalances:
    """Collects envelopes (the topic's bytes), then answers balance questions over them."""

    def __init__(self) -> None:
        self._dictionaries = Dictionaries()
        self._columnizer = Columnizer(self._dictionaries)
        self.add = self._columnizer.add

    def __len__(self) -> int:
        return len(self._columnizer)

    def balances(
        self, *, today: date, as_of: AsOf = CURRENT, selection: Selection = EVERYTHING
    ) -> Balances:
        """Every view of what was added, as `balances` shows them (all three views)."""
        columns = self._columnizer.build().in_position_order()
        return column_balances(
            columns, self._dictionaries, today=today, as_of=as_of, selection=selection
        )


def column_balances(
    columns: ReplayColumns,
    dictionaries: Dictionaries,
    *,
    today: date,
    as_of: AsOf = CURRENT,
    selection: Selection = EVERYTHING,
) -> Balances:
    """Every view of position-ordered columns, by the engine (a programme they lack: none)."""
    names = (
        dictionaries.programmes.values,
        dictionaries.recipients.values,
        dictionaries.agencies.values,
    )
    programme = None
    if selection.programme_id is not None:
        programme = dictionaries.programmes.find(selection.programme_id)
        if programme is None:
            return Balances()
    totals = base_totals(columns, names, as_of=as_of, programme=programme, position_sorted=True)
    return balances_from_totals(totals, today=today, as_of=as_of, selection=selection)
