"""Columns in memory: the three tables of the replay store as typed arrays, and the dictionaries
their codes refer to."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from projections.replay.dictionary import StringDictionary
from projections.replay.layout import (
    MAX_AGENCIES,
    MAX_PROGRAMMES,
    MAX_RECIPIENTS,
    NO_RECIPIENT,
    ColumnTable,
    EventColumns,
    PostingColumns,
    TimelineColumns,
)


@dataclass(frozen=True)
class CodeNames:
    """The strings behind the code columns, by code."""

    programmes: list[str]
    recipients: list[str]
    agencies: list[str]


@dataclass
class Dictionaries:
    """The string dictionaries the code columns refer to."""

    programmes: StringDictionary = field(
        default_factory=lambda: StringDictionary("programme_id", limit=MAX_PROGRAMMES)
    )
    recipients: StringDictionary = field(
        default_factory=lambda: StringDictionary("recipient", [NO_RECIPIENT], limit=MAX_RECIPIENTS)
    )
    agencies: StringDictionary = field(
        default_factory=lambda: StringDictionary("agency", limit=MAX_AGENCIES)
    )

    @classmethod
    def from_lists(
        cls, programmes: list[str], recipients: list[str], agencies: list[str]
    ) -> Dictionaries:
        """Dictionaries with these values, in code order."""
        assert recipients[:1] == [NO_RECIPIENT], "recipient code 0 is 'no recipient'"
        return cls(
            StringDictionary("programme_id", programmes, limit=MAX_PROGRAMMES),
            StringDictionary("recipient", recipients, limit=MAX_RECIPIENTS),
            StringDictionary("agency", agencies, limit=MAX_AGENCIES),
        )

    def as_lists(self) -> dict[str, list[str]]:
        """For the manifest."""
        return {
            "programmes": list(self.programmes.values),
            "recipients": list(self.recipients.values),
            "agencies": list(self.agencies.values),
        }

    def names(self) -> CodeNames:
        """The values by code."""
        return CodeNames(
            list(self.programmes.values), list(self.recipients.values), list(self.agencies.values)
        )


@dataclass(frozen=True)
class ReplayColumns:
    """Events, their postings and the agency-timeline entries, as parallel arrays."""

    events: EventColumns
    postings: PostingColumns
    timeline: TimelineColumns

    @classmethod
    def empty(cls) -> ReplayColumns:
        """No rows at all."""
        return cls(EventColumns.empty(), PostingColumns.empty(), TimelineColumns.empty())

    @classmethod
    def of_tables(
        cls,
        events: Mapping[str, Any],
        postings: Mapping[str, Any],
        timeline: Mapping[str, Any],
    ) -> ReplayColumns:
        """From arrays by column name, table by table."""
        return cls(
            EventColumns.of(events), PostingColumns.of(postings), TimelineColumns.of(timeline)
        )

    @property
    def event_count(self) -> int:
        """Number of events."""
        return len(self.events)

    @property
    def posting_count(self) -> int:
        """Number of postings."""
        return len(self.postings)

    def tables(self) -> tuple[ColumnTable, ...]:
        """The three tables."""
        return (self.events, self.postings, self.timeline)

    def is_position_sorted(self) -> bool:
        """True when positions strictly increase (sorted and unique)."""
        positions = self.events.position
        return len(positions) < 2 or bool(np.all(positions[1:] > positions[:-1]))

    def select_events(self, keep: npt.NDArray[np.bool_]) -> ReplayColumns:
        """Only the events where `keep` is True, with their postings and timeline entries."""
        assert len(keep) == self.event_count
        posting_keep = np.repeat(keep, self.events.posting_count)
        timeline_keep = np.isin(self.timeline.position, self.events.position[keep])
        return ReplayColumns(
            self.events.rows(keep),
            self.postings.rows(posting_keep),
            self.timeline.rows(timeline_keep),
        )

    def in_position_order(self) -> ReplayColumns:
        """The same rows with events (and their postings) sorted by position."""
        if self.is_position_sorted():
            return self
        order = np.argsort(self.events.position, kind="stable")
        counts = self.events.posting_count.astype(np.int64)
        starts = np.cumsum(counts) - counts
        # Postings of event i are starts[i] .. starts[i] + counts[i] - 1: gather them in order.
        sorted_counts = counts[order]
        run_starts = np.repeat(starts[order], sorted_counts)
        run_offsets = np.arange(int(sorted_counts.sum()), dtype=np.int64) - np.repeat(
            np.cumsum(sorted_counts) - sorted_counts, sorted_counts
        )
        return ReplayColumns(
            self.events.rows(order),
            self.postings.rows(run_starts + run_offsets),
            self.timeline.rows(np.argsort(self.timeline.position, kind="stable")),
        )

    def recoded(self, lists: Mapping[str, list[str]], into: Dictionaries) -> ReplayColumns:
        """These columns, whose codes refer to `lists`, with the codes of `into` instead."""
        return self.recoded_by(code_maps(lists, into))

    def recoded_by(self, maps: CodeMaps) -> ReplayColumns:
        """These columns with each code replaced by its map's (code_maps)."""
        events = self.events.arrays()
        timeline = self.timeline.arrays()
        if len(maps.programmes):
            events["programme"] = maps.programmes[self.events.programme]
            timeline["programme"] = maps.programmes[self.timeline.programme]
        events["recipient"] = maps.recipients[self.events.recipient]
        if len(maps.agencies):
            timeline["agency"] = maps.agencies[self.timeline.agency]
        return ReplayColumns(EventColumns.of(events), self.postings, TimelineColumns.of(timeline))


@dataclass(frozen=True)
class CodeMaps:
    """Each code of one set of dictionaries, as its value's code in another."""

    programmes: npt.NDArray[np.int64]
    recipients: npt.NDArray[np.int64]
    agencies: npt.NDArray[np.int64]


def code_maps(lists: Mapping[str, list[str]], into: Dictionaries) -> CodeMaps:
    """The codes of `lists` (Dictionaries.as_lists) as the codes of `into` (adding values)."""

    def codes(values: list[str], target: StringDictionary) -> npt.NDArray[np.int64]:
        return np.array([target.code(value) for value in values], dtype=np.int64)

    return CodeMaps(
        codes(lists["programmes"], into.programmes),
        codes(lists["recipients"], into.recipients),
        codes(lists["agencies"], into.agencies),
    )


def concatenate(parts: list[ReplayColumns]) -> ReplayColumns:
    """Rows of several column sets, one after the other."""
    if not parts:
        return ReplayColumns.empty()
    if len(parts) == 1:
        return parts[0]

    def join(tables: list[ColumnTable]) -> dict[str, npt.NDArray[Any]]:
        return {
            name: np.concatenate([getattr(table, name) for table in tables])
            for name in type(tables[0]).dtypes()
        }

    return ReplayColumns.of_tables(
        join([part.events for part in parts]),
        join([part.postings for part in parts]),
        join([part.timeline for part in parts]),
    )
