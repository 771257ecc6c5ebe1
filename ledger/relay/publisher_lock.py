"""One relay per store and topic: a second one would publish every event again.

SQLite: an exclusive flock on a file beside the database (one machine, as SQLite itself).
PostgreSQL: a session advisory lock held on a connection of its own for the relay's lifetime.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from ledger.domain.errors import LedgerError
from ledger.infrastructure.store_url import StoreConfig, connect_postgres


class PublisherLockHeld(LedgerError):
    """Another relay is publishing this store to this topic."""


def store_identity(store: StoreConfig) -> str:
    """Which event store this is, whatever URL spelling or credentials reach it."""
    if store.kind == "sqlite":
        assert store.sqlite_path is not None
        return f"sqlite:{store.sqlite_path.resolve()}"
    env = store.env
    return (
        f"postgresql:{env['POSTGRES_HOST']}:{env['POSTGRES_PORT']}/{env['POSTGRES_DBNAME']}"
        f"/{env.get('POSTGRES_SCHEMA', 'public')}"
    )


def _advisory_key(store: StoreConfig, topic: str) -> int:
    schema = store.env.get("POSTGRES_SCHEMA", "public")
    digest = hashlib.sha256(f"grant-ledger-relay:{schema}:{topic}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PublisherLock:
    """Held while a relay publishes; `acquire()` returns False when another relay has it."""

    def __init__(self, store: StoreConfig, topic: str) -> None:
        self._store = store
        self._topic = topic
        self._file: IO[bytes] | None = None
        self._conn: Any = None

    def acquire(self) -> bool:
        """Try once, without waiting."""
        if self._store.kind == "sqlite":
            assert self._store.sqlite_path is not None
            path = Path(f"{self._store.sqlite_path}.relay-{self._topic}.lock")
            handle = path.open("ab")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                return False
            handle.truncate(0)
            handle.write(f"{os.getpid()}\n".encode())
            handle.flush()
            self._file = handle
            return True
        conn = connect_postgres(self._store)
        row = conn.execute(
            "SELECT pg_try_advisory_lock(%s)", (_advisory_key(self._store, self._topic),)
        ).fetchone()
        if not (row and row[0]):
            conn.close()
            return False
        self._conn = conn
        return True

    def release(self) -> None:
        """Let another relay take over."""
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._conn is not None:
            self._conn.close()  # a session lock ends with its session
            self._conn = None

    def __enter__(self) -> PublisherLock:
        if not self.acquire():
            raise PublisherLockHeld(
                "topic", self._topic, "another relay is publishing this store to this topic"
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
