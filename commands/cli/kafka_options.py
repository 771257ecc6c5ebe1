"""Kafka flags shared by subcommands; each overrides its environment variable."""

import argparse
import dataclasses

from ledger.config import (
    BOOTSTRAP_ENV_VAR,
    CHECKPOINT_TOPIC_ENV_VAR,
    TOPIC_ENV_VAR,
    KafkaSettings,
    kafka_settings_from_env,
)


def add_kafka_options(parser: argparse.ArgumentParser) -> None:
    """`--bootstrap-servers`, `--topic`, `--checkpoint-topic`."""
    parser.add_argument(
        "--bootstrap-servers",
        metavar="HOST:PORT",
        default=None,
        help=f"Kafka bootstrap servers (default ${BOOTSTRAP_ENV_VAR})",
    )
    parser.add_argument("--topic", default=None, help=f"event topic (default ${TOPIC_ENV_VAR})")
    parser.add_argument(
        "--checkpoint-topic",
        default=None,
        help=f"checkpoint topic (default ${CHECKPOINT_TOPIC_ENV_VAR})",
    )


def kafka_settings(args: argparse.Namespace) -> KafkaSettings:
    """Settings from the environment, overridden by the flags given."""
    settings = kafka_settings_from_env()
    overrides = {
        "bootstrap_servers": args.bootstrap_servers,
        "topic": args.topic,
        "checkpoint_topic": args.checkpoint_topic,
    }
    return dataclasses.replace(settings, **{k: v for k, v in overrides.items() if v})
