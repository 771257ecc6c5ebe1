"""`grant-ledger audit replay DIR`: the export proves itself, then its balances, as `balances`.

Needs nothing but the export and the ledger's public key (GRANT_LEDGER_TRUSTED_KEYS, as every
reader: refused when unset): no event store, no broker, no read store, no network. Every
checkpoint must verify under a trusted key and one must sign the export's last position, or it
exits 4 naming the position. Takes the `balances` flags (views, filters, time travel) and prints
exactly what `balances` prints.
"""

import argparse
import sys
from pathlib import Path

from commands.cli.audit import EXIT_INTEGRITY, EXIT_OK
from commands.cli.balances import (
    FORMATS,
    add_question_options,
    filters_of,
    write_rows,
)
from ledger.infrastructure.signing_keys import trusted_keys
from ledger.settings import Settings
from projections.application.memory import keep_freed_memory
from projections.application.offline_replay import export_balances, verify_export
from projections.domain.asof import parse_as_of
from projections.domain.filters import parse_view
from schemas.calendar import today_in_stockholm
from schemas.errors import IntegrityFailure, InvalidQuery, QueryParameter


def register(tools: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `audit replay`."""
    parser = tools.add_parser("replay", help="verify an export offline and replay its balances")
    parser.add_argument("directory", metavar="DIR", type=Path)
    add_question_options(parser)
    parser.add_argument("--format", default="table", metavar="|".join(FORMATS))
    parser.add_argument(
        "--workers", type=int, default=None, help="threads proving a Parquet export (one a core)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 with the balances; 4 naming the first bad position when the export fails."""
    trusted = trusted_keys(settings.proof)
    view = parse_view(args.by)
    if args.format not in FORMATS:
        raise InvalidQuery(
            QueryParameter.FORMAT, args.format, f"expected one of {', '.join(FORMATS)}"
        )
    filters = filters_of(args)
    as_of = parse_as_of(args.as_of_date, args.as_known_at, args.at_position)
    # As rebuild and balances do: the proof's temporary arrays reuse freed memory instead of
    # faulting fresh pages a batch (a sixth of the proof's CPU, measured).
    keep_freed_memory()
    try:
        replayed = verify_export(args.directory, trusted, workers=args.workers)
    except IntegrityFailure as failure:
        print(
            f"grant-ledger: the export does not prove itself: {failure.field} {failure.value}: "
            f"{failure.message}",
            file=sys.stderr,
        )
        return EXIT_INTEGRITY
    rows = export_balances(replayed, view, filters, as_of, today=today_in_stockholm())
    print(
        f"verified positions {replayed.first_position}..{replayed.last_position} (chain from "
        f"genesis; {replayed.checkpoints_checked} checkpoints, each signed by a trusted key: "
        f"{', '.join(replayed.signing_key_ids)}; the last at position {replayed.last_position}) "
        f"in {replayed.verify_s:.2f} s; last hash {replayed.last_hash}",
        file=sys.stderr,
    )
    write_rows(view, rows, args.format)
    return EXIT_OK
