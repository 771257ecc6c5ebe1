"""SQLite's bulk load (SqliteDialect.bulk_insert): every row once, exact, however the rows
fall into batches and multi-row statements."""

from pathlib import Path

import numpy as np
import pytest

from projections.store.dialects import BULK_BATCH_ROWS, ROWS_PER_INSERT, SqliteDialect
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
