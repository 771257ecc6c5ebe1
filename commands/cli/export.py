"""`grant-ledger export events|balances`: the published record, or balances, as files.

`export events --out DIR [--format jsonl|parquet|csv] [--from-position N] [--to-position M]
[--source store|kafka]` writes events, checkpoints and manifest.json (see ledger/audit/export.py);
a progress bar on stderr (on a terminal), a one-line summary at the end.
`export balances --by VIEW --out FILE [--format csv|parquet|xlsx]` takes the `balances` flags.
"""

import argparse
from pathlib import Path

from commands.cli.balances import add_question_options, balances_of
from commands.cli.kafka_options import add_kafka_options, kafka_settings
from commands.cli.options import add_store_option, open_ledger
from commands.cli.read_side_options import add_store_options, require_bootstrap
from commands.exports.balance_files import BALANCE_FORMATS, write_balance_file
from ledger.audit.export import FORMATS, export_events
from ledger.audit.export_sources import (
    SOURCE_KAFKA,
    SOURCE_STORE,
    SOURCES,
    PositionRange,
    from_kafka,
    from_store,
)
from ledger.config import kafka_endpoint
from ledger.domain.errors import LedgerError
from projections.application.progress import Progress


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `export` subcommand with `events` and `balances`."""
    parser = subparsers.add_parser("export", help="the published record or balances as files")
    kinds = parser.add_subparsers(dest="what", required=True, metavar="events|balances")
    events = kinds.add_parser("events", help="events, checkpoints and a manifest into a directory")
    events.add_argument("--out", required=True, metavar="DIR", type=Path)
    events.add_argument("--format", default="parquet", metavar="|".join(FORMATS))
    events.add_argument("--from-position", type=int, default=1, metavar="N")
    events.add_argument("--to-position", type=int, default=None, metavar="M")
    events.add_argument("--source", default=SOURCE_STORE, metavar="|".join(SOURCES))
    add_store_option(events)
    add_kafka_options(events)
    events.set_defaults(run=run_events)
    balances = kinds.add_parser("balances", help="one balance view as CSV, Parquet or Excel")
    add_question_options(balances)
    balances.add_argument("--out", required=True, metavar="FILE", type=Path)
    balances.add_argument("--format", default="csv", metavar="|".join(BALANCE_FORMATS))
    add_store_options(balances)
    balances.set_defaults(run=run_balances)


def run_events(args: argparse.Namespace) -> int:
    """Export the published record; prints the manifest's summary."""
    if args.format not in FORMATS:
        raise LedgerError("--format", args.format, f"expected one of {', '.join(FORMATS)}")
    if args.source not in SOURCES:
        raise LedgerError("--source", args.source, f"expected one of {', '.join(SOURCES)}")
    positions = PositionRange(args.from_position, args.to_position)
    settings = kafka_settings(args)
    ledger = open_ledger(args) if args.source == SOURCE_STORE else None
    try:
        if ledger is not None:
            source = from_store(ledger, positions)
        else:
            bootstrap = require_bootstrap(settings, f"--source {SOURCE_KAFKA}")
            source = from_kafka(
                kafka_endpoint(settings, bootstrap),
                settings.topic,
                settings.checkpoint_topic,
                positions,
            )
        progress = Progress("export", source.expected_events)
        manifest = export_events(
            source,
            args.out,
            args.format,
            first_position=positions.first,
            checkpoint_every=settings.checkpoint_every,
            progress=progress.update,
        )
    finally:
        if ledger is not None:
            ledger.close()
    progress.finish(
        f"exported positions {manifest['first_position']}..{manifest['last_position']} "
        f"({manifest['events']} events, {manifest['checkpoints']} checkpoints) as "
        f"{args.format} to {args.out}; last hash {manifest['last_hash']}"
    )
    return 0


def run_balances(args: argparse.Namespace) -> int:
    """Write one balance view to a file."""
    if args.format not in BALANCE_FORMATS:
        raise LedgerError("--format", args.format, f"expected one of {', '.join(BALANCE_FORMATS)}")
    answer = balances_of(args)
    write_balance_file(answer, args.out, args.format)
    return 0
