"""Balance rows as files: CSV (integer öre), Parquet (typed columns), Excel (kronor).

The columns are the view's output fields (projections.domain.rows.FIELDS), the same as
`balances --format json` gives, so a file and the command can be compared row by row.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq
import xlsxwriter

from ledger.domain.errors import LedgerError
from projections.domain.rows import FIELDS, MONEY_SUFFIX, BalanceRow, View, as_record
from schemas.money import ORE_PER_SEK

BALANCE_FORMATS: Final = ("csv", "parquet", "xlsx")
TEXT_FIELDS: Final = frozenset({"programme_id", "recipient", "agency", "county"})
KRONOR_FORMAT: Final = '#,##0.00 "kr";-#,##0.00 "kr"'
MIN_COLUMN_WIDTH: Final = 10


def balance_schema(view: View) -> pa.Schema:
    """The view's fields as typed columns: codes as text, year and öre as int64."""
    return pa.schema(
        [
            pa.field(name, pa.string() if name in TEXT_FIELDS else pa.int64(), nullable=False)
            for name in FIELDS[view]
        ]
    )


def write_balance_file(view: View, rows: list[BalanceRow], path: Path, file_format: str) -> None:
    """Write the rows in the format asked for."""
    if file_format not in BALANCE_FORMATS:
        raise LedgerError("--format", file_format, f"expected one of {', '.join(BALANCE_FORMATS)}")
    records = [as_record(row) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    if file_format == "csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(FIELDS[view]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(records)
    elif file_format == "parquet":
        schema = balance_schema(view)
        pq.write_table(pa.Table.from_pylist(records, schema=schema), path, compression="zstd")
    else:
        _write_workbook(view, records, path)


def _write_workbook(view: View, records: list[dict[str, Any]], path: Path) -> None:
    """One sheet: codes as text, money in kronor with two decimals (exact in Excel's doubles)."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet(view.value)
    bold = book.add_format({"bold": True, "bottom": 1})
    money = book.add_format({"num_format": KRONOR_FORMAT})
    text = book.add_format({"num_format": "@"})
    fields = FIELDS[view]
    for column, name in enumerate(fields):
        header = name.removesuffix(MONEY_SUFFIX) + " (kr)" if name.endswith(MONEY_SUFFIX) else name
        sheet.write_string(0, column, header, bold)
        sheet.set_column(column, column, max(MIN_COLUMN_WIDTH, len(header) + 6))
    for row, record in enumerate(records, start=1):
        for column, name in enumerate(fields):
            value = record[name]
            if name.endswith(MONEY_SUFFIX):
                sheet.write_number(row, column, value / ORE_PER_SEK, money)
            elif name in TEXT_FIELDS:
                sheet.write_string(row, column, str(value), text)
            else:
                sheet.write_number(row, column, value)
    sheet.freeze_panes(1, 0)
    sheet.autofilter(0, 0, max(len(records), 1), len(fields) - 1)
    book.close()
