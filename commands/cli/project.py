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
    start_logging,
    status_endpoint,
)
from commands.cli.read_side_options import add_store_options, require_bootstrap
from ledger.config import kafka_endpoint
from ledger.infrastructure.operations.status import ProcessHealth
from projections.application.progress import Progress
from projections.consumer.fetch import topic_size
from projections.consumer.metrics import ProjectorMetrics
from projections.consumer.projector import (
    DEFAULT_GROUP,
    DEFAULT_IDLE_MS,
    MAX_POLL_INTERVAL_MS,
    SESSION_TIMEOUT_MS,
    Projector,
    ProjectorSettings,
    ProjectorStats,
)
from projections.replay import ReplayStore
from projections.store.location import parse_read_store_url, read_store_url, replay_directory
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


def run(args: argparse.Namespace) -> int:
    """Project until caught up (--once) or until SIGTERM/SIGINT."""
    start_logging(args, "projector")
    settings = kafka_settings(args)
    bootstrap = require_bootstrap(settings, "project")
    location = parse_read_store_url(read_store_url(args.read_store))
    endpoint = kafka_endpoint(settings, bootstrap)
    projector_settings = ProjectorSettings(
        bootstrap_servers=endpoint,
        topic=settings.topic,
        group_id=args.group,
        session_timeout_ms=args.session_timeout_ms,
        heartbeat_interval_ms=max(args.session_timeout_ms // 5, 100),
        max_poll_interval_ms=args.max_poll_interval_ms,
    )
    progress = Progress("project", topic_size(endpoint, settings.topic))
    registry = CollectorRegistry()
    observed = (ProjectorMetrics(registry), ProcessHealth("projector"))
    with (
        status_endpoint(args, registry, observed[1]),
        ReadStore(location) as read_store,
        read_store.projector_lock(exclusive=False),
    ):
        replay = (
            None if args.no_replay else ReplayStore(replay_directory(args.replay_dir, location))
        )
        if replay is None:
            stats = _project(
                read_store, None, projector_settings, progress, args, observed=observed
            )
        else:
            with replay.writing():
                stats = _project(
                    read_store, replay, projector_settings, progress, args, observed=observed
                )
    progress.finish(stats.summary())
    return 0


def _project(
    read_store: ReadStore,
    replay: ReplayStore | None,
    settings: ProjectorSettings,
    progress: Progress,
    args: argparse.Namespace,
    *,
    observed: tuple[ProjectorMetrics, ProcessHealth],
) -> ProjectorStats:
    metrics, health = observed
    with Projector(
        read_store, replay, settings, progress=progress, metrics=metrics, health=health
    ) as projector:

        def request_stop(signum: int, _frame: FrameType | None) -> None:
            print(f"project: {signal.Signals(signum).name}, finishing the batch", file=sys.stderr)
            projector.stop_requested.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        return projector.run(once=args.once, idle_ms=args.idle_ms)
