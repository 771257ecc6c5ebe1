"""Options shared by the read side's subcommands (project, rebuild, balances)."""

import argparse
from dataclasses import dataclass
from pathlib import Path

from ledger.infrastructure.store_url import StoreLocation
from ledger.proof.coordinates import MessageAt
from ledger.proof.skips import SkipRequest
from ledger.setting_fields import overridden
from ledger.settings import (
    BOOTSTRAP_ENV_VAR,
    DEFAULT_DEV_BROKER_PORT,
    READ_STORE_ENV_VAR,
    REPLAY_DIR_ENV_VAR,
    KafkaSettings,
    Settings,
)
from projections.store.location import read_store_location, replay_directory
from schemas.errors import ConfigurationError

DEFAULT_BROKER_HINT = f"127.0.0.1:{DEFAULT_DEV_BROKER_PORT}"


def add_store_options(parser: argparse.ArgumentParser) -> None:
    """`--read-store URL` and `--replay-dir DIR`."""
    parser.add_argument(
        "--read-store",
        metavar="URL",
        default=None,
        help=f"read store URL (default ${READ_STORE_ENV_VAR}, else read.db by the event store)",
    )
    parser.add_argument(
        "--replay-dir",
        metavar="DIR",
        type=Path,
        default=None,
        help=f"local replay store (default ${REPLAY_DIR_ENV_VAR}, else replay/ by the read store)",
    )


@dataclass(frozen=True)
class ReadSideStores:
    """Where this run reads and keeps balances."""

    read_store: StoreLocation
    replay_directory: Path


def read_side_stores(args: argparse.Namespace, settings: Settings) -> ReadSideStores:
    """The read store and replay store, from the flags, else the settings, else the defaults."""
    read_side = overridden(
        settings.read_side, read_store=args.read_store, replay_dir=args.replay_dir
    )
    read_store = read_store_location(read_side, settings.event_store.url)
    return ReadSideStores(read_store, replay_directory(read_side, read_store))


def require_bootstrap(settings: KafkaSettings, flag: str) -> str:
    """The configured broker; the read side consumes what is there, so an empty embedded broker
    would be no use."""
    if not settings.bootstrap_servers:
        raise ConfigurationError(
            BOOTSTRAP_ENV_VAR,
            None,
            f"{flag} reads the event topic: start `grant-ledger broker` (or Kafka) and export "
            f"{BOOTSTRAP_ENV_VAR}={DEFAULT_BROKER_HINT}, or pass --bootstrap-servers",
        )
    return settings.bootstrap_servers


def add_skip_options(parser: argparse.ArgumentParser) -> None:
    """`--skip TOPIC:PARTITION:OFFSET` (repeatable) and the `--reason` it is recorded with."""
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="TOPIC:PARTITION:OFFSET",
        help="skip exactly this message (poison or foreign); recorded with who, when and why",
    )
    parser.add_argument("--reason", default=None, help="why the messages are skipped (recorded)")


def skip_requests(args: argparse.Namespace) -> tuple[SkipRequest, ...]:
    """The requested skips; each needs the --reason it is recorded with."""
    if args.skip and not args.reason:
        raise ConfigurationError("--reason", None, "--skip needs a --reason: a skip is recorded")
    if args.reason and not args.skip:
        raise ConfigurationError("--reason", args.reason, "given without --skip")
    return tuple(SkipRequest(MessageAt.parse(text, "--skip"), args.reason) for text in args.skip)
