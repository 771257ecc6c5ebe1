"""Balances as CSV: plain (comma, integer öre) or `excel-sv` for Swedish Excel.

`excel-sv`: a UTF-8 BOM (Excel then reads å, ä, ö right), semicolons, CRLF, money in kronor
with a decimal comma and no grouping (Excel in a Swedish locale reads it as a number), and
codes written as `="0123"` so Excel keeps them as text with their leading zero.
"""

import csv
import io
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from commands.exports.records import CODE_FIELDS
from projections.domain.rows import MONEY_SUFFIX
from schemas.money import ORE_PER_SEK

EXCEL_SV = "excel-sv"
DIALECTS = (EXCEL_SV,)
KRONOR_SUFFIX = "_kr"
BOM = "\ufeff"
EXCEL_SV_DELIMITER = ";"
EXCEL_SV_LINE_END = "\r\n"
NEEDS_QUOTES = frozenset(';"\r\n')


def csv_bytes(fields: tuple[str, ...], rows: Iterable[Sequence[Any]], dialect: str | None) -> bytes:
    """The header row and one line per row (its values in `fields` order)."""
    assert dialect in (None, *DIALECTS), dialect
    out = io.StringIO()
    if dialect is None:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(fields)
        writer.writerows(rows)
        return out.getvalue().encode("utf-8")
    # Written by hand: the csv module would quote `="0123"` (it holds quotes), and a quoted
    # formula is no longer one for every Excel.
    out.write(BOM)
    out.write(EXCEL_SV_DELIMITER.join(_quoted(_excel_header(field)) for field in fields))
    out.write(EXCEL_SV_LINE_END)
    cells = [_excel_cell_writer(field) for field in fields]
    for row in rows:
        assert len(row) == len(fields), (fields, row)
        out.write(EXCEL_SV_DELIMITER.join(map(_apply, cells, row)))
        out.write(EXCEL_SV_LINE_END)
    return out.getvalue().encode("utf-8")


def kronor_text(amount_ore: int) -> str:
    """Öre as kronor with a decimal comma and no grouping: 135000000 -> 1350000,00."""
    sign = "-" if amount_ore < 0 else ""
    kronor, ore = divmod(abs(amount_ore), ORE_PER_SEK)
    return f"{sign}{kronor},{ore:02d}"


def _excel_header(field: str) -> str:
    if field.endswith(MONEY_SUFFIX):
        return field.removesuffix(MONEY_SUFFIX) + KRONOR_SUFFIX
    return field


def _excel_cell_writer(field: str) -> Callable[[Any], str]:
    """How a field's values are written: kronor, a code kept as text, or quoted text."""
    if field.endswith(MONEY_SUFFIX):
        return kronor_text
    if field in CODE_FIELDS:
        return _code_formula
    return _quoted_text


def _apply(cell: Callable[[Any], str], value: Any) -> str:
    return cell(value)


def _code_formula(value: Any) -> str:
    assert str(value).isdigit(), value  # official codes: digits only, safe in a formula
    return f'="{value}"'


def _quoted_text(value: Any) -> str:
    return _quoted(str(value))


def _quoted(text: str) -> str:
    """RFC 4180 quoting where needed; a leading =, +, - or @ is defused (no formula injection
    from names)."""
    if text[:1] in ("=", "+", "@") or (text[:1] == "-" and not text[1:2].isdigit()):
        text = "'" + text
    if NEEDS_QUOTES.intersection(text):
        return '"' + text.replace('"', '""') + '"'
    return text
