"""The rebuild's fast path: envelope bytes into column lists, dates converted in bulk.

Each message is parsed by orjson and read by the read side's one decoder
(projections.domain.facts.decode); dates, instants and hash prefixes are then converted for all
messages at once with numpy when the columns are built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from projections.domain.facts import decode
from projections.replay import (
    HASH_PREFIX_HEX_CHARS,
    Dictionaries,
    EventColumns,
    PostingColumns,
    ReplayColumns,
    TimelineColumns,
)

DAY_UNIT = "datetime64[D]"
MICROSECOND_UNIT = "datetime64[us]"
NO_RECIPIENT = 0


class Columnizer:
    """Collects envelopes (as bytes) into replay-store columns; `add` is the per-message cost."""

    def __init__(self, dictionaries: Dictionaries) -> None:
        self.dictionaries = dictionaries
        self.positions: list[int] = []
        self.kinds: list[int] = []
        self.programmes: list[int] = []
        self.recipients: list[int] = []
        self.effective_dates: list[str] = []
        self.recorded_ats: list[str] = []
        self.hash_prefixes: list[str] = []
        self.posting_counts: list[int] = []
        self.years: list[int] = []
        self.amounts: list[int] = []
        self.timeline: list[tuple[int, int, int]] = []  # event row, programme code, agency code
        self.newest: tuple[int, str] | None = None
        self.add_envelope: Callable[[dict[str, Any]], int] = self._adder()

    def __len__(self) -> int:
        return len(self.positions)

    def add(self, value: bytes) -> int:
        """One envelope as bytes; returns its position."""
        return self.add_envelope(orjson.loads(value))

    def _adder(self) -> Callable[[dict[str, Any]], int]:
        """`add_envelope(envelope) -> position`, with everything it touches bound once, here."""
        programme_codes, recipient_codes = (
            self.dictionaries.programmes,
            self.dictionaries.recipients,
        )
        programme_known, recipient_known = programme_codes.lookup, recipient_codes.lookup
        agency_code = self.dictionaries.agencies.code
        event_rows = self.positions
        positions, kinds = self.positions.append, self.kinds.append
        programmes, recipients = self.programmes.append, self.recipients.append
        effective_dates, recorded_ats = self.effective_dates.append, self.recorded_ats.append
        hash_prefixes, posting_counts = self.hash_prefixes.append, self.posting_counts.append
        years, amounts = self.years.append, self.amounts.append
        timeline = self.timeline.append
        prefix_chars = HASH_PREFIX_HEX_CHARS

        def add(envelope: dict[str, Any]) -> int:
            facts = decode(envelope)
            positions(facts.position)
            kinds(facts.kind)
            # The bound dict lookup first: a method call per message only for a new value.
            programme = programme_known(facts.programme_id)
            if programme is None:
                programme = programme_codes.code(facts.programme_id)
            programmes(programme)
            recipient = facts.recipient
            if recipient is None:
                recipients(NO_RECIPIENT)
            else:
                code = recipient_known(recipient)
                recipients(recipient_codes.code(recipient) if code is None else code)
            effective_dates(facts.effective_date)
            # recorded_at is always `...Z` (UTC): numpy parses it without the zone letter.
            recorded_ats(facts.recorded_at[:-1])
            hash_prefixes(facts.hash[:prefix_chars])
            posting_counts(len(facts.postings))
            for year, amount in facts.postings:
                years(year)
                amounts(amount)
            if facts.timeline_agency is not None:
                row = len(event_rows) - 1
                timeline((row, programme, agency_code(facts.timeline_agency)))
            newest = self.newest
            if newest is None or facts.position > newest[0]:
                self.newest = (facts.position, facts.hash)
            return facts.position

        return add

    def build(self) -> ReplayColumns:
        """Columns of everything added (in arrival order)."""
        event_types = EventColumns.dtypes()
        count = len(self.positions)
        hash_prefix = (
            np.frombuffer(bytes.fromhex("".join(self.hash_prefixes)), dtype=">u8").astype(
                event_types["hash_prefix"]
            )
            if count
            else np.empty(0, dtype=event_types["hash_prefix"])
        )
        effective_day = (
            np.array(self.effective_dates, dtype=DAY_UNIT)
            .astype(np.int64)
            .astype(event_types["effective_day"])
        )
        recorded_at_us = np.array(self.recorded_ats, dtype=MICROSECOND_UNIT).astype(
            event_types["recorded_at_us"]
        )
        events = {
            "position": np.array(self.positions, dtype=event_types["position"]),
            "recorded_at_us": recorded_at_us,
            "hash_prefix": hash_prefix,
            "effective_day": effective_day,
            "recipient": np.array(self.recipients, dtype=event_types["recipient"]),
            "programme": np.array(self.programmes, dtype=event_types["programme"]),
            "kind": np.array(self.kinds, dtype=event_types["kind"]),
            "posting_count": np.array(self.posting_counts, dtype=event_types["posting_count"]),
        }
        postings = {
            "year": np.array(self.years, dtype=PostingColumns.dtypes()["year"]),
            "amount_ore": np.array(self.amounts, dtype=PostingColumns.dtypes()["amount_ore"]),
        }
        rows = np.array([row for row, _, _ in self.timeline], dtype=np.int64)
        timeline_types = TimelineColumns.dtypes()
        timeline = {
            "position": events["position"][rows].astype(timeline_types["position"]),
            "recorded_at_us": recorded_at_us[rows].astype(timeline_types["recorded_at_us"]),
            "effective_day": effective_day[rows].astype(timeline_types["effective_day"]),
            "programme": np.array(
                [p for _, p, _ in self.timeline], dtype=timeline_types["programme"]
            ),
            "agency": np.array([a for _, _, a in self.timeline], dtype=timeline_types["agency"]),
        }
        return ReplayColumns.of_tables(events, postings, timeline)
