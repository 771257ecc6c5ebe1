"""Waiting for new events: PostgreSQL's NOTIFY wakes the relay; SQLite is polled."""

import threading

import pytest

from ledger.application.grant_ledger import GrantLedger
from ledger.infrastructure.log_waiter import ListenNotifyWaiter, PollingWaiter, log_waiter
from tests.fill import setup_commands

NOTIFY_WAIT_S = 30.0


@pytest.mark.postgres
def test_a_commit_on_postgresql_wakes_the_waiter(postgres_store_url: str) -> None:
    """A recorded command NOTIFYs: the waiter returns woken, not timed out."""
    ledger = GrantLedger(postgres_store_url)
    waiter = log_waiter(ledger.recorder, ledger.store)
    assert isinstance(waiter, ListenNotifyWaiter)
    writer = threading.Timer(0.2, lambda: ledger.execute(setup_commands()[0]))
    writer.start()
    try:
        assert waiter.wait(NOTIFY_WAIT_S) is True
    finally:
        writer.join()
        waiter.close()
        ledger.close()


def test_sqlite_is_polled(sqlite_store_url: str) -> None:
    """SQLite has no notifications: the waiter is a short poll that never claims a wake-up."""
    ledger = GrantLedger(sqlite_store_url)
    waiter = log_waiter(ledger.recorder, ledger.store)
    assert isinstance(waiter, PollingWaiter)
    assert waiter.wait(NOTIFY_WAIT_S) is False
    ledger.close()
