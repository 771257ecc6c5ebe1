"""`audit reconcile`: the event store, the topic and the read store, held against each other at
one position.

The position is the read store's: it applies by global position, so it holds exactly 1..P
(ReadStore.progress). At P: the store's chain and the topic agree message by message (`verify`,
with the signed checkpoints and every recorded skip), and every balance of every view in the
read store equals what the hot replay engine computes from the store's own events 1..P. The
first thing that disagrees is named.
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
from ledger.config import KafkaSettings
from ledger.proof.signatures import TrustedKeys
from projections.application.envelope_balances import EnvelopeBalances
from projections.application.query import today_utc
from projections.domain.balances import Balances
from projections.domain.rows import FIELDS, STORED_VIEWS, BalanceRow, View, as_record
from projections.store.read_store import ReadStore

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
    chain: VerificationReport | None = None
    disagreements: list[str] = field(default_factory=list)
    rows_compared: int = 0

    @property
    def agrees(self) -> bool:
        """All three agree at the read store's position."""
        chain_ok = self.chain is None or self.chain.ok
        return chain_ok and not self.disagreements


def balances_of_envelopes(envelopes: Iterable[dict[str, Any]], today: date) -> Balances:
    """Every view of these envelopes, by the projector's hot replay engine."""
    collected = EnvelopeBalances()
    for envelope in envelopes:
        collected.add(orjson.dumps(envelope))
    return collected.balances(today=today)


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
    ledger: GrantLedger,
    settings: KafkaSettings,
    bootstrap: str,
    read_store: ReadStore,
    trusted: TrustedKeys,
) -> Reconciliation:
    """Compare the three at the read store's position (see the module docstring)."""
    result = Reconciliation()
    result.chain = verify_store_against_kafka(
        ledger, settings, bootstrap, trusted, skips=read_store.skips()
    )
    result.store_events = result.chain.store_events
    result.topic_messages = result.chain.topic_messages
    position = read_store.progress().applied.position
    result.read_store_position = position
    envelopes = store_envelopes(ledger, through_position=position) if position else iter(())
    expected = balances_of_envelopes(envelopes, today_utc())
    for view in STORED_VIEWS:
        actual = read_store.balances(view)
        result.rows_compared += len(actual)
        difference = first_difference(view, expected.view(view), actual)
        if difference is not None:
            result.disagreements.append(difference)
    return result
