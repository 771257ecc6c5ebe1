"""Options shared by the read side's subcommands (project, rebuild, balances)."""

import argparse

from ledger.config import BOOTSTRAP_ENV_VAR, DEFAULT_DEV_BROKER_PORT, KafkaSettings
from projections.store.location import REPLAY_DIR_ENV_VAR
from schemas.errors import ConfigurationError

DEFAULT_BROKER_HINT = f"127.0.0.1:{DEFAULT_DEV_BROKER_PORT}"


def add_store_options(parser: argparse.ArgumentParser) -> None:
    """`--read-store URL` and `--replay-dir DIR`."""
    parser.add_argument(
        "--read-store",
        metavar="URL",
        default=None,
        help="read store URL (default $GRANT_LEDGER_READ_STORE, else read.db by the event store)",
    )
    parser.add_argument(
        "--replay-dir",
        metavar="DIR",
        default=None,
        help=f"local replay store (default ${REPLAY_DIR_ENV_VAR}, else replay/ by the read store)",
    )


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
