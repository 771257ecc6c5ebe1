"""`export balances`: one view's rows as a file, in the formats finance's HTTP exports use.

CSV and Excel come from this package's writers (the same files `GET /v1/balances/...` gives:
integer öre in CSV, kronor in the workbook); Parquet has typed columns (codes as text, year and
öre as int64). The columns are the view's output fields, as `balances --format json` gives.
"""

from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from commands.exports.csv_export import csv_bytes
from commands.exports.workbook import Sheet, workbook_bytes
from projections.application.query import BalanceAnswer
from projections.domain.rows import FIELDS, MONEY_SUFFIX, View, as_record
from schemas.errors import InvalidQuery, QueryParameter

BALANCE_FORMATS: Final = ("csv", "parquet", "xlsx")
INTEGER_FIELDS: Final = frozenset({"year"})


def balance_schema(view: View) -> pa.Schema:
    """The view's fields as typed columns: codes and names as text, year and öre as int64."""
    return pa.schema(
        [
            pa.field(
                name,
                pa.int64()
                if name.endswith(MONEY_SUFFIX) or name in INTEGER_FIELDS
                else pa.string(),
                nullable=False,
            )
            for name in FIELDS[view]
        ]
    )


def write_balance_file(answer: BalanceAnswer, path: Path, file_format: str) -> None:
    """Write the answer's rows in the format asked for."""
    if file_format not in BALANCE_FORMATS:
        raise InvalidQuery(
            QueryParameter.FORMAT, file_format, f"expected one of {', '.join(BALANCE_FORMATS)}"
        )
    view, fields = answer.view, FIELDS[answer.view]
    records = [as_record(row) for row in answer.rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    if file_format == "csv":
        path.write_bytes(csv_bytes(fields, [tuple(r.values()) for r in records], None))
    elif file_format == "parquet":
        table = pa.Table.from_pylist(records, schema=balance_schema(view))
        pq.write_table(table, path, compression="zstd")
    else:
        caption = f"{view.value} at log position {answer.position} ({answer.source})"
        path.write_bytes(workbook_bytes([Sheet(view, fields, records, caption)]))
