"""What differs between SQLite and PostgreSQL read stores: connections, dates, locks, bulk loads."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any, Protocol

import psycopg
import psycopg.errors

from ledger.domain.errors import LedgerError
from ledger.infrastructure.store_url import redacted_url
from projections.domain.time_units import date_of_day, day_number
from projections.store.location import ReadStoreLocation

SQLITE_BUSY_TIMEOUT_S = 30.0
LOCK_SUFFIX = ".projector-lock"
POSTGRES_LOCK_NAMESPACE = "grant-ledger read store"


class RebuildBlocked(LedgerError):
    """A projector is applying to this read store: rebuilding now would lose its batches."""


class Dialect(Protocol):
    """The database-specific parts of a read store."""

    name: str
    placeholder: str
    table_suffix: str
    year_end_or_today: str

    def begin(self) -> None:
        """Start a write transaction (taking the write lock where the database needs one)."""

    def begin_read(self) -> None:
        """Start a read-only transaction that sees one snapshot for all its statements."""

    def commit(self) -> None:
        """Commit it."""

    def rollback(self) -> None:
        """Abandon it."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement; its rows (empty for statements without)."""

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many parameter rows."""

    def bulk_insert(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Load rows into a fresh table fast."""

    def date_param(self, day: int) -> Any:
        """A day number as this database's date parameter."""

    def day_of(self, value: Any) -> int:
        """A date read back, as a day number."""

    def lock_partitions_sql(self) -> str:
        """Suffix that locks the selected partition rows until commit ('' when the whole
        database is locked by the transaction anyway)."""

    def lock_schema(self) -> None:
        """Inside a transaction: serialise creating the tables with other processes."""

    def table_names(self) -> set[str]:
        """Tables in the read store."""

    def projector_lock(self, *, exclusive: bool) -> contextlib.AbstractContextManager[None]:
        """Shared for projectors (several may run), exclusive for a rebuild (fails if busy)."""

    def close(self) -> None:
        """Close the connection."""


