"""Options shared by subcommands: flags override the environment."""

import argparse
import sys

from ledger.application.grant_ledger import GrantLedger
from ledger.infrastructure.store_presence import creatable, ledger_exists, require_ledger
from ledger.infrastructure.store_url import STORE_ENV_VAR, parse_store_url, store_url_from_env


def add_store_option(parser: argparse.ArgumentParser) -> None:
    """`--store URL` (overrides GRANT_LEDGER_STORE)."""
    parser.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help=f"event store URL (default ${STORE_ENV_VAR} or sqlite:///./.grant-ledger/ledger.db)",
    )


def open_ledger(args: argparse.Namespace, *, records: bool = False) -> GrantLedger:
    """The ledger application for the chosen store.

    Only a command that records may create the store (and says so on stderr); any other is
    refused with "no ledger at …" rather than leave an empty ledger behind a typo.
    """
    store = parse_store_url(args.store or store_url_from_env())
    if not records:
        require_ledger(store)
        return GrantLedger(store_url=store.url)
    creatable(store)
    new = not ledger_exists(store)
    ledger = GrantLedger(store_url=store.url)
    if new:
        print(f"grant-ledger: created a new ledger at {store.display_url}", file=sys.stderr)
    return ledger


def whole_number(text: str) -> int:
    """An argparse type: a whole number in ASCII digits (`int` would also read "٢٠٢٤")."""
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()):
        raise argparse.ArgumentTypeError(f"expected a whole number in ASCII digits, got {text!r}")
    return int(text)
