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
from commands.cli.read_side_options import add_skip_options, add_store_options, skip_requests
from ledger.config import kafka_endpoint, trusted_keys_from_env
from ledger.domain.errors import LedgerError
from ledger.proof.skips import Skips, utc_now
from projections.application.memory import keep_freed_memory
from projections.application.progress import Progress
from projections.application.rebuild import KafkaSource, rebuild
from projections.replay import ReplayStore
from projections.store.location import parse_read_store_url, read_store_url, replay_directory
from projections.store.read_store import ReadStore

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


def run(args: argparse.Namespace) -> int:
    """Rebuild and print a one-line summary."""
    logging.getLogger("kafka").setLevel(logging.WARNING)
    keep_freed_memory()
    if args.source not in SOURCES:
        raise LedgerError("--from", args.source, f"expected one of {', '.join(SOURCES)}")
    settings = kafka_settings(args)
    requested = skip_requests(args)
    kafka = (
        KafkaSource(
            kafka_endpoint(settings, settings.bootstrap_servers),
            settings.topic,
            settings.checkpoint_topic,
            trusted_keys_from_env(),
        )
        if settings.bootstrap_servers
        else None
    )
    location = parse_read_store_url(read_store_url(args.read_store))
    replay = ReplayStore(replay_directory(args.replay_dir, location))
    progress = Progress("rebuild", replay.event_count or None)
    with ReadStore(location) as read_store:
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
