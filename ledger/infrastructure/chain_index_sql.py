"""The chain index's table in the event store's database: one row per published position.

`chain_index` (position, notification_id, prev_hash, hash, aggregate_id, aggregate_version,
application_id, recipient) is derived from the store alone and can be dropped and rebuilt at
any time. Positions are its primary key and notification ids are unique, so two processes
extending it at once cannot both add a position: the loser's transaction fails whole and it
re-reads. Looked up by application, by recipient and by position range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

CHAIN_INDEX_TABLE = "chain_index"
HASH_BYTES = 32
# Positions are signed 64-bit integers in both databases.
MAX_POSITION = 2**63 - 1
# SQLite binds at most 32 766 parameters a statement; stay far below for stored-event lookups.
MAX_IDS_PER_QUERY = 500

ROW_COLUMNS = (
    "position",
    "notification_id",
    "prev_hash",
    "hash",
    "aggregate_id",
    "aggregate_version",
    "application_id",
    "recipient",
)


@dataclass(frozen=True, slots=True)
class ChainRow:
    """Where one published event sits in the store and on the chain."""

    position: int
    notification_id: int
    prev_hash: str
    hash: str
    aggregate_id: str
    aggregate_version: int
    application_id: str | None
    recipient: str | None

    def as_params(self) -> tuple[Any, ...]:
        """The row as insert parameters (hashes as their 32 raw bytes)."""
        assert self.position >= 1 and self.notification_id >= 1, self
        return (
            self.position,
            self.notification_id,
            bytes.fromhex(self.prev_hash),
            bytes.fromhex(self.hash),
            self.aggregate_id,
            self.aggregate_version,
            self.application_id,
            self.recipient,
        )


def _row(values: Sequence[Any]) -> ChainRow:
    prev_hash, chain_hash = bytes(values[2]), bytes(values[3])
    assert len(prev_hash) == HASH_BYTES and len(chain_hash) == HASH_BYTES, values[0]
    return ChainRow(
        position=int(values[0]),
        notification_id=int(values[1]),
        prev_hash=prev_hash.hex(),
        hash=chain_hash.hex(),
        aggregate_id=str(values[4]),
        aggregate_version=int(values[5]),
        application_id=values[6],
        recipient=values[7],
    )


class ChainIndexSql(Protocol):
    """The chain index's queries, and stored events fetched by notification id."""

    def create_table(self) -> None:
        """Create the table and its lookups when missing."""

    def last_row(self) -> ChainRow | None:
        """The row of the highest indexed position (None: nothing indexed yet)."""

    def insert(self, rows: Sequence[ChainRow]) -> None:
        """Add rows in one transaction; eventsourcing's IntegrityError when a position or
        notification id is already there (a concurrent extender won: nothing was added)."""

    def rows_where(self, column: str, value: str) -> list[ChainRow]:
        """Rows whose application_id or recipient equals value, by position."""

    def rows_between(self, first_position: int, last_position: int) -> list[ChainRow]:
        """Rows of positions first..last, by position."""

    def stored_by_ids(self, notification_ids: Sequence[int]) -> dict[int, tuple[str, int, bytes]]:
        """(originator id, version, state) of stored events by notification id."""


WHERE_COLUMNS = frozenset({"application_id", "recipient"})


