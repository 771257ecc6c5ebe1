"""`grant-ledger project [--once]`: keep the read store (and local replay store) current.

Joins the consumer group (scale out by running more instances: partitions are shared out),
resumes each partition where the read store says, applies every event exactly once. --once
stops when nothing new has arrived for the idle window.
"""

import argparse
import signal
import sys
from types import FrameType

from prometheus_client import CollectorRegistry

from commands.cli.kafka_options import add_kafka_options, kafka_settings
from commands.cli.operations_options import (
    add_operations_options,
    operations_settings,
    start_logging,
    status_endpoint,
)
from commands.cli.progress import TerminalProgress
from commands.cli.read_side_options import add_store_options, read_side_stores, require_bootstrap
from ledger.infrastructure.operations.status import ProcessHealth
from ledger.settings import Settings, kafka_endpoint
from projections.consumer.fetch import topic_size
from projections.consumer.metrics import ProjectorMetrics
from projections.consumer.projector import (
    DEFAULT_GROUP,
    DEFAULT_IDLE_MS,
    MAX_POLL_INTERVAL_MS,
    SESSION_TIMEOUT_MS,
    BatchHook,
    Projector,
    ProjectorSettings,
    ProjectorStats,
)
from projections.replay import ReplayStore
from projections.store.read_store import ReadStore


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `project` subcommand."""
    parser = subparsers.add_parser("project", help="consume the event topic into the read store")
    parser.add_argument("--once", action="store_true", help="stop when caught up")
    parser.add_argument(
        "--idle-ms", type=int, default=DEFAULT_IDLE_MS, help="quiet time that means caught up"
    )
    parser.add_argument("--group", default=DEFAULT_GROUP, help="consumer group id")
    parser.add_argument(
        "--no-replay", action="store_true", help="do not keep the local replay store"
    )
    parser.add_argument("--session-timeout-ms", type=int, default=SESSION_TIMEOUT_MS)
    parser.add_argument("--max-poll-interval-ms", type=int, default=MAX_POLL_INTERVAL_MS)
    add_store_options(parser)
    add_kafka_options(parser)
    add_operations_options(parser)
    parser.set_defaults(run=run)


def run(
    args: argparse.Namespace,
    settings: Settings,
    *,
    after_replay_append: BatchHook | None = None,
) -> int:
    """Project until caught up (--once) or until SIGTERM/SIGINT (tests may pass a batch hook)."""
    operations = operations_settings(args, settings)
    start_logging(operations, "projector")
    kafka = kafka_settings(args, settings)
    bootstrap = require_bootstrap(kafka, "project")
    stores = read_side_stores(args, settings)
    endpoint = kafka_endpoint(kafka, bootstrap)
    projector_settings = ProjectorSettings(
        bootstrap_servers=endpoint,
        topic=kafka.topic,
        group_id=args.group,
        session_timeout_ms=args.session_timeout_ms,
        heartbeat_interval_ms=max(args.session_timeout_ms // 5, 100),
        max_poll_interval_ms=args.max_poll_interval_ms,
    )
    progress = TerminalProgress("project", topic_size(endpoint, kafka.topic))
    registry = CollectorRegistry()
    health = ProcessHealth("projector")
    with (
        status_endpoint(operations, registry, health),
        ReadStore(stores.read_store) as read_store,
        read_store.projector_lock(exclusive=False),
    ):
        replay = None if args.no_replay else ReplayStore(stores.replay_directory)
        projector = Projector(
            read_store,
            replay,
            projector_settings,
            progress=progress,
            metrics=ProjectorMetrics(registry),
            health=health,
            after_replay_append=after_replay_append,
        )
        if replay is None:
            stats = _project(projector, args)
        else:
            with replay.writing():
                stats = _project(projector, args)
    progress.finish(stats.summary())
    return 0


def _project(projector: Projector, args: argparse.Namespace) -> ProjectorStats:
    with projector:

        def request_stop(signum: int, _frame: FrameType | None) -> None:
            print(f"project: {signal.Signals(signum).name}, finishing the batch", file=sys.stderr)
            projector.stop_requested.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        return projector.run(once=args.once, idle_ms=args.idle_ms)
