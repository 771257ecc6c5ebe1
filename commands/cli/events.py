"""`grant-ledger events`: the global log as JSON Lines envelopes (position, chain, data)."""

import argparse
import sys

import orjson

from commands.cli.options import add_store_option, open_ledger, whole_number
from ledger.application.published_log import log_page
from ledger.domain.errors import LedgerError

PAGE_EVENTS = 1_000


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `events` subcommand."""
    parser = subparsers.add_parser("events", help="print the global event log as JSON Lines")
    parser.add_argument("--from", dest="from_position", type=whole_number, default=1, metavar="N")
    parser.add_argument("--limit", type=whole_number, default=None, metavar="K")
    add_store_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Print envelopes from position N, a page at a time through the chain index."""
    if args.from_position < 1:
        raise LedgerError("--from", args.from_position, "positions start at 1")
    if args.limit is not None and args.limit < 0:
        raise LedgerError("--limit", args.limit, "must be zero or more")
    ledger = open_ledger(args)
    position, remaining = args.from_position, args.limit
    try:
        while remaining is None or remaining > 0:
            wanted = PAGE_EVENTS if remaining is None else min(PAGE_EVENTS, remaining)
            page = log_page(ledger, position, wanted)
            sys.stdout.buffer.write(b"".join(orjson.dumps(e) + b"\n" for e in page))
            if len(page) < wanted:
                break
            position += len(page)
            remaining = None if remaining is None else remaining - len(page)
    finally:
        ledger.close()
    return 0
