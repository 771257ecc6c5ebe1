"""Balances of envelopes read from anywhere (the store, a topic, an export), by the projector's
hot replay engine: the same columns and group-bys as `rebuild`, so the same rows as `balances`."""

from __future__ import annotations

from datetime import date

from projections.consumer.columnizer import Columnizer
from projections.domain.asof import CURRENT, AsOf
from projections.domain.balances import Balances
from projections.domain.selection import EVERYTHING, Selection
from projections.replay import Dictionaries, ReplayColumns, every_view


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
    """Every stored view of position-ordered columns, by the replay engine's one entry point
    (a programme they lack: no rows)."""
    return every_view(
        columns,
        dictionaries.names(),
        today=today,
        as_of=as_of,
        selection=selection,
        position_sorted=True,
    )
