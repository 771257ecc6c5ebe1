"""Balance rows as records with the recipient's or county's name beside its code."""

from typing import Any

from projections.domain.rows import FIELDS, BalanceRow, View, as_record
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
