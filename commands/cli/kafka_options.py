"""Kafka flags shared by subcommands; each overrides its environment variable."""

import argparse

from ledger.setting_fields import overridden
from ledger.settings import BOOTSTRAP_ENV_VAR, KafkaSettings, Settings


def add_kafka_options(parser: argparse.ArgumentParser) -> None:
    """`--bootstrap-servers`, `--topic`, `--checkpoint-topic`."""
    parser.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT",
        default=None,
        help=f"Kafka bootstrap servers (default ${BOOTSTRAP_ENV_VAR})",
    )
    parser.add_argument("--topic", default=None, help="event topic (default $GRANT_LEDGER_TOPIC)")
    parser.add_argument(
        "--checkpoint-topic",
        default=None,
        help="checkpoint topic (default $GRANT_LEDGER_CHECKPOINT_TOPIC)",
    )


def kafka_settings(args: argparse.Namespace, settings: Settings) -> KafkaSettings:
    """The Kafka settings, overridden by the flags given."""
    return overridden(
        settings.kafka,
        bootstrap_servers=args.bootstrap_servers,
        topic=args.topic,
        checkpoint_topic=args.checkpoint_topic,
    )
