"""The fast decode path: envelope bytes straight into column lists, strings converted in bulk.

Per message only orjson.loads and a few list appends run in Python; dates, instants and hash
prefixes are converted for all messages at once with numpy when the columns are built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from projections.domain.facts import current_data, postings_of, timeline_agency_of
from projections.domain.kinds import EVENT_KIND_BY_TYPE, EventKind
from projections.replay import (
    HASH_PREFIX_HEX_CHARS,
    Dictionaries,
    EventColumns,
    PostingColumns,
    ReplayColumns,
    TimelineColumns,
)
from schemas.events import EVENT_SCHEMA_VERSION

SINGLE_AMOUNT = frozenset({"FundsDisbursed", "FundsRecovered", "AppropriationSet"})
SINGLE_CHANGE = frozenset({"AwardAmended", "AppropriationAmended"})
MULTI_YEAR = frozenset({"ApplicationSubmitted", "GrantAwarded", "GrantExtended"})
DAY_UNIT = "datetime64[D]"
MICROSECOND_UNIT = "datetime64[us]"


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
        position: int = self.add_envelope(orjson.loads(value))
        return position

    def _adder(self) -> Callable[[dict[str, Any]], int]:
        """`add_envelope(envelope) -> position`, with everything it touches bound once, here."""
        kind_of = EVENT_KIND_BY_TYPE.get
        other = int(EventKind.OTHER)
        programme_codes = self.dictionaries.programmes
        recipient_codes = self.dictionaries.recipients
        programme_code = programme_codes.lookup
        recipient_code = recipient_codes.lookup
        positions, kinds = self.positions.append, self.kinds.append
        programmes, recipients = self.programmes.append, self.recipients.append
        effective_dates, recorded_ats = self.effective_dates.append, self.recorded_ats.append
        hash_prefixes, posting_counts = self.hash_prefixes.append, self.posting_counts.append
        years, amounts = self.years.append, self.amounts.append
        current_version = EVENT_SCHEMA_VERSION
        prefix_chars = HASH_PREFIX_HEX_CHARS
        newest = [0, ""]

        def add(envelope: dict[str, Any]) -> int:
            event_type = envelope["type"]
            data = envelope["data"]
            if envelope["schema_version"] != current_version:
                data = dict(current_data(envelope))
            position = envelope["position"]
            positions(position)
            kinds(kind_of(event_type, other))
            programme = programme_code(envelope["programme_id"])
            if programme is None:
                programme = programme_codes.code(envelope["programme_id"])
            programmes(programme)
            recipient = data.get("recipient")
            if recipient is None:
                recipients(0)
            else:
                code = recipient_code(recipient)
                recipients(recipient_codes.code(recipient) if code is None else code)
            effective_dates(envelope["effective_date"])
            # recorded_at is always `...Z` (UTC): numpy parses it without the zone letter.
            recorded_ats(envelope["recorded_at"][:-1])
            chain_hash = envelope["hash"]
            hash_prefixes(chain_hash[:prefix_chars])
            if event_type in SINGLE_AMOUNT:
                posting_counts(1)
                years(data["year"])
                amounts(data["amount_ore"])
            elif event_type in SINGLE_CHANGE:
                posting_counts(1)
                years(data["year"])
                amounts(data["change_ore"])
            else:
                self._add_other(event_type, data, programme)
            if position > newest[0]:
                newest[0], newest[1] = position, chain_hash
                self.newest = (position, chain_hash)
            return int(position)

        return add

    def _add_other(self, event_type: str, data: dict[str, Any], programme: int) -> None:
        if event_type in MULTI_YEAR:
            amounts = data["amounts_ore"]
            self.posting_counts.append(len(amounts))
            for year, amount in sorted(amounts.items()):
                self.years.append(int(year))
                self.amounts.append(amount)
            return
        kind = EVENT_KIND_BY_TYPE.get(event_type, EventKind.OTHER)
        postings = postings_of(kind, data)
        self.posting_counts.append(len(postings))
        for year, amount in postings:
            self.years.append(year)
            self.amounts.append(amount)
        agency = timeline_agency_of(kind, data)
        if agency is not None:
            row = len(self.positions) - 1
            self.timeline.append((row, programme, self.dictionaries.agencies.code(agency)))

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
