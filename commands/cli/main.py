"""`grant-ledger`: the console script. Each subcommand lives in its own module here."""

import argparse
import faulthandler
import importlib
import logging
import os
import signal
import sqlite3
import sys
import traceback
from collections.abc import Mapping, Sequence
from typing import Final

import psycopg
from eventsourcing.persistence import PersistenceError

from ledger.infrastructure.failures import describe_failure
from ledger.infrastructure.operations.log_lines import redact
from ledger.settings import DEBUG_ENV_VAR, Settings
from schemas.errors import (
    ConfigurationError,
    IntegrityFailure,
    InvalidQuery,
    LedgerError,
    OperatorParameter,
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
    "commands.cli.keys",
    "commands.cli.export",
    "commands.cli.audit",
)
EXIT_OK = 0
EXIT_REFUSED = 1  # also: a check that failed (verify), a batch with a refused line (submit)
EXIT_USAGE = 2  # a flag, setting or store that cannot work
EXIT_UNAVAILABLE = 3  # a dependency is down, full, read-only or busy: trying later can work
EXIT_INTEGRITY = 4  # what was read does not prove itself: the reader stopped
EXIT_BUG = 70  # EX_SOFTWARE: an error nobody named (a bug); details with GRANT_LEDGER_DEBUG=1
EXIT_INTERRUPTED = 130
KAFKA_CLIENT_LOGGER = "kafka"

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
    QueryParameter.EXPORT_FROM_POSITION: "--from-position",
    QueryParameter.EXPORT_TO_POSITION: "--to-position",
    QueryParameter.EXPORT_DIRECTORY: "DIR",
    QueryParameter.BACKDATING_DAYS: "--backdating-days",
    OperatorParameter.SKIP_REASON: "--reason",
    OperatorParameter.SIGNING_KEY_PATH: "--out",
}
PARAMETERS: Final = {*QueryParameter, *OperatorParameter}
assert set(FLAG_OF) == PARAMETERS, PARAMETERS - set(FLAG_OF)
# The kinds whose field can be a parameter; a refusal names the contract's field, as it is.
RENAMED_KINDS: Final = (InvalidQuery, ConfigurationError)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="grant-ledger", description="Event-sourced ledger for state grants."
    )
    subparsers = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(  # noqa: PLR0911 (one return per kind of failure: the exit code says which)
    argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None
) -> int:
    """Run the CLI (in `environ`, else the process environment); returns the exit code. No
    traceback ever reaches the user: every failure is named, with its exit code from EXIT_CODES
    (a bug says so, exit 70)."""
    args = build_parser().parse_args(argv)
    # The Kafka client logs each refused connection; a command says what it waits for itself.
    # (relay and project set their own levels with their log format.)
    logging.getLogger(KAFKA_CLIENT_LOGGER).setLevel(logging.CRITICAL)
    settings: Settings | None = None
    try:
        # The one reading of the environment; everything below gets what it needs from here.
        settings = Settings.from_environment(os.environ if environ is None else environ)
        code: int = args.run(args, settings)
    except LedgerError as error:
        report(error)
        return most_specific(error, EXIT_CODES)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except sqlite3.Error as exc:
        return _unavailable("an SQLite store failed", describe_failure(exc))
    except psycopg.OperationalError as exc:
        return _unavailable("PostgreSQL cannot be reached or refused", str(exc))
    except PersistenceError as exc:
        cause = exc.__cause__ or exc.__context__ or exc
        return _unavailable("the event store failed", describe_failure(cause))
    except OSError as exc:
        return _unavailable("a file or directory could not be used", describe_failure(exc))
    except Exception as exc:  # a bug: say so without a traceback (unless asked for one)
        if settings is not None and settings.operations.debug:
            traceback.print_exc()
        _say(
            f"grant-ledger: unexpected {type(exc).__name__}: {exc} (a bug in grant-ledger; "
            f"run again with {DEBUG_ENV_VAR}=1 for the details, and report it)"
        )
        return EXIT_BUG
    return code


def report(error: LedgerError) -> None:
    """One line on stderr naming the field (a parameter as its flag) and the value;
    passwords in it redacted."""
    if isinstance(error, RENAMED_KINDS) and error.field in FLAG_OF:
        error = error.renamed(FLAG_OF[error.field])
    _say(f"grant-ledger: {error.field}={error.value!r}: {error.message}")


def _say(text: str) -> None:
    print(redact(text), file=sys.stderr)


def _unavailable(what: str, reason: str) -> int:
    """A store or file the operating system or database refused, named without a traceback."""
    _say(f"grant-ledger: {what}: {reason}")
    return EXIT_UNAVAILABLE


def cli() -> int:
    """The `grant-ledger` program: main(), with `kill -USR1 PID` writing every thread's stack to
    stderr (where a process that seems stuck is stuck, without stopping it)."""
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    return main()


if __name__ == "__main__":
    sys.exit(cli())
