"""Collect decoded events into columns, encoding strings with the store's dictionaries."""

from projections.domain.facts import EventFacts
from projections.replay.columns import Dictionaries, ReplayColumns
from projections.replay.layout import (
    MAX_POSTINGS_PER_EVENT,
    EventColumns,
    PostingColumns,
    TimelineColumns,
    hash_prefix,
)


class ColumnBuilder:
    """Appends EventFacts row by row; `build()` turns them into arrays."""

    def __init__(self, dictionaries: Dictionaries) -> None:
        self.dictionaries = dictionaries
        self._events: dict[str, list[int]] = {name: [] for name in EventColumns.dtypes()}
        self._postings: dict[str, list[int]] = {name: [] for name in PostingColumns.dtypes()}
        self._timeline: dict[str, list[int]] = {name: [] for name in TimelineColumns.dtypes()}

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
        return ReplayColumns.of_tables(self._events, self._postings, self._timeline)
