"""The event store option shared by subcommands: the flag overrides GRANT_LEDGER_STORE."""

import argparse

from ledger.application.grant_ledger import GrantLedger
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


def open_ledger(args: argparse.Namespace, settings: Settings) -> GrantLedger:
    """The ledger application for the chosen store."""
    return GrantLedger(event_store_url(args, settings))
