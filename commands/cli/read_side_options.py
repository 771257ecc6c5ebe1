"""Options shared by the read side's subcommands (project, rebuild, balances)."""

import argparse

from ledger.config import BOOTSTRAP_ENV_VAR, DEFAULT_DEV_BROKER_PORT, KafkaSettings
from ledger.domain.errors import LedgerError
from ledger.proof.coordinates import MessageAt
from ledger.proof.skips import SkipRequest
from projections.store.location import REPLAY_DIR_ENV_VAR

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
        raise LedgerError(
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
        raise LedgerError("--reason", None, "--skip needs a --reason: a skip is recorded")
    if args.reason and not args.skip:
        raise LedgerError("--reason", args.reason, "given without --skip")
    return tuple(SkipRequest(MessageAt.parse(text, "--skip"), args.reason) for text in args.skip)
