"""`grant-ledger audit replay DIR`: the export proves itself, then its balances, as `balances`.

Needs nothing but the export: no event store, no broker, no read store, no network. Takes the
`balances` flags (views, filters, time travel) and prints exactly what `balances` prints.
"""

import argparse
import sys
from pathlib import Path

from commands.cli.audit import EXIT_INTEGRITY, EXIT_OK
from commands.cli.balances import (
    FORMATS,
    add_question_options,
    filters_of,
    flag_errors,
    parse_view,
    write_rows,
)
from ledger.audit.export_reader import ExportTampered
from ledger.domain.errors import LedgerError
from projections.application.offline_replay import export_balances, verify_export
from projections.application.query import today_utc
from projections.domain.asof import parse_as_of


def register(tools: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `audit replay`."""
    parser = tools.add_parser("replay", help="verify an export offline and replay its balances")
    parser.add_argument("directory", metavar="DIR", type=Path)
    add_question_options(parser)
    parser.add_argument("--format", default="table", metavar="|".join(FORMATS))
    parser.add_argument("--workers", type=int, default=None, help="processes (Parquet)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Exit 0 with the balances; 4 naming the first bad position when the export fails."""
    view = parse_view(args.by)
    if args.format not in FORMATS:
        raise LedgerError("--format", args.format, f"expected one of {', '.join(FORMATS)}")
    with flag_errors():
        filters = filters_of(args)
        as_of = parse_as_of(args.as_of_date, args.as_known_at, args.at_position)
    try:
        replayed = verify_export(args.directory, workers=args.workers)
    except ExportTampered as failure:
        print(
            f"grant-ledger: the export does not prove itself: {failure.field} {failure.value}: "
            f"{failure.message}",
            file=sys.stderr,
        )
        return EXIT_INTEGRITY
    with flag_errors():
        rows = export_balances(replayed, view, filters, as_of, today=today_utc())
    print(
        f"verified positions {replayed.first_position}..{replayed.last_position} (chain from "
        f"genesis, {replayed.checkpoints_checked} checkpoints, {replayed.signed_checkpoints} "
        f"signed) in {replayed.verify_s:.2f} s; last hash {replayed.last_hash}",
        file=sys.stderr,
    )
    write_rows(view, rows, args.format)
    return EXIT_OK
