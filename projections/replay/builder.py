"""Collect decoded events into columns, encoding strings with the store's dictionaries."""

import numpy as np

from projections.domain.facts import EventFacts
from projections.replay.columns import Dictionaries, ReplayColumns, Table
from projections.replay.layout import (
    COLUMNS,
    EVENTS,
    MAX_POSTINGS_PER_EVENT,
    POSTINGS,
    TIMELINE,
    hash_prefix,
)


class ColumnBuilder:
    """Appends EventFacts row by row; `build()` turns them into arrays."""

    def __init__(self, dictionaries: Dictionaries) -> None:
        self.dictionaries = dictionaries
        self._events: dict[str, list[int]] = {name: [] for name in COLUMNS[EVENTS]}
        self._postings: dict[str, list[int]] = {name: [] for name in COLUMNS[POSTINGS]}
        self._timeline: dict[str, list[int]] = {name: [] for name in COLUMNS[TIMELINE]}

    def __len__(self) -> int:
        return len(self._events["position"])

    def add(self, facts: EventFacts) -> None:
        """One event."""
        assert len(facts.postings) <= MAX_POSTINGS_PER_EVENT, facts
        programme = self.dictionaries.programmes.code(facts.programme_id)
        recipient = (
            0 if facts.recipient is None else self.dictionaries.recipients.code(facts.recipient)
        )
        events = self._events
        events["position"].append(facts.position)
        events["recorded_at_us"].append(facts.recorded_at_us)
        events["hash_prefix"].append(hash_prefix(facts.hash))
        events["effective_day"].append(facts.effective_day)
        events["recipient"].append(recipient)
        events["programme"].append(programme)
        events["kind"].append(int(facts.kind))
        events["posting_count"].append(len(facts.postings))
        for year, amount in facts.postings:
            self._postings["year"].append(year)
            self._postings["amount_ore"].append(amount)
        if facts.timeline_agency is not None:
            timeline = self._timeline
            timeline["position"].append(facts.position)
            timeline["recorded_at_us"].append(facts.recorded_at_us)
            timeline["effective_day"].append(facts.effective_day)
            timeline["programme"].append(programme)
            timeline["agency"].append(self.dictionaries.agencies.code(facts.timeline_agency))

    def build(self) -> ReplayColumns:
        """The collected rows as columns."""

        def arrays(table: str, lists: dict[str, list[int]]) -> Table:
            return {
                name: np.array(lists[name], dtype=dtype) for name, dtype in COLUMNS[table].items()
            }

        return ReplayColumns(
            arrays(EVENTS, self._events),
            arrays(POSTINGS, self._postings),
            arrays(TIMELINE, self._timeline),
        )
