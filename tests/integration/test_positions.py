"""Positions from anchors: a fresh process reports the position the published log gives, without
counting the whole log, and an anchor that does not match the log is ignored with a warning."""

import logging
from collections.abc import Iterator

import pytest

from ledger.application.grant_ledger import PROGRAMME_EVENT_TOPIC, GrantLedger
from ledger.application.positions import ANCHOR_KEY, Anchor, PositionCounter
from ledger.application.published_log import store_envelopes
from ledger.infrastructure.event_log_sql import event_log_sql
from tests.fill import fill

EVENTS = 60
ANCHOR_EVERY = 7


@pytest.fixture
def filled(store_url: str) -> Iterator[GrantLedger]:
    """A ledger of 60 programme events (and their index entries between them in the log)."""
    fill(store_url, EVENTS)
    ledger = GrantLedger(store_url)
    try:
        ledger.programme_snapshots.delete_all()  # no anchors from the fill itself
        yield ledger
    finally:
        ledger.close()


def log_of(ledger: GrantLedger) -> list[tuple[int, int, str]]:
    """(notification id, position, event id) of every programme event, from the published log."""
    ids = [nid for nid, _ in ledger.programme_events()]
    return [
        (nid, envelope["position"], envelope["event_id"])
        for nid, envelope in zip(ids, store_envelopes(ledger), strict=True)
    ]


def counter(ledger: GrantLedger) -> PositionCounter:
    """A fresh process's counter (nothing in memory), anchoring every 7 positions."""
    store = ledger.programme_snapshots.store
    return PositionCounter(
        event_log_sql(ledger.recorder), PROGRAMME_EVENT_TOPIC, store, ANCHOR_EVERY
    )


def test_every_fresh_counter_gives_the_published_position(filled: GrantLedger) -> None:
    """Anchors are stored as positions are handed out; later counters start from them and
    still agree with the published log, also for events before their anchor."""
    log = log_of(filled)
    for nid, position, event_id in log:
        assert counter(filled).position_of(nid, event_id) == position
    stored = filled.programme_snapshots.store.latest(ANCHOR_KEY)
    assert stored is not None and stored.version > EVENTS - ANCHOR_EVERY
    fresh = counter(filled)
    for nid, position, _ in reversed(log):
        assert fresh.position_of(nid) == position


def test_an_anchor_that_does_not_match_the_log_is_ignored_with_a_warning(
    filled: GrantLedger, caplog: pytest.LogCaptureFixture
) -> None:
    """An anchor naming another event (a restored or foreign store) is not used."""
    log = log_of(filled)
    nid, position, _ = log[40]
    forged = Anchor(nid, position + 3, "00000000-0000-4000-8000-000000000000")
    filled.programme_snapshots.store.put(ANCHOR_KEY, forged.position, forged.as_blob())
    caplog.set_level(logging.WARNING, logger="grant_ledger.positions")
    last_nid, last_position, _ = log[-1]
    assert counter(filled).position_of(last_nid) == last_position
    assert any("position anchor" in r.getMessage() for r in caplog.records)
    assert filled.programme_snapshots.store.latest(ANCHOR_KEY) is None, "the forged one is gone"
