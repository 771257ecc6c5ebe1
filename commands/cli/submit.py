"""`grant-ledger submit FILE|-`: record commands from JSON Lines, one transaction a line."""

import argparse
import sys
from pathlib import Path

import orjson

from commands.batch.runner import run_lines
from commands.cli.options import add_store_option, open_ledger
from ledger.domain.errors import LedgerError


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `submit` subcommand."""
    parser = subparsers.add_parser("submit", help="record commands from a JSON Lines file or -")
    parser.add_argument("file", metavar="FILE|-", help="JSON Lines of commands; - reads stdin")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    add_store_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Submit every line; exit 0 only when every line succeeded."""
    if args.file == "-":
        stream = sys.stdin.buffer
    else:
        path = Path(args.file)
        if not path.is_file():
            raise LedgerError("FILE", args.file, "no such file")
        stream = path.open("rb")
    failures = 0
    ledger = open_ledger(args, records=True)
    try:
        for result in run_lines(ledger, stream):
            failures += not result.ok
            if args.format == "json":
                sys.stdout.buffer.write(orjson.dumps(result.as_dict()) + b"\n")
            else:
                sys.stdout.write(result.as_text() + "\n")
            sys.stdout.flush()
    finally:
        ledger.close()
        if stream is not sys.stdin.buffer:
            stream.close()
    return 0 if failures == 0 else 1
