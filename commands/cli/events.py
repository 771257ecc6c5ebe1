"""`grant-ledger events`: the global log as JSON Lines envelopes (position, chain, data)."""

import argparse
import sys

import orjson

from commands.cli.options import add_store_option, open_ledger, whole_number
from ledger.application.published_log import store_envelopes
from ledger.domain.errors import LedgerError


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `events` subcommand."""
    parser = subparsers.add_parser("events", help="print the global event log as JSON Lines")
    parser.add_argument("--from", dest="from_position", type=whole_number, default=1, metavar="N")
    parser.add_argument("--limit", type=whole_number, default=None, metavar="K")
    add_store_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print envelopes from position N (the chain is computed from position 1)."""
    if args.from_position < 1:
        raise LedgerError("--from", args.from_position, "positions start at 1")
    if args.limit is not None and args.limit < 0:
        raise LedgerError("--limit", args.limit, "must be zero or more")
    ledger = open_ledger(args)
    printed = 0
    try:
        for envelope in store_envelopes(ledger):
            if args.limit is not None and printed >= args.limit:
                break
            if envelope["position"] >= args.from_position:
                sys.stdout.buffer.write(orjson.dumps(envelope) + b"\n")
                printed += 1
    finally:
        ledger.close()
    return 0
