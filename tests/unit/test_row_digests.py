"""SHA-256 of a column's rows: one digest a row, in row order, for any lengths, in a long
column and in a slice of one (an Arrow slice keeps its parent's buffers and an offset)."""

import hashlib
import random

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.audit.row_digests import sha256_digests

LONG_COLUMN_ROWS = 24_576


def hashlib_digests(rows: list[bytes]) -> bytes:
    """The reference: hashlib a row at a time."""
    return b"".join(hashlib.sha256(row).digest() for row in rows)


@settings(max_examples=30, deadline=None)
@given(rows=st.lists(st.binary(max_size=2_000), max_size=40))
def test_every_row_is_hashlibs_digest(rows: list[bytes]) -> None:
    """Empty rows, long rows, no rows at all."""
    assert sha256_digests(pa.array(rows, pa.binary()).to_pylist()) == hashlib_digests(rows)


def test_order_holds_in_a_long_column_and_in_a_slice() -> None:
    """A long column, and a column that is a slice of a longer one."""
    generator = random.Random(11)
    rows = [generator.randbytes(generator.randrange(0, 700)) for _ in range(LONG_COLUMN_ROWS)]
    column = pa.array(rows, pa.binary())
    assert sha256_digests(column.to_pylist()) == hashlib_digests(rows)
    assert sha256_digests(column.slice(1_000, 9_000).to_pylist()) == hashlib_digests(
        rows[1_000:10_000]
    )
