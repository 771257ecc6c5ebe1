"""Balance rows as records with the recipient's or county's name beside its code.

A replay-store answer of the recipient-year view comes as the engine's columns
(RecipientYearRows): its records are made column by column (names by code, derived fields by
the row type's own property applied to whole columns), not row object by row object.
"""

from collections.abc import Sequence
from typing import Any

from projections.domain.rows import FIELDS, ROW_TYPES, BalanceRow, View, as_record
from projections.replay import RecipientYearRows, collector_paused
from schemas.recipients import counties, recipient_display_name

# The code field each view names, and the name field added right after it.
NAMED_CODES: dict[View, tuple[str, str]] = {
    View.RECIPIENT_YEAR: ("recipient", "recipient_name"),
    View.COUNTY_YEAR: ("county", "county_name"),
}
CODE_FIELDS = frozenset(code for code, _ in NAMED_CODES.values())


def named_fields(view: View) -> tuple[str, ...]:
    """The view's output fields with its name field after the code."""
    fields = list(FIELDS[view])
    if view in NAMED_CODES:
        code, name = NAMED_CODES[view]
        fields.insert(fields.index(code) + 1, name)
    return tuple(fields)


def named_record(view: View, row: BalanceRow) -> dict[str, Any]:
    """The row's record (as `balances --format json`) plus the name of its code."""
    record = as_record(row)
    if view not in NAMED_CODES:
        return record
    code_field, name_field = NAMED_CODES[view]
    code = record[code_field]
    name = counties().get(code, code) if view is View.COUNTY_YEAR else recipient_display_name(code)
    return {field: name if field == name_field else record[field] for field in named_fields(view)}


def named_values(view: View, rows: Sequence[BalanceRow]) -> list[tuple[Any, ...]]:
    """Each row's values in `named_fields(view)` order (the records' values, without keys)."""
    if isinstance(rows, RecipientYearRows) and view is View.RECIPIENT_YEAR:
        columns = _recipient_year_columns(rows)
        with collector_paused():
            return list(zip(*columns.values(), strict=True))
    fields = named_fields(view)
    return [tuple(record[field] for field in fields) for record in named_records(view, rows)]


def named_records(view: View, rows: Sequence[BalanceRow]) -> list[dict[str, Any]]:
    """`named_record` of every row."""
    if isinstance(rows, RecipientYearRows) and view is View.RECIPIENT_YEAR:
        fields = named_fields(view)
        values = named_values(view, rows)
        with collector_paused():
            return [dict(zip(fields, row, strict=True)) for row in values]
    return [named_record(view, row) for row in rows]


def _recipient_year_columns(rows: RecipientYearRows) -> dict[str, list[Any]]:
    """The named fields of recipient-year rows, column by column."""
    view = View.RECIPIENT_YEAR
    code_field, name_field = NAMED_CODES[view]
    columns: dict[str, list[Any]] = dict(rows.field_lists())
    columns[name_field] = rows.recipient_labels(recipient_display_name)
    row_type = ROW_TYPES[view]
    for field in FIELDS[view]:
        if field not in columns:
            # A derived field: the row type's property, run once over whole columns.
            derived = getattr(row_type, field)
            assert isinstance(derived, property) and derived.fget is not None, field
            columns[field] = derived.fget(rows.totals).tolist()
    fields = named_fields(view)
    assert set(columns) == set(fields) and code_field in columns, (sorted(columns), fields)
    return {field: columns[field] for field in fields}
