"""`grant-ledger balances`: balances per recipient, programme or agency and year; as of any time.

Plain questions read the read store; --as-of-date, --as-known-at and --at-position run on the
local replay store with numpy. Table output shows SEK; JSON and CSV give integer öre.
"""

import argparse
import csv
import sys
from datetime import UTC, date, datetime
from typing import Any

import orjson

from commands.cli.read_side_options import add_store_options
from ledger.domain.errors import LedgerError
from projections.application.memory import keep_freed_memory
from projections.application.query import replay_balances, stored_balances
from projections.domain.asof import AsOf
from projections.domain.rows import FIELDS, MONEY_SUFFIX, BalanceRow, View, as_record
from projections.domain.selection import Selection
from projections.replay.store import ReplayStore
from projections.store.location import parse_read_store_url, read_store_url, replay_directory
from projections.store.read_store import ReadStore
from schemas.calendar import MAX_YEAR, MIN_YEAR
from schemas.money import format_sek

FORMATS = ("table", "json", "csv")
COLUMN_GAP = "  "


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `balances` subcommand."""
    parser = subparsers.add_parser(
        "balances", help="balances per recipient/programme/agency and year"
    )
    add_question_options(parser)
    parser.add_argument("--format", default="table", metavar="|".join(FORMATS))
    add_store_options(parser)
    parser.set_defaults(run=run)


def add_question_options(parser: argparse.ArgumentParser) -> None:
    """--by, the filters and the time-travel flags (also `export balances`)."""
    parser.add_argument(
        "--by", default=View.RECIPIENT_YEAR.value, metavar="|".join(v.value for v in View)
    )
    parser.add_argument("--programme", metavar="ID", default=None)
    parser.add_argument("--recipient", metavar="CODE", default=None)
    parser.add_argument("--year", metavar="Y", default=None)
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


def parse_view(raw: str) -> View:
    """--by."""
    try:
        return View(raw)
    except ValueError:
        raise LedgerError(
            "--by", raw, f"expected one of {', '.join(v.value for v in View)}"
        ) from None


def parse_year(raw: str | None) -> int | None:
    """--year."""
    if raw is None:
        return None
    if not raw.isdigit() or not MIN_YEAR <= int(raw) <= MAX_YEAR:
        raise LedgerError("--year", raw, f"expected a year between {MIN_YEAR} and {MAX_YEAR}")
    return int(raw)


def parse_as_of(args: argparse.Namespace) -> AsOf:
    """--as-of-date, --as-known-at, --at-position."""
    as_of_date = None
    if args.as_of_date is not None:
        try:
            as_of_date = date.fromisoformat(args.as_of_date)
        except ValueError:
            raise LedgerError(
                "--as-of-date", args.as_of_date, "expected a date YYYY-MM-DD"
            ) from None
    known_at = None
    if args.as_known_at is not None:
        try:
            known_at = datetime.fromisoformat(args.as_known_at)
        except ValueError:
            raise LedgerError(
                "--as-known-at",
                args.as_known_at,
                "expected an ISO 8601 timestamp, e.g. 2021-05-17T12:00:00Z",
            ) from None
        if known_at.tzinfo is None:
            known_at = known_at.replace(tzinfo=UTC)
    position = None
    if args.at_position is not None:
        if not str(args.at_position).isdigit():
            raise LedgerError("--at-position", args.at_position, "expected a whole number >= 0")
        position = int(args.at_position)
    return AsOf(as_of_date=as_of_date, as_known_at=known_at, at_position=position)


def run(args: argparse.Namespace) -> int:
    """Print the balances."""
    if args.format not in FORMATS:
        raise LedgerError("--format", args.format, f"expected one of {', '.join(FORMATS)}")
    view, rows = answer(args)
    write_rows(view, rows, args.format)
    return 0


def answer(args: argparse.Namespace) -> tuple[View, list[BalanceRow]]:
    """The view asked for and its rows (read store, or replay store for as-of questions)."""
    keep_freed_memory()
    view = parse_view(args.by)
    selection = Selection(
        programme_id=args.programme, recipient=args.recipient, year=parse_year(args.year)
    )
    as_of = parse_as_of(args)
    location = parse_read_store_url(read_store_url(args.read_store))
    if as_of.is_current:
        with ReadStore(location) as read_store:
            rows = stored_balances(read_store, view, selection)
    else:
        replay = ReplayStore(replay_directory(args.replay_dir, location))
        rows = replay_balances(replay, view, selection, as_of)
    return view, rows


def write_rows(view: View, rows: list[BalanceRow], output_format: str) -> None:
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
