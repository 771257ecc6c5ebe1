"""The C engine reads only native integers: an array of floats (or of another byte order) of
the right item size is refused by name, never read as integers. A float64 array has int64's
eight bytes: taken as it is, its bit patterns would come out as sums that are silently wrong."""

from typing import Any

import numpy as np
import pytest

from projections.replay import posting_sums
from projections.replay.key_spaces import MEASURE_SLOTS
from projections.replay.totals import GRANT_SLOTS

I64 = np.int64


def grant_rows(**changed: Any) -> int:
    """grant_rows over one row's well-formed input, with some arguments replaced."""
    arguments: dict[str, Any] = {
        "bins": np.array([1], dtype=I64),
        "sums": np.array([5], dtype=I64),
        "pair_programme": np.array([0], dtype=I64),
        "pair_recipient": np.array([1], dtype=I64),
        "year_first": 2018,
        "year_count": 5,
        "measure_slots": MEASURE_SLOTS,
        "grant_slots": GRANT_SLOTS,
        "out": np.zeros(3 + len(GRANT_SLOTS), dtype=I64),
    }
    arguments.update(changed)
    rows: int = posting_sums.grant_rows(*arguments.values())
    return rows


def sums_before(**changed: Any) -> int:
    """sums_before over a two-bin index at boundary 1, with some arguments replaced."""
    arguments: dict[str, Any] = {
        "bins": np.array([1, 2], dtype=I64),
        "first_chunk": np.array([0, 0], dtype=np.int32),
        "snapshot": np.array([10, 20], dtype=I64),
        "chunk_columns": np.empty(0, dtype=np.int32),
        "chunk_sums": np.empty(0, dtype=I64),
        "since_start": 0,
        "since_stop": 0,
        "boundary": 1,
        "plus_sums": np.empty(0, dtype=I64),
        "plus_touched": np.empty(0, dtype=np.uint64),
        "out_bins": np.empty(2, dtype=I64),
        "out_sums": np.empty(2, dtype=I64),
    }
    arguments.update(changed)
    count: int = posting_sums.sums_before(*arguments.values())
    return count


def test_well_formed_integer_input_is_taken() -> None:
    """The baseline the refusals below change one argument of."""
    out = np.zeros(3 + len(GRANT_SLOTS), dtype=I64)
    assert grant_rows(out=out) == 1
    assert out.tolist() == [0, 1, 2018, 0, 5, 0, 0]
    out_sums = np.empty(2, dtype=I64)
    assert sums_before(out_sums=out_sums) == 2
    assert out_sums.tolist() == [10, 20]


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("sums", np.array([5.0])),
        ("bins", np.array([0.0])),
        ("pair_recipient", np.array([1.0])),
        ("sums", np.array([5], dtype=">i8")),
    ],
)
def test_grant_rows_refuses_floats_and_foreign_byte_order(name: str, values: Any) -> None:
    """Eight-byte floats, or big-endian integers, where int64 is read: named, not summed."""
    with pytest.raises(ValueError, match="expected native integers"):
        grant_rows(**{name: values})


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("snapshot", np.array([1.5, 2.5])),
        ("first_chunk", np.array([0.0, 5.0], dtype=np.float32)),
        ("out_sums", np.empty(2, dtype=np.float64)),
    ],
)
def test_sums_before_refuses_floats(name: str, values: Any) -> None:
    """A float snapshot, float first chunks or float outputs of the right item size."""
    with pytest.raises(ValueError, match="expected native integers"):
        sums_before(**{name: values})


def test_take_touched_refuses_float_sums() -> None:
    """A float accumulator is not cleared or read as integer sums."""
    sums = np.array([0.0, 2.5])
    touched = np.array([0b10], dtype=np.uint64)
    with pytest.raises(ValueError, match="expected native integers"):
        posting_sums.take_touched(sums, touched, np.empty(1, dtype=I64), np.empty(1, dtype=I64))
    assert touched.tolist() == [0b10] and sums.tolist() == [0.0, 2.5]
