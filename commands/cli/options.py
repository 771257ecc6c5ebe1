"""Options shared by subcommands: flags override the environment."""

import argparse

from ledger.application.grant_ledger import GrantLedger
from ledger.infrastructure.store_url import STORE_ENV_VAR


def add_store_option(parser: argparse.ArgumentParser) -> None:
    """`--store URL` (overrides GRANT_LEDGER_STORE)."""
    parser.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help=f"event store URL (default ${STORE_ENV_VAR} or sqlite:///./.grant-ledger/ledger.db)",
    )


def open_ledger(args: argparse.Namespace) -> GrantLedger:
    """The ledger application for the chosen store."""
    return GrantLedger(store_url=args.store)


def whole_number(text: str) -> int:
    """An argparse type: a whole number in ASCII digits (`int` would also read "٢٠٢٤")."""
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()):
        raise argparse.ArgumentTypeError(f"expected a whole number in ASCII digits, got {text!r}")
    return int(text)
