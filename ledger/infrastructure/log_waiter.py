"""Wait for new events in the store: LISTEN/NOTIFY on PostgreSQL, a short poll on SQLite."""

import time
from typing import Protocol

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder

from ledger.infrastructure.store_url import StoreLocation, connect_postgres

SQLITE_POLL_INTERVAL_S = 0.05


class LogWaiter(Protocol):
    """Blocks until the log may have grown, or a timeout passes."""

    def wait(self, timeout_s: float) -> bool:
        """Return when new events may be there (or after timeout_s); True when told so."""

    def close(self) -> None:
        """Release the connection, if any."""


class PollingWaiter:
    """SQLite has no notifications: sleep briefly, then let the caller look again."""

    def wait(self, timeout_s: float) -> bool:
        """Sleep the poll interval (bounded by the timeout): nobody tells, so always False."""
        time.sleep(min(SQLITE_POLL_INTERVAL_S, timeout_s))
        return False

    def close(self) -> None:
        """Nothing to release."""


class ListenNotifyWaiter:
    """PostgreSQL: eventsourcing NOTIFYs its channel on every insert; LISTEN and wake on it."""

    def __init__(self, recorder: PostgresApplicationRecorder, store: StoreLocation) -> None:
        self._conn = connect_postgres(store)
        self._conn.execute(f'LISTEN "{recorder.channel_name}"')

    def wait(self, timeout_s: float) -> bool:
        """Block until a NOTIFY arrives (True) or the timeout passes (False)."""
        return any(True for _ in self._conn.notifies(timeout=timeout_s, stop_after=1))

    def close(self) -> None:
        """Close the LISTEN connection."""
        self._conn.close()


def log_waiter(recorder: ApplicationRecorder, store: StoreLocation) -> LogWaiter:
    """The best way to wait for new events on this store."""
    if isinstance(recorder, PostgresApplicationRecorder):
        return ListenNotifyWaiter(recorder, store)
    return PollingWaiter()
