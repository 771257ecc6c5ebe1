"""`grant-ledger verify`: prove the topic equals the store and the hash chain is intact."""

import argparse
import sys

import orjson

from commands.cli.kafka_options import add_kafka_options, kafka_settings
from commands.cli.options import add_store_option, open_ledger
from ledger.audit.topic_verification import verify_store_against_kafka
from ledger.settings import BOOTSTRAP_ENV_VAR, Settings
from schemas.errors import ConfigurationError


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `verify` subcommand."""
    parser = subparsers.add_parser(
        "verify", help="recompute the hash chain and check the topic against the store"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    add_store_option(parser)
    add_kafka_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Exit 0 only when positions 1..N are each on the topic once and every hash matches."""
    kafka = kafka_settings(args, settings)
    if not kafka.bootstrap_servers:
        raise ConfigurationError(
            BOOTSTRAP_ENV_VAR,
            None,
            "verify reads the topic of a running broker: set KAFKA_BOOTSTRAP_SERVERS or pass "
            "--bootstrap-servers (an embedded broker started for the run would be empty)",
        )
    ledger = open_ledger(args, settings)
    try:
        report = verify_store_against_kafka(ledger, kafka, kafka.bootstrap_servers)
    finally:
        ledger.close()
    if args.format == "json":
        sys.stdout.buffer.write(
            orjson.dumps(
                {
                    "ok": report.ok,
                    "store_events": report.store_events,
                    "topic_messages": report.topic_messages,
                    "last_checkpoint": report.last_checkpoint,
                    "first_bad_position": report.first_bad_position,
                    "not_yet_published": report.not_yet_published,
                    "problems": [str(p) for p in report.problems],
                }
            )
            + b"\n"
        )
    else:
        checkpoint = report.last_checkpoint
        print(
            f"store: {report.store_events} events; topic {kafka.topic}: "
            f"{report.topic_messages} messages; last checkpoint: "
            f"{checkpoint.get('position') if checkpoint else 'none'}"
        )
        published = report.store_events - report.not_yet_published
        if report.ok:
            print(f"OK: positions 1..{published} each once, every hash matches")
        else:
            print(f"FAILED: first bad position {report.first_bad_position}")
            for problem in report.problems:
                print(f"  {problem}")
        if report.not_yet_published:
            print(f"not yet published (the relay is behind): {report.not_yet_published} events")
    return 0 if report.ok else 1
