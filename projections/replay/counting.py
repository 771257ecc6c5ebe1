"""Which events of a stretch of the store a question counts: a window and, when needed, a mask."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from projections.domain.asof import AsOf
from projections.replay.layout import EventColumns

Mask = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class EventWindow:
    """Events [start, stop) of the store and their postings [posting_start, posting_stop)."""

    start: int
    stop: int
    posting_start: int
    posting_stop: int

    @classmethod
    def of(cls, events: EventColumns, start: int, stop: int, posting_start: int) -> EventWindow:
        """Events [start, stop) whose postings begin at `posting_start`."""
        postings = int(events.posting_count[start:stop].sum(dtype=np.int64))
        return cls(start, stop, posting_start, posting_start + postings)

    @property
    def events(self) -> slice:
        """The events, as a slice of the event columns."""
        return slice(self.start, self.stop)

    @property
    def postings(self) -> slice:
        """Their postings, as a slice of the posting columns."""
        return slice(self.posting_start, self.posting_stop)


@dataclass(frozen=True)
class Counted:
    """The events of a window a question counts: all of them (mask None) or where mask is True."""

    window: EventWindow
    mask: Mask | None


def counted(
    events: EventColumns,
    window: EventWindow,
    as_of: AsOf,
    programme: int | None,
    *,
    position_sorted: bool,
) -> Counted:
    """Which events of the window count, as cheaply as the store's order allows."""
    stop = window.stop
    if as_of.at_position is not None and position_sorted:
        # Sorted by position: "positions up to N" is a prefix of the window, no mask needed.
        positions = events.position[window.start : window.stop]
        stop = window.start + int(np.searchsorted(positions, as_of.at_position, side="right"))
    if stop != window.stop:
        window = EventWindow.of(events, window.start, stop, window.posting_start)
    mask: Mask | None = None

    def narrow(condition: Mask) -> None:
        nonlocal mask
        mask = condition if mask is None else mask & condition

    rows = window.events
    if as_of.at_position is not None and not position_sorted:
        narrow(events.position[rows] <= as_of.at_position)
    if as_of.as_of_day is not None:
        narrow(events.effective_day[rows] <= as_of.as_of_day)
    if as_of.known_at_us is not None:
        narrow(events.recorded_at_us[rows] <= as_of.known_at_us)
    if programme is not None:
        narrow(events.programme[rows] == programme)
    return Counted(window, mask)