class SqliteDialect:
    """SQLite in WAL mode: readers never wait for the writer; one writer at a time."""

    name = "sqlite"
    placeholder = "?"
    # Rows stored in primary-key order: one B-tree per table, no rowid index beside it.
    table_suffix = " WITHOUT ROWID"
    # Dates are ISO text, which sorts like dates; date('now') is the UTC date.
    year_end_or_today = "MIN(printf('%04d-12-31', y.year), date('now'))"

    def __init__(self, location: ReadStoreLocation) -> None:
        assert location.sqlite_path is not None
        self.path = location.sqlite_path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(
            self.path, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self.connection.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives a process crash; the replay store re-applies the
        # rest after a power loss (batches are applied exactly once either way).
        self.connection.execute("PRAGMA synchronous=NORMAL")

    def begin(self) -> None:
        """BEGIN IMMEDIATE: take the write lock now, not at the first write."""
        self.connection.execute("BEGIN IMMEDIATE")

    def begin_read(self) -> None:
        """BEGIN (deferred): in WAL mode the first read fixes the snapshot, the writer goes on."""
        self.connection.execute("BEGIN")

    def commit(self) -> None:
        """COMMIT."""
        self.connection.execute("COMMIT")

    def rollback(self) -> None:
        """ROLLBACK, if a transaction is open."""
        if self.connection.in_transaction:
            self.connection.execute("ROLLBACK")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement."""
        return self.connection.execute(sql, tuple(params)).fetchall()

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """executemany."""
        self.connection.executemany(sql, rows)

    def bulk_insert(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """executemany of a plain INSERT."""
        marks = ", ".join("?" for _ in columns)
        self.connection.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows
        )

    def date_param(self, day: int) -> Any:
        """ISO text."""
        return date_of_day(day).isoformat()

    def day_of(self, value: Any) -> int:
        """From ISO text."""
        return day_number(date.fromisoformat(str(value)))

    def lock_partitions_sql(self) -> str:
        """BEGIN IMMEDIATE already holds the database's write lock."""
        return ""

    def lock_schema(self) -> None:
        """BEGIN IMMEDIATE already serialises writers."""

    def table_names(self) -> set[str]:
        """From sqlite_master."""
        return {
            row[0] for row in self.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }

    @contextlib.contextmanager
    def projector_lock(self, *, exclusive: bool) -> Iterator[None]:
        """An fcntl lock on a file beside the database."""
        handle = self.path.with_name(self.path.name + LOCK_SUFFIX).open("a+")
        try:
            mode = fcntl.LOCK_EX | fcntl.LOCK_NB if exclusive else fcntl.LOCK_SH
            try:
                fcntl.flock(handle.fileno(), mode)
            except BlockingIOError:
                raise RebuildBlocked(
                    "read store",
                    str(self.path),
                    "a projector is running on it: stop `grant-ledger project` first",
                ) from None
            yield
        finally:
            handle.close()

    def close(self) -> None:
        """Close."""
        self.connection.close()


class PostgresDialect:
    """PostgreSQL: tables in the URL's schema; row locks order concurrent projectors."""

    name = "postgresql"
    placeholder = "%s"
    table_suffix = ""
    # Today as the UTC date, like SQLite's date('now').
    year_end_or_today = (
        "LEAST(make_date(y.year, 12, 31), (CURRENT_TIMESTAMP AT TIME ZONE 'UTC')::date)"
    )

    def __init__(self, location: ReadStoreLocation) -> None:
        assert location.conninfo is not None and location.schema is not None
        self.location = location
        self.schema = location.schema
        self.connection = self._connect()
        self._in_transaction = False

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        try:
            connection = psycopg.connect(self.location.conninfo or "", autocommit=True)
        except psycopg.OperationalError as exc:
            raise LedgerError(
                "read store", redacted_url(self.location.url), f"cannot connect: {exc}"
            ) from None
        # Another process may create it at the same moment (IF NOT EXISTS is not atomic).
        with contextlib.suppress(psycopg.errors.UniqueViolation):
            connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        connection.execute(f'SET search_path TO "{self.schema}"')
        return connection

    def begin(self) -> None:
        """BEGIN (READ COMMITTED: each statement sees what committed before it)."""
        self.connection.execute("BEGIN")
        self._in_transaction = True

    def begin_read(self) -> None:
        """REPEATABLE READ, READ ONLY: every statement sees the same committed snapshot."""
        self.connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        self._in_transaction = True

    def commit(self) -> None:
        """COMMIT."""
        self.connection.execute("COMMIT")
        self._in_transaction = False

    def rollback(self) -> None:
        """ROLLBACK."""
        if self._in_transaction:
            self.connection.execute("ROLLBACK")
            self._in_transaction = False

    def execute(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run one statement."""
        cursor = self.connection.execute(sql, tuple(params))
        return cursor.fetchall() if cursor.description is not None else []

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """executemany (pipelined by psycopg)."""
        with self.connection.cursor() as cursor:
            cursor.executemany(sql, rows)

    def bulk_insert(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """COPY FROM STDIN."""
        with (
            self.connection.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)

    def date_param(self, day: int) -> Any:
        """A date."""
        return date_of_day(day)

    def day_of(self, value: Any) -> int:
        """From a date."""
        assert isinstance(value, date), value
        return day_number(value)

    def lock_partitions_sql(self) -> str:
        """Row locks: a second projector handed the same partition waits, then sees our marks."""
        return " FOR UPDATE"

    def lock_schema(self) -> None:
        """A transaction advisory lock: two projectors starting on a fresh schema would
        otherwise race on CREATE TABLE IF NOT EXISTS (it is not atomic in PostgreSQL)."""
        self.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock_key("schema"),))

    def table_names(self) -> set[str]:
        """From information_schema, in our schema."""
        rows = self.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = %s AND table_type = 'BASE TABLE'",
            (self.schema,),
        )
        return {row[0] for row in rows}

    def _lock_key(self, purpose: str) -> int:
        """A 64-bit advisory lock key for this schema and purpose."""
        digest = hashlib.sha256(f"{POSTGRES_LOCK_NAMESPACE}:{purpose}:{self.schema}".encode())
        return int.from_bytes(digest.digest()[:8], "big", signed=True)

    @contextlib.contextmanager
    def projector_lock(self, *, exclusive: bool) -> Iterator[None]:
        """A session advisory lock keyed by the schema, on a connection of its own."""
        key = self._lock_key("projector")
        holder = psycopg.connect(self.location.conninfo or "", autocommit=True)
        try:
            if exclusive:
                row = holder.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                if not row or not row[0]:
                    raise RebuildBlocked(
                        "read store",
                        redacted_url(self.location.url),
                        "a projector is running on it: stop `grant-ledger project` first",
                    )
            else:
                holder.execute("SELECT pg_advisory_lock_shared(%s)", (key,))
            yield
        finally:
            holder.close()

    def close(self) -> None:
        """Close."""
        self.connection.close()


def dialect_for(location: ReadStoreLocation) -> Dialect:
    """The dialect of a read store location."""
    if location.kind == "sqlite":
        return SqliteDialect(location)
    return PostgresDialect(location)
