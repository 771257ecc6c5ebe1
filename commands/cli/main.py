"""`grant-ledger`: the console script. Each subcommand lives in its own module here."""

import argparse
import importlib
import logging
import os
import sqlite3
import sys
import traceback
from collections.abc import Sequence
from typing import Final

import psycopg
from eventsourcing.persistence import PersistenceError

from ledger.domain.errors import (
    ConcurrencyExhausted,
    LedgerError,
    ReadSideUnavailable,
    StoreUnavailable,
)
from ledger.infrastructure.failures import describe_failure
from ledger.infrastructure.kafka.apache_kafka import KafkaUnavailable
from ledger.infrastructure.kafka.clients import BrokerUnreachableError
from ledger.infrastructure.kafka.reading import BrokerStalled
from ledger.infrastructure.operations.log_lines import redact
from ledger.proof.errors import IntegrityError

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
DEBUG_ENV_VAR = "GRANT_LEDGER_DEBUG"
KAFKA_CLIENT_LOGGER = "kafka"

# The one table from a named error to its exit code (the README's failure table follows it);
# the first class an error is an instance of decides, anything else is a usage error.
EXIT_CODES: Final[tuple[tuple[type[LedgerError], int], ...]] = (
    (IntegrityError, EXIT_INTEGRITY),
    (StoreUnavailable, EXIT_UNAVAILABLE),
    (ConcurrencyExhausted, EXIT_UNAVAILABLE),
    (ReadSideUnavailable, EXIT_UNAVAILABLE),
    (BrokerUnreachableError, EXIT_UNAVAILABLE),
    (BrokerStalled, EXIT_UNAVAILABLE),
    (KafkaUnavailable, EXIT_UNAVAILABLE),
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="grant-ledger", description="Event-sourced ledger for state grants."
    )
    subparsers = parser.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
    for module_name in SUBCOMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def exit_code_of(error: LedgerError) -> int:
    """The exit code of a named error."""
    for kind, code in EXIT_CODES:
        if isinstance(error, kind):
            return code
    return EXIT_USAGE


def _say(text: str) -> None:
    print(redact(text), file=sys.stderr)


def _unavailable(what: str, reason: str) -> int:
    _say(f"grant-ledger: {what}: {reason}")
    return EXIT_UNAVAILABLE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code. No traceback ever reaches the user: every
    failure is named, with its exit code from EXIT_CODES (a bug says so, exit 70)."""
    args = build_parser().parse_args(argv)
    # The Kafka client logs each refused connection; a command says what it waits for itself.
    # (relay and project set their own levels with their log format.)
    logging.getLogger(KAFKA_CLIENT_LOGGER).setLevel(logging.CRITICAL)
    try:
        code: int = args.run(args)
    except LedgerError as error:
        _say(f"grant-ledger: {error.field}={error.value!r}: {error.message}")
        return exit_code_of(error)
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
        if os.environ.get(DEBUG_ENV_VAR):
            traceback.print_exc()
        _say(
            f"grant-ledger: unexpected {type(exc).__name__}: {exc} (a bug in grant-ledger; "
            f"run again with {DEBUG_ENV_VAR}=1 for the details, and report it)"
        )
        return EXIT_BUG
    return code


if __name__ == "__main__":
    sys.exit(main())
