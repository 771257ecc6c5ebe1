"""The event store option shared by subcommands: the flag overrides GRANT_LEDGER_STORE."""

import argparse
import sys

from ledger.application.grant_ledger import GrantLedger
from ledger.infrastructure.store_presence import creatable, ledger_exists, require_ledger
from ledger.infrastructure.store_url import parse_store_url
from ledger.setting_fields import overridden
from ledger.settings import DEFAULT_STORE_URL, STORE_ENV_VAR, Settings


def add_store_option(parser: argparse.ArgumentParser) -> None:
    """`--store URL` (overrides GRANT_LEDGER_STORE)."""
    parser.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help=f"event store URL (default ${STORE_ENV_VAR} or {DEFAULT_STORE_URL})",
    )


def event_store_url(args: argparse.Namespace, settings: Settings) -> str:
    """The event store chosen by the flag, else by the settings."""
    return overridden(settings.event_store, url=args.store).url


def open_ledger(
    args: argparse.Namespace, settings: Settings, *, records: bool = False
) -> GrantLedger:
    """The ledger application for the chosen store.

    Only a command that records may create the store (and says so on stderr); any other is
    refused with "no ledger at …" rather than leave an empty ledger behind a typo.
    """
    store = parse_store_url(event_store_url(args, settings), STORE_ENV_VAR)
    if not records:
        require_ledger(store)
        return GrantLedger(store.url)
    creatable(store)
    new = not ledger_exists(store)
    ledger = GrantLedger(store.url)
    if new:
        print(f"grant-ledger: created a new ledger at {store.shown}", file=sys.stderr)
    return ledger


def whole_number(text: str) -> int:
    """An argparse type: a whole number in ASCII digits (`int` would also read "٢٠٢٤")."""
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit()):
        raise argparse.ArgumentTypeError(f"expected a whole number in ASCII digits, got {text!r}")
    return int(text)
