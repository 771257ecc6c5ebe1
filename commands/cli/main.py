"""`grant-ledger`: the console script. Each subcommand lives in its own module here."""

import argparse
import importlib
import sys
from collections.abc import Sequence

from ledger.domain.errors import LedgerError

# Modules with `register(subparsers)`; each adds one subcommand with `run(args) -> exit code`.
SUBCOMMAND_MODULES = (
    "commands.cli.submit",
    "commands.cli.history",
    "commands.cli.events",
    "commands.cli.relay",
    "commands.cli.verify",
    "commands.cli.broker",
    "commands.cli.serve",
    "commands.cli.auth",
    "commands.cli.project",
    "commands.cli.rebuild",
    "commands.cli.balances",
    "commands.cli.keys",
)
EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="grant-ledger", description="Event-sourced ledger for state grants."
    )
    subparsers = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except LedgerError as error:
        print(f"grant-ledger: {error.field}={error.value!r}: {error.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
