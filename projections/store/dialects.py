"""What differs between SQLite and PostgreSQL read stores: connections, dates, locks, bulk loads."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import psycopg
import psycopg.errors

from ledger.infrastructure.store_url import StoreKind, StoreLocation
from projections.domain.time_units import date_of_day, day_number
from schemas.calendar import STOCKHOLM
from schemas.errors import Unavailable

SQLITE_BUSY_TIMEOUT_S = 30.0
LOCK_SUFFIX = ".projector-lock"
POSTGRES_LOCK_NAMESPACE = "grant-ledger read store"
# SQLite bulk loads bind this many rows per INSERT statement: a statement per row costs a third
# more CPU (measured: 189 438 recipient-year rows, 0.29 s -> 0.19 s); 256 rows of 7 columns stay
# far below SQLite's limit of 32 766 parameters per statement.
ROWS_PER_INSERT = 256
# Rows made Python objects at a time by a bulk load (a whole multiple of ROWS_PER_INSERT): the
# decade's 189 438 recipient-year rows made at once held ~60 MiB of objects at the rebuild's
# memory peak; in batches, a few MiB, and the swap is no slower (measured in one process against
# the whole table at once: 0.245 s against 0.265 s).
BULK_BATCH_ROWS = 16 * ROWS_PER_INSERT
# SQLite's page cache per connection (KiB; SQLite's default is 2 000): a rebuild writes the
# recipient-year table whole (about 17 MiB on the decade ledger) in one transaction, and with the
# default cache it spills pages to the WAL mid-way (measured: 0.236 -> 0.221 s CPU for the swap).
# Pages are cached as used, so an idle connection costs nothing more.
SQLITE_CACHE_KIB = 64 * 1024
# SQLite's page size for a new read store (an existing one keeps its own). A rebuild's commit
# writes the whole recipient-year table to the WAL and checkpoints it, a write per page: with
# 16 KiB pages that is a quarter of the writes (measured on the decade ledger, in one process
# against 4 KiB: the rebuild's swap 0.251 -> 0.216 s; a point lookup 8.6 -> 9.4 us; 64 KiB
# pages gained 10 ms more and made a lookup 35% slower).
SQLITE_PAGE_BYTES = 16 * 1024

# One column's values for a bulk load: a numpy array (numbers, or str objects) or a list.
Column = npt.NDArray[Any] | Sequence[Any]


def sqlite_business_date(now: str = "'now'") -> str:
    """SQL for the date in Europe/Stockholm at the UTC instant `now` (an SQLite time value).

    SQLite knows no time zones, so the zone's rule is written out: CET (UTC+1), and CEST (UTC+2)
    from the last Sunday of March to the last Sunday of October, both at 01:00 UTC (the EU's
    rule since 1996; checked against the zone database in tests/integration/test_business_date.py).
    A last Sunday of March or October is the first Sunday on or after the 25th.
    """
    year = f"strftime('%Y', {now})"
    summer_from = f"datetime({year} || '-03-25', 'weekday 0', '+1 hours')"
    summer_until = f"datetime({year} || '-10-25', 'weekday 0', '+1 hours')"
    return (
        f"date({now}, CASE WHEN datetime({now}) >= {summer_from} "
        f"AND datetime({now}) < {summer_until} THEN '+2 hours' ELSE '+1 hours' END)"
    )


class RebuildBlocked(Unavailable):
    """A projector is applying to this read store: rebuilding now would lose its batches."""


class Dialect(Protocol):
    """The database-specific parts of a read store."""

    name: str
    placeholder: str
    table_suffix: str
    today: str  # SQL for today's business date (Europe/Stockholm)
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

    def bulk_insert(self, table: str, names: Sequence[str], columns: Sequence[Column]) -> None:
        """Load rows into a fresh table fast: `columns[i]` holds column `names[i]`'s values, in
        row order."""

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
    # Dates are ISO text, which sorts like dates; today is the business date in Stockholm.
    today = sqlite_business_date()
    year_end_or_today = f"MIN(printf('%04d-12-31', y.year), {today})"

    def __init__(self, location: StoreLocation) -> None:
        assert location.sqlite_path is not None
        self.path = location.sqlite_path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(
            self.path, timeout=SQLITE_BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        # Takes effect only while the database is still empty (before WAL mode is set).
        self.connection.execute(f"PRAGMA page_size={SQLITE_PAGE_BYTES}")
        self.connection.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives a process crash; the replay store re-applies the
        # rest after a power loss (batches are applied exactly once either way).
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")

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

    def bulk_insert(self, table: str, names: Sequence[str], columns: Sequence[Column]) -> None:
        """executemany of an INSERT of ROWS_PER_INSERT rows (one of single rows for the rest)."""
        assert len(names) == len(columns), (table, names)
        rows = len(columns[0]) if columns else 0
        for index, values in enumerate(columns):
            assert len(values) == rows, (table, names[index])
        row_marks = f"({', '.join('?' for _ in names)})"
        insert = f"INSERT INTO {table} ({', '.join(names)}) VALUES "
        many = insert + ", ".join([row_marks] * ROWS_PER_INSERT)
        for start in range(0, rows, BULK_BATCH_ROWS):
            # A batch's values laid out row by row in one object array (numpy arrays are
            # converted to Python numbers by this assignment), then cut into statements' worth.
            stop = min(start + BULK_BATCH_ROWS, rows)
            grid = np.empty((stop - start, len(names)), dtype=object)
            for index, values in enumerate(columns):
                grid[:, index] = values[start:stop]
            whole = len(grid) - len(grid) % ROWS_PER_INSERT
            if whole:
                self.connection.executemany(
                    many, grid[:whole].reshape(-1, len(names) * ROWS_PER_INSERT).tolist()
                )
            if whole < len(grid):
                self.connection.executemany(insert + row_marks, grid[whole:].tolist())

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
    # Today is the business date in Stockholm (PostgreSQL knows the zone).
    today = f"(CURRENT_TIMESTAMP AT TIME ZONE '{STOCKHOLM.key}')::date"
    year_end_or_today = f"LEAST(make_date(y.year, 12, 31), {today})"

    def __init__(self, location: StoreLocation) -> None:
        assert location.postgres is not None
        self.location = location
        self.conninfo = location.postgres.conninfo()
        self.schema = location.postgres.schema
        self.connection = self._connect()
        self._in_transaction = False

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        try:
            connection = psycopg.connect(self.conninfo, autocommit=True)
        except psycopg.OperationalError as exc:
            raise Unavailable("read store", self.location.shown, f"cannot connect: {exc}") from None
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

    def bulk_insert(self, table: str, names: Sequence[str], columns: Sequence[Column]) -> None:
        """COPY FROM STDIN."""
        assert len(names) == len(columns), (table, names)
        # psycopg adapts Python values, not numpy scalars.
        values = [c.tolist() if isinstance(c, np.ndarray) else c for c in columns]
        with (
            self.connection.cursor() as cursor,
            cursor.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy,
        ):
            for row in zip(*values, strict=True):
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
        holder = psycopg.connect(self.conninfo, autocommit=True)
        try:
            if exclusive:
                row = holder.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                if not row or not row[0]:
                    raise RebuildBlocked(
                        "read store",
                        self.location.shown,
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


def dialect_for(location: StoreLocation) -> Dialect:
    """The dialect of a read store location."""
    if location.kind is StoreKind.SQLITE:
        return SqliteDialect(location)
    return PostgresDialect(location)
