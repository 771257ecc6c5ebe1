"""Balances as an Excel workbook for finance (XlsxWriter): one sheet per view asked for.

Amounts in kronor with two decimals in a Swedish-style number format (Excel shows the
locale's separators: `1 350 000,00 kr` in Swedish), codes as text, a totals row of SUM
formulas (their computed values stored too), the ledger position each sheet reflects on top.
Excel holds numbers as doubles: kronor with two decimals stay exact far past 10^12 kr.
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell

from commands.exports.records import CODE_FIELDS
from projections.domain.rows import MONEY_SUFFIX, View
from schemas.money import ORE_PER_SEK

KRONOR_FORMAT = '#,##0.00 "kr";-#,##0.00 "kr"'
TITLE_ROW = 0
HEADER_ROW = 2
FIRST_DATA_ROW = 3
MIN_COLUMN_WIDTH = 10
MAX_COLUMN_WIDTH = 40


@dataclass(frozen=True, slots=True)
class Sheet:
    """One view's records and what they reflect."""

    view: View
    fields: tuple[str, ...]
    records: Sequence[dict[str, Any]]
    caption: str


def workbook_bytes(sheets: Sequence[Sheet]) -> bytes:
    """The .xlsx file."""
    assert sheets, "a workbook has at least one sheet"
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    formats = {
        "title": book.add_format({"bold": True}),
        "header": book.add_format({"bold": True, "bottom": 1}),
        "money": book.add_format({"num_format": KRONOR_FORMAT}),
        "total_money": book.add_format({"num_format": KRONOR_FORMAT, "bold": True, "top": 1}),
        "total": book.add_format({"bold": True, "top": 1}),
        "text": book.add_format({"num_format": "@"}),
    }
    for sheet in sheets:
        _write_sheet(book, sheet, formats)
    book.close()
    return buffer.getvalue()


def _write_sheet(book: Any, sheet: Sheet, formats: dict[str, Any]) -> None:
    worksheet = book.add_worksheet(sheet.view.value)
    worksheet.write_string(TITLE_ROW, 0, sheet.caption, formats["title"])
    headers = [_header(field) for field in sheet.fields]
    for column, header in enumerate(headers):
        worksheet.write_string(HEADER_ROW, column, header, formats["header"])
    widths = [max(MIN_COLUMN_WIDTH, len(header) + 2) for header in headers]
    for offset, record in enumerate(sheet.records):
        row = FIRST_DATA_ROW + offset
        for column, field in enumerate(sheet.fields):
            value = record[field]
            if field.endswith(MONEY_SUFFIX):
                worksheet.write_number(row, column, value / ORE_PER_SEK, formats["money"])
                text = f"{value / ORE_PER_SEK:,.2f} kr"
            elif field in CODE_FIELDS or isinstance(value, str):
                worksheet.write_string(row, column, str(value), formats["text"])
                text = str(value)
            else:
                worksheet.write_number(row, column, value)
                text = str(value)
            widths[column] = min(MAX_COLUMN_WIDTH, max(widths[column], len(text) + 2))
    _write_totals(worksheet, sheet, formats)
    for column, width in enumerate(widths):
        worksheet.set_column(column, column, width)
    worksheet.freeze_panes(FIRST_DATA_ROW, 0)
    last_row = FIRST_DATA_ROW + max(len(sheet.records), 1) - 1
    worksheet.autofilter(HEADER_ROW, 0, last_row, len(sheet.fields) - 1)


def _write_totals(worksheet: Any, sheet: Sheet, formats: dict[str, Any]) -> None:
    """SUM formulas under the money columns, with the exact sums as their cached values."""
    row = FIRST_DATA_ROW + len(sheet.records)
    worksheet.write_string(row, 0, "Totalt", formats["total"])
    for column, field in enumerate(sheet.fields):
        if column == 0 or not field.endswith(MONEY_SUFFIX):
            continue
        total_ore = sum(int(record[field]) for record in sheet.records)
        if sheet.records:
            first = xl_rowcol_to_cell(FIRST_DATA_ROW, column)
            last = xl_rowcol_to_cell(row - 1, column)
            formula = f"=SUM({first}:{last})"
        else:
            formula = "=0"
        worksheet.write_formula(
            row, column, formula, formats["total_money"], total_ore / ORE_PER_SEK
        )


def _header(field: str) -> str:
    return field.removesuffix(MONEY_SUFFIX) + " (kr)" if field.endswith(MONEY_SUFFIX) else field
