"""`grant-ledger balances`: balances per recipient, programme, agency or county and year; as of
any time.

Plain questions read the read store; --as-of-date, --as-known-at and --at-position run on the
local replay store with numpy. Table output shows SEK; JSON and CSV give integer öre.
"""

import argparse
import csv
import sys
from collections.abc import Sequence
from typing import Any

import orjson

from commands.cli.read_side_options import add_store_options, read_side_stores
from ledger.settings import Settings
from projections.application.memory import keep_freed_memory
from projections.application.query import BalanceAnswer, balances_answer
from projections.domain.asof import parse_as_of
from projections.domain.filters import (
    Filters,
    distinct,
    parse_counties,
    parse_view,
    parse_years,
)
from projections.domain.rows import FIELDS, MONEY_SUFFIX, BalanceRow, View, as_record
from schemas.errors import InvalidQuery, QueryParameter
from schemas.money import format_sek

FORMATS = ("table", "json", "csv")
COLUMN_GAP = "  "


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `balances` subcommand."""
    parser = subparsers.add_parser(
        "balances", help="balances per recipient/programme/agency/county and year"
    )
    add_question_options(parser)
    parser.add_argument("--format", default="table", metavar="|".join(FORMATS))
    add_store_options(parser)
    parser.set_defaults(run=run)


def add_question_options(parser: argparse.ArgumentParser) -> None:
    """--by, the filters and the time-travel flags (also `export balances`, `audit replay`)."""
    parser.add_argument(
        "--by", default=View.RECIPIENT_YEAR.value, metavar="|".join(v.value for v in View)
    )
    # Every filter may be repeated: a row is kept when it matches any of the values given.
    parser.add_argument("--programme", metavar="ID", action="append", default=[])
    parser.add_argument("--recipient", metavar="CODE", action="append", default=[])
    parser.add_argument("--county", metavar="LANSKOD", action="append", default=[])
    parser.add_argument("--agency", metavar="SLUG", action="append", default=[])
    parser.add_argument(
        "--year", metavar="Y|Y1..Y2", action="append", default=[], help="a year or a range"
    )
    parser.add_argument(
        "--as-of-date", metavar="D", default=None, help="count events effective on or before D"
    )
    parser.add_argument(
        "--as-known-at",
        metavar="TIMESTAMP",
        default=None,
        help="count events recorded by then (UTC if no zone)",
    )
    parser.add_argument("--at-position", metavar="N", default=None, help="count positions up to N")


def filters_of(args: argparse.Namespace) -> Filters:
    """The filter flags as the read side's Filters."""
    return Filters(
        programmes=distinct(args.programme, QueryParameter.PROGRAMME),
        recipients=distinct(args.recipient, QueryParameter.RECIPIENT),
        counties=parse_counties(args.county),
        agencies=distinct(args.agency, QueryParameter.AGENCY),
        years=parse_years(args.year),
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print the balances."""
    if args.format not in FORMATS:
        raise InvalidQuery(
            QueryParameter.FORMAT, args.format, f"expected one of {', '.join(FORMATS)}"
        )
    answer = balances_of(args, settings)
    write_rows(answer.view, answer.rows, args.format)
    return 0


def balances_of(args: argparse.Namespace, settings: Settings) -> BalanceAnswer:
    """The question the flags ask, answered from the read store (or the replay store)."""
    keep_freed_memory()
    view = parse_view(args.by)
    stores = read_side_stores(args, settings)
    return balances_answer(
        stores.read_store,
        stores.replay_directory,
        view,
        filters_of(args),
        parse_as_of(args.as_of_date, args.as_known_at, args.at_position),
    )


def write_rows(view: View, rows: Sequence[BalanceRow], output_format: str) -> None:
    """Rows to stdout as a table (SEK), JSON or CSV (integer öre)."""
    fields = FIELDS[view]
    records = [as_record(row) for row in rows]
    if output_format == "json":
        sys.stdout.buffer.write(orjson.dumps(records, option=orjson.OPT_INDENT_2) + b"\n")
        return
    if output_format == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(fields), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return
    sys.stdout.write(render_table(fields, records))


def render_table(fields: tuple[str, ...], records: list[dict[str, Any]]) -> str:
    """Aligned columns; money in kronor, right-aligned."""
    headers = [name.removesuffix(MONEY_SUFFIX) for name in fields]
    cells = [
        [
            format_sek(value) if name.endswith(MONEY_SUFFIX) else str(value)
            for name, value in record.items()
        ]
        for record in records
    ]
    widths = [
        max([len(header)] + [len(row[i]) for row in cells]) for i, header in enumerate(headers)
    ]
    money = [name.endswith(MONEY_SUFFIX) for name in fields]

    def line(values: list[str]) -> str:
        return COLUMN_GAP.join(
            value.rjust(width) if is_money else value.ljust(width)
            for value, width, is_money in zip(values, widths, money, strict=True)
        ).rstrip()

    out = [line(headers), line(["-" * width for width in widths])]
    out.extend(line(row) for row in cells)
    if not cells:
        out.append("(no balances)")
    return "\n".join(out) + "\n"
