"""`grant-ledger rebuild [--from local|kafka]`: rebuild every projection, swapped in atomically.

From the local replay store (verified against the hash chain's checkpoints first; topped up or
re-fetched from Kafka when it is behind or does not match), or straight from the topic.
"""

import argparse
import getpass
import logging
import sys

from commands.cli.kafka_options import add_kafka_options, kafka_settings
from commands.cli.options import whole_number
from commands.cli.progress import TerminalProgress
from commands.cli.read_side_options import (
    add_skip_options,
    add_store_options,
    read_side_stores,
    skip_requests,
)
from ledger.infrastructure.signing_keys import trusted_keys
from ledger.proof.skips import Skips, utc_now
from ledger.settings import Settings, kafka_endpoint
from projections.application.memory import keep_freed_memory
from projections.application.rebuild import KafkaSource, rebuild
from projections.replay import ReplayStore
from projections.store.read_store import ReadStore
from schemas.errors import InvalidQuery, QueryParameter

SOURCES = ("auto", "local", "kafka")


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `rebuild` subcommand."""
    parser = subparsers.add_parser("rebuild", help="rebuild the read store (blue/green swap)")
    parser.add_argument(
        "--from",
        dest="source",
        default="auto",
        metavar="|".join(SOURCES),
        help="auto: the local replay store when it has events, else the topic",
    )
    parser.add_argument(
        "--workers", type=whole_number, default=None, help="processes reading the topic"
    )
    add_store_options(parser)
    add_skip_options(parser)
    add_kafka_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Rebuild and print a one-line summary."""
    logging.getLogger("kafka").setLevel(logging.WARNING)
    keep_freed_memory()
    if args.source not in SOURCES:
        raise InvalidQuery(
            QueryParameter.SOURCE, args.source, f"expected one of {', '.join(SOURCES)}"
        )
    topic = kafka_settings(args, settings)
    requested = skip_requests(args)
    kafka = (
        KafkaSource(
            kafka_endpoint(topic, topic.bootstrap_servers),
            topic.topic,
            topic.checkpoint_topic,
            trusted_keys(settings.proof),
        )
        if topic.bootstrap_servers
        else None
    )
    stores = read_side_stores(args, settings)
    replay = ReplayStore(stores.replay_directory)
    progress = TerminalProgress("rebuild", replay.event_count or None)
    with ReadStore(stores.read_store) as read_store:
        skips = Skips(read_store.skips(), requested, by=getpass.getuser(), now=utc_now())
        report = rebuild(
            read_store,
            replay,
            source=args.source,
            kafka=kafka,
            workers=args.workers,
            progress=progress,
            skips=skips,
        )
        for request in skips.unmet():
            print(f"rebuild: --skip {request.at} met no message there", file=sys.stderr)
    progress.finish(report.summary())
    return 0