class _ChainIndexTable:
    """The chain index's queries in one database; the adapters below say how it speaks."""

    table: str
    events: str
    placeholder: str
    integer: str
    blob: str
    id_column: str

    def __init__(self, datastore: Any) -> None:
        self._datastore = datastore

    def _rows(self, cursor: Any) -> list[Sequence[Any]]:
        raise NotImplementedError

    def create_table(self) -> None:
        """Table and lookups (SQLite serialises DDL; PostgreSQL runs under the setup lock)."""
        with self._datastore.transaction(commit=True) as cursor:
            cursor.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} ("
                f"position {self.integer} PRIMARY KEY, notification_id {self.integer} NOT NULL "
                f"UNIQUE, prev_hash {self.blob} NOT NULL, hash {self.blob} NOT NULL, "
                f"aggregate_id TEXT NOT NULL, aggregate_version {self.integer} NOT NULL, "
                "application_id TEXT, recipient TEXT)"
            )
            for column in sorted(WHERE_COLUMNS):
                cursor.execute(
                    f"CREATE INDEX IF NOT EXISTS {CHAIN_INDEX_TABLE}_{column} "
                    f"ON {self.table} ({column}, position) WHERE {column} IS NOT NULL"
                )

    def _select(self, where: str, params: tuple[Any, ...]) -> list[ChainRow]:
        with self._datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT {', '.join(ROW_COLUMNS)} FROM {self.table} {where}", params)
            return [_row(values) for values in self._rows(cursor)]

    def last_row(self) -> ChainRow | None:
        """The highest position's row."""
        rows = self._select("ORDER BY position DESC LIMIT 1", ())
        return rows[0] if rows else None

    def insert(self, rows: Sequence[ChainRow]) -> None:
        """One transaction; a duplicate key fails it whole."""
        marks = ", ".join(self.placeholder for _ in ROW_COLUMNS)
        with self._datastore.transaction(commit=True) as cursor:
            cursor.executemany(
                f"INSERT INTO {self.table} ({', '.join(ROW_COLUMNS)}) VALUES ({marks})",
                [row.as_params() for row in rows],
            )

    def rows_where(self, column: str, value: str) -> list[ChainRow]:
        """By application or recipient, through its partial index."""
        assert column in WHERE_COLUMNS, column
        return self._select(f"WHERE {column} = {self.placeholder} ORDER BY position", (value,))

    def rows_between(self, first_position: int, last_position: int) -> list[ChainRow]:
        """A range of positions, through the primary key."""
        mark = self.placeholder
        return self._select(
            f"WHERE position BETWEEN {mark} AND {mark} ORDER BY position",
            (first_position, last_position),
        )

    def stored_by_ids(self, notification_ids: Sequence[int]) -> dict[int, tuple[str, int, bytes]]:
        """(originator id, version, state) by notification id, a chunk of ids a query."""
        found: dict[int, tuple[str, int, bytes]] = {}
        with self._datastore.transaction(commit=False) as cursor:
            for start in range(0, len(notification_ids), MAX_IDS_PER_QUERY):
                chunk = tuple(notification_ids[start : start + MAX_IDS_PER_QUERY])
                cursor.execute(
                    f"SELECT {self.id_column}, originator_id, originator_version, state "
                    f"FROM {self.events} WHERE {self.id_column} IN "
                    f"({', '.join(self.placeholder for _ in chunk)})",
                    chunk,
                )
                for row in self._rows(cursor):
                    found[int(row[0])] = (str(row[1]), int(row[2]), bytes(row[3]))
        return found


class SqliteChainIndexSql(_ChainIndexTable):
    """The chain index in the SQLite event store file (notification id = rowid)."""

    placeholder, integer, blob, id_column = "?", "INTEGER", "BLOB", "rowid"

    def __init__(self, recorder: SQLiteApplicationRecorder) -> None:
        super().__init__(recorder.datastore)
        self.table, self.events = CHAIN_INDEX_TABLE, recorder.events_table_name

    def _rows(self, cursor: Any) -> list[Sequence[Any]]:
        return [tuple(values) for values in cursor.fetchall()]


class PostgresChainIndexSql(_ChainIndexTable):
    """The chain index in the PostgreSQL event store's schema."""

    placeholder, integer, blob, id_column = "%s", "BIGINT", "BYTEA", "notification_id"

    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        super().__init__(recorder.datastore)
        schema = recorder.datastore.schema
        self.table = f'"{schema}"."{CHAIN_INDEX_TABLE}"'
        self.events = f'"{schema}"."{recorder.events_table_name}"'

    def _rows(self, cursor: Any) -> list[Sequence[Any]]:
        # Dict rows (eventsourcing's row factory), in the order the query named the columns.
        return [tuple(values.values()) for values in cursor.fetchall()]


def chain_index_sql(recorder: ApplicationRecorder) -> ChainIndexSql:
    """The chain index's queries for the recorder's database."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        return SqliteChainIndexSql(recorder)
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresChainIndexSql(recorder)
    msg = f"no chain index for {type(recorder).__name__}"
    raise TypeError(msg)
