"""Columns in memory: the three tables of the replay store as numpy arrays, plus dictionaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from projections.replay.dictionary import StringDictionary
from projections.replay.layout import (
    COLUMNS,
    EVENTS,
    MAX_AGENCIES,
    MAX_PROGRAMMES,
    MAX_RECIPIENTS,
    NO_RECIPIENT,
    POSTINGS,
    TIMELINE,
)

Array = npt.NDArray[Any]
Table = dict[str, Array]


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


def empty_table(table: str) -> Table:
    """A table with no rows."""
    return {name: np.empty(0, dtype=dtype) for name, dtype in COLUMNS[table].items()}


@dataclass(frozen=True)
class ReplayColumns:
    """Events, their postings and the agency-timeline entries, as parallel arrays."""

    events: Table
    postings: Table
    timeline: Table

    def __post_init__(self) -> None:
        for table, columns in (
            (EVENTS, self.events),
            (POSTINGS, self.postings),
            (TIMELINE, self.timeline),
        ):
            assert set(columns) == set(COLUMNS[table]), (table, sorted(columns))
            lengths = {len(array) for array in columns.values()}
            assert len(lengths) == 1, (table, lengths)
            for name, array in columns.items():
                assert array.dtype == COLUMNS[table][name], (table, name, array.dtype)

    @classmethod
    def empty(cls) -> ReplayColumns:
        """No rows at all."""
        return cls(empty_table(EVENTS), empty_table(POSTINGS), empty_table(TIMELINE))

    @property
    def event_count(self) -> int:
        """Number of events."""
        return len(self.events["position"])

    @property
    def posting_count(self) -> int:
        """Number of postings."""
        return len(self.postings["amount_ore"])

    def tables(self) -> dict[str, Table]:
        """The three tables by name."""
        return {EVENTS: self.events, POSTINGS: self.postings, TIMELINE: self.timeline}

    def select_events(self, keep: npt.NDArray[np.bool_]) -> ReplayColumns:
        """Only the events where `keep` is True, with their postings and timeline entries."""
        assert len(keep) == self.event_count
        posting_keep = np.repeat(keep, self.events["posting_count"])
        kept_positions = self.events["position"][keep]
        timeline_keep = np.isin(self.timeline["position"], kept_positions)
        return ReplayColumns(
            {name: array[keep] for name, array in self.events.items()},
            {name: array[posting_keep] for name, array in self.postings.items()},
            {name: array[timeline_keep] for name, array in self.timeline.items()},
        )

    def in_position_order(self) -> ReplayColumns:
        """The same rows with events (and their postings) sorted by position."""
        positions = self.events["position"]
        if len(positions) < 2 or bool(np.all(positions[1:] > positions[:-1])):
            return self
        order = np.argsort(positions, kind="stable")
        counts = self.events["posting_count"].astype(np.int64)
        starts = np.cumsum(counts) - counts
        # Postings of event i are starts[i] .. starts[i] + counts[i] - 1: gather them in order.
        sorted_counts = counts[order]
        run_starts = np.repeat(starts[order], sorted_counts)
        run_offsets = np.arange(int(sorted_counts.sum()), dtype=np.int64) - np.repeat(
            np.cumsum(sorted_counts) - sorted_counts, sorted_counts
        )
        posting_order = run_starts + run_offsets
        timeline_order = np.argsort(self.timeline["position"], kind="stable")
        return ReplayColumns(
            {name: array[order] for name, array in self.events.items()},
            {name: array[posting_order] for name, array in self.postings.items()},
            {name: array[timeline_order] for name, array in self.timeline.items()},
        )


def concatenate(parts: list[ReplayColumns]) -> ReplayColumns:
    """Rows of several column sets, one after the other."""
    if not parts:
        return ReplayColumns.empty()
    if len(parts) == 1:
        return parts[0]

    def join(table: str) -> Table:
        return {
            name: np.concatenate([part.tables()[table][name] for part in parts])
            for name in COLUMNS[table]
        }

    return ReplayColumns(join(EVENTS), join(POSTINGS), join(TIMELINE))
