"""SQLite's bulk load (SqliteDialect.bulk_insert): every row once, exact, however the rows
fall into batches and multi-row statements; and the page size a new read store is made with."""

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from projections.store.dialects import (
    BULK_BATCH_ROWS,
    ROWS_PER_INSERT,
    SQLITE_PAGE_BYTES,
    SqliteDialect,
)
from projections.store.location import parse_read_store_url
from projections.store.location import sqlite_url as url_of

INT64_MAX = np.iinfo(np.int64).max


@pytest.mark.parametrize(
    "rows",
    [0, 1, ROWS_PER_INSERT, BULK_BATCH_ROWS, 2 * BULK_BATCH_ROWS + ROWS_PER_INSERT + 3],
)
def test_every_row_is_stored_once_with_its_own_values(tmp_path: Path, rows: int) -> None:
    """Numpy columns and list columns together; öre at int64's edges; text keys."""
    dialect = SqliteDialect(parse_read_store_url(url_of(tmp_path / "bulk.db")))
    try:
        dialect.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, ore BIGINT) WITHOUT ROWID")
        keys = [f"{row:08d}" for row in range(rows)]
        numbers = np.arange(rows, dtype=np.int64)
        ore = np.where(numbers % 2 == 0, INT64_MAX - numbers, -INT64_MAX + numbers)
        dialect.begin()
        dialect.bulk_insert("t", ["k", "n", "ore"], [keys, numbers, ore])
        dialect.commit()
        stored = dialect.execute("SELECT k, n, ore FROM t ORDER BY k")
    finally:
        dialect.close()
    assert stored == list(zip(keys, numbers.tolist(), ore.tolist(), strict=True))


def test_columns_of_different_lengths_are_refused(tmp_path: Path) -> None:
    """A short column is named, and nothing is written."""
    dialect = SqliteDialect(parse_read_store_url(url_of(tmp_path / "bulk.db")))
    try:
        dialect.execute("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER) WITHOUT ROWID")
        with pytest.raises(AssertionError, match="'n'"):
            dialect.bulk_insert("t", ["k", "n"], [["a", "b"], np.arange(1)])
        assert dialect.execute("SELECT count(*) FROM t") == [(0,)]
    finally:
        dialect.close()


def test_a_new_store_gets_large_pages_and_an_existing_one_keeps_its_own(tmp_path: Path) -> None:
    """SQLITE_PAGE_BYTES for a new database; a database made before keeps its page size (SQLite
    cannot change it in WAL mode), and opens as before."""
    new = SqliteDialect(parse_read_store_url(url_of(tmp_path / "new.db")))
    try:
        new.execute("CREATE TABLE t (k TEXT PRIMARY KEY) WITHOUT ROWID")
        assert new.execute("PRAGMA page_size") == [(SQLITE_PAGE_BYTES,)]
    finally:
        new.close()
    with sqlite3.connect(tmp_path / "old.db") as made_before:
        made_before.execute("PRAGMA page_size=4096")
        made_before.execute("CREATE TABLE t (k TEXT PRIMARY KEY) WITHOUT ROWID")
        made_before.execute("INSERT INTO t VALUES ('a')")
    made_before.close()
    old = SqliteDialect(parse_read_store_url(url_of(tmp_path / "old.db")))
    try:
        assert old.execute("PRAGMA page_size") == [(4096,)]
        assert old.execute("SELECT k FROM t") == [("a",)]
    finally:
        old.close()
