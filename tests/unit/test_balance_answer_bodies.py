"""A recipient-year answer's bodies written from the engine's columns are the bodies of its rows
written one by one: CSV byte for byte (plain and Swedish Excel), JSON byte for byte against the
standard library's encoder as the HTTP layer used it, for hostile text (quotes, semicolons,
line breaks, a leading formula sign, non-ASCII), negative and extreme money, an empty answer,
and answers with more or fewer rows than recipient codes."""

import json
from typing import Any

import numpy as np
import orjson
import pytest

from commands.exports.csv_export import EXCEL_SV, csv_bytes
from commands.exports.records import named_fields, named_record, named_records, named_values
from projections.domain.rows import View
from projections.replay import RecipientYearRows, RecipientYearTotals

VIEW = View.RECIPIENT_YEAR
HOSTILE_PROGRAMMES = [
    'p"q',
    "p;q",
    "p\nq",
    "p\r\nq",
    '=HYPERLINK("http://x")',
    "+1",
    "-p",
    "-1",
    "@x",
    "Åtgärd ä ö",
]
# Digits only: the Excel dialect writes codes as ="0123" formulas and refuses anything else.
DIGIT_RECIPIENTS = ["", "1280", "0180", "8020123456", "0001", "9999999999"]
HOSTILE_RECIPIENTS = ["", '="0"', "a,b", "a\r\nb", 'x"y', "-1"]
INT64_MIN, INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
EXTREME_MONEY = [0, -1, -99, -100, -101, 1, 99, 100, 135_000_000_050, INT64_MIN + 1, INT64_MAX]


def columns_of(rows: int, programmes: list[str], recipients: list[str], seed: int) -> Any:
    """`rows` random rows over these names (recipient code 0 is no real recipient)."""
    generator = np.random.default_rng(seed)
    money = np.array(EXTREME_MONEY, dtype=np.int64)

    def sums() -> Any:
        return generator.choice(money, rows)

    table = RecipientYearTotals(
        generator.integers(0, len(programmes), rows, dtype=np.int64),
        generator.integers(1, len(recipients), rows, dtype=np.int64),
        generator.integers(2018, 2023, rows, dtype=np.int64),
        sums(),
        # awarded - disbursed (outstanding) must stay inside int64, as in any real ledger
        generator.integers(-(2**61), 2**61, rows, dtype=np.int64),
        generator.integers(-(2**61), 2**61, rows, dtype=np.int64),
        sums(),
    )
    return RecipientYearRows(table, programmes, recipients)


def stdlib_json(document: Any) -> bytes:
    """The body starlette's JSONResponse rendered before the answer went to orjson."""
    return json.dumps(
        document, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


@pytest.mark.parametrize("rows", [0, 1, 3, 200])
@pytest.mark.parametrize("dialect", [None, EXCEL_SV])
def test_csv_from_columns_is_the_csv_of_the_rows(rows: int, dialect: str | None) -> None:
    """Fewer rows than recipient codes (labelled per row) and more (labelled per code)."""
    recipients = DIGIT_RECIPIENTS if dialect == EXCEL_SV else HOSTILE_RECIPIENTS
    answer = columns_of(rows, HOSTILE_PROGRAMMES, recipients, seed=rows)
    one_by_one = list(answer)
    fields = named_fields(VIEW)
    from_columns = csv_bytes(fields, named_values(VIEW, answer), dialect)
    from_rows = csv_bytes(fields, named_values(VIEW, one_by_one), dialect)
    assert from_columns == from_rows
    assert from_columns.count(b"\n") >= rows + 1, "a header and a line per row at least"


@pytest.mark.parametrize("rows", [0, 1, 200])
def test_json_from_columns_is_the_json_of_the_rows(rows: int) -> None:
    """orjson over the column records: the bytes the standard library gave for the records
    made row by row (named_record), in the same field order."""
    answer = columns_of(rows, HOSTILE_PROGRAMMES, HOSTILE_RECIPIENTS, seed=7 + rows)
    by_row = [named_record(VIEW, row) for row in answer]
    by_columns = named_records(VIEW, answer)
    assert [list(record) for record in by_columns] == [list(record) for record in by_row]
    document = {"view": VIEW.value, "position": 12, "rows": by_columns}
    assert orjson.dumps(document) == stdlib_json({**document, "rows": by_row})


def test_money_at_the_ends_of_int64_is_written_exactly() -> None:
    """The smallest and largest sums, in öre and in kronor, as the row path writes them."""
    answer = columns_of(40, ["p"], DIGIT_RECIPIENTS, seed=3)
    assert {INT64_MAX, INT64_MIN + 1} <= {row.requested_ore for row in answer}
    for dialect in (None, EXCEL_SV):
        assert csv_bytes(named_fields(VIEW), named_values(VIEW, answer), dialect) == csv_bytes(
            named_fields(VIEW), named_values(VIEW, list(answer)), dialect
        )
    assert str(INT64_MAX).encode() in orjson.dumps(named_records(VIEW, answer))
