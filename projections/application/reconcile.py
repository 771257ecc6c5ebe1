"""`audit reconcile`: the event store, the topic and the read store, held against each other at
one position.

The position is the read store's: the longest prefix 1..P of positions it has applied (by its
per-partition offsets on the topic, and what a rebuild covered). At P: the store's chain and the
topic agree message by message (`verify`), and every balance of every view in the read store
equals what the hot replay engine computes from the store's own events 1..P. The first thing
that disagrees is named; a read store caught between positions (a projector mid-batch over
several partitions) is reported as not at one position, so the caller can try again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

from ledger.application.grant_ledger import GrantLedger
from ledger.application.published_log import store_envelopes
from ledger.audit.topic_verification import verify_store_against_kafka
from ledger.audit.verification import VerificationReport
from ledger.config import KafkaSettings, kafka_endpoint
from ledger.infrastructure.kafka.reading import read_all
from projections.application.envelope_balances import EnvelopeBalances
from projections.application.query import today_utc
from projections.domain.balances import Balances
from projections.domain.rows import FIELDS, STORED_VIEWS, BalanceRow, View, as_record
from projections.store.read_store import ReadStore
from projections.store.schema import STATE_COMPLETE_THROUGH

KEY_FIELDS = {
    View.RECIPIENT_YEAR: ("programme_id", "recipient", "year"),
    View.PROGRAMME_YEAR: ("programme_id", "year"),
    View.AGENCY_YEAR: ("agency", "year"),
}
# The read store holds these views (county-year is derived from recipient-year).
assert set(KEY_FIELDS) == set(STORED_VIEWS), "every stored view is compared, by its key"


@dataclass
class Reconciliation:
    """What was compared, at which position, and the first disagreement of each kind."""

    store_events: int = 0
    topic_messages: int = 0
    read_store_position: int = 0
    between_positions: bool = False
    chain: VerificationReport | None = None
    disagreements: list[str] = field(default_factory=list)
    rows_compared: int = 0

    @property
    def agrees(self) -> bool:
        """All three agree at the read store's position."""
        chain_ok = self.chain is None or self.chain.ok
        return chain_ok and not self.disagreements and not self.between_positions


def balances_of_envelopes(envelopes: Iterable[dict[str, Any]], today: date) -> Balances:
    """Every view of these envelopes, by the projector's hot replay engine."""
    collected = EnvelopeBalances()
    for envelope in envelopes:
        collected.add(orjson.dumps(envelope))
    return collected.balances(today=today)


def applied_prefix(
    locations: dict[int, tuple[int, int]], marks: dict[int, Any], complete_through: int
) -> tuple[int, bool]:
    """(P, between): the read store applied 1..P; `between` when it applied more than that."""
    applied = {
        position
        for position, (partition, offset) in locations.items()
        if position <= complete_through
        or (partition in marks and offset < marks[partition].next_offset)
    }
    prefix = 0
    while prefix + 1 in applied:
        prefix += 1
    return prefix, len(applied) > prefix


def _topic_locations(settings: KafkaSettings, bootstrap: str) -> dict[int, tuple[int, int]]:
    """position -> (partition, offset) of each envelope on the topic (first copy)."""
    locations: dict[int, tuple[int, int]] = {}
    for record in read_all(kafka_endpoint(settings, bootstrap), settings.topic):
        try:
            position = orjson.loads(record.value or b"")["position"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            continue  # verify names foreign messages
        if isinstance(position, int):
            locations.setdefault(position, (record.partition, record.offset))
    return locations


def first_difference(
    view: View, expected: Iterable[BalanceRow], actual: Iterable[BalanceRow]
) -> str | None:
    """The first row (by key) where the store's balances and the read store's differ."""
    keys = KEY_FIELDS[view]

    def by_key(rows: Iterable[BalanceRow]) -> dict[tuple[Any, ...], dict[str, Any]]:
        return {tuple(record[k] for k in keys): record for record in map(as_record, rows)}

    want, have = by_key(expected), by_key(actual)
    for key in sorted(set(want) | set(have)):
        where = f"{view.value} {'/'.join(map(str, key))}"
        if key not in have:
            return f"{where}: in the store's balances, missing from the read store"
        if key not in want:
            return f"{where}: in the read store, not in the store's balances"
        for name in FIELDS[view]:
            if want[key][name] != have[key][name]:
                return f"{where} {name}: store {want[key][name]} vs read store {have[key][name]}"
    return None


def reconcile(
    ledger: GrantLedger, settings: KafkaSettings, bootstrap: str, read_store: ReadStore
) -> Reconciliation:
    """Compare the three at the read store's position (see the module docstring)."""
    result = Reconciliation()
    result.chain = verify_store_against_kafka(ledger, settings, bootstrap)
    result.store_events = result.chain.store_events
    result.topic_messages = result.chain.topic_messages
    locations = _topic_locations(settings, bootstrap)
    complete_through = int(read_store.state().get(STATE_COMPLETE_THROUGH, "0"))
    position, between = applied_prefix(
        locations, read_store.partition_marks(settings.topic), complete_through
    )
    result.read_store_position, result.between_positions = position, between
    if between:
        return result
    envelopes = store_envelopes(ledger, through_position=position) if position else iter(())
    expected = balances_of_envelopes(envelopes, today_utc())
    for view in STORED_VIEWS:
        actual = read_store.balances(view)
        result.rows_compared += len(actual)
        difference = first_difference(view, expected.view(view), actual)
        if difference is not None:
            result.disagreements.append(difference)
    return result
