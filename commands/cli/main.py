"""`grant-ledger`: the console script. Each subcommand lives in its own module here."""

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import Final

from ledger.settings import Settings
from schemas.errors import (
    ConfigurationError,
    IntegrityFailure,
    InvalidQuery,
    LedgerError,
    QueryParameter,
    Refused,
    Unavailable,
    assert_covers_kinds,
    most_specific,
)

# Modules with `register(subparsers)`; each adds one subcommand with
# `run(args, settings) -> exit code`.
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
    "commands.cli.export",
    "commands.cli.audit",
)
EXIT_OK = 0
EXIT_REFUSED = 1  # also: a check that failed (verify), a batch with a refused line (submit)
EXIT_USAGE = 2  # a flag or setting that cannot work
EXIT_UNAVAILABLE = 3
EXIT_INTEGRITY = 4
EXIT_INTERRUPTED = 130

# The one table from error kind to exit code (documented in the README).
EXIT_CODES: Final[dict[type[LedgerError], int]] = {
    Refused: EXIT_REFUSED,
    InvalidQuery: EXIT_USAGE,
    ConfigurationError: EXIT_USAGE,
    Unavailable: EXIT_UNAVAILABLE,
    IntegrityFailure: EXIT_INTEGRITY,
}
assert_covers_kinds(EXIT_CODES, "EXIT_CODES")

# The read API's parameter names as this CLI's flags: a question's error names what was typed.
FLAG_OF: Final[dict[str, str]] = {
    QueryParameter.VIEW: "--by",
    QueryParameter.PROGRAMME: "--programme",
    QueryParameter.RECIPIENT: "--recipient",
    QueryParameter.COUNTY: "--county",
    QueryParameter.AGENCY: "--agency",
    QueryParameter.APPLICATION: "--application",
    QueryParameter.YEAR: "--year",
    QueryParameter.AS_OF_DATE: "--as-of-date",
    QueryParameter.AS_KNOWN_AT: "--as-known-at",
    QueryParameter.AT_POSITION: "--at-position",
    QueryParameter.FROM_POSITION: "--from",
    QueryParameter.LIMIT: "--limit",
    QueryParameter.FORMAT: "--format",
    QueryParameter.IDLE_MS: "--idle-ms",
    QueryParameter.SOURCE: "--from",
}
assert set(FLAG_OF) == set(QueryParameter), set(QueryParameter) - set(FLAG_OF)


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
        # The one reading of the environment; everything below gets what it needs from here.
        settings = Settings.from_environment(os.environ)
        code: int = args.run(args, settings)
    except LedgerError as error:
        report(error)
        return most_specific(error, EXIT_CODES)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return code


def report(error: LedgerError) -> None:
    """One line on stderr naming the field (a question's parameter as its flag) and the value."""
    if isinstance(error, InvalidQuery) and error.field in FLAG_OF:
        error = error.renamed(FLAG_OF[error.field])
    print(f"grant-ledger: {error.field}={error.value!r}: {error.message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
