"""`grant-ledger project [--once]`: keep the read store (and local replay store) current.

Every event is proven before it is applied: its own hash, its link to the position before, and a
checkpoint signed by a trusted key (GRANT_LEDGER_TRUSTED_KEYS) covering it. Each position is
applied once. Following instances share a consumer group in which exactly one is active; the
others take over when it stops. `--once` reads alone (no group): to the end the topic had when it
started, then stops. `--skip TOPIC:PARTITION:OFFSET --reason "…"` skips exactly that message
(poison or foreign), recorded in the read store with who, when, why and its digest.
"""

import argparse
import getpass
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
from commands.cli.options import whole_number
from commands.cli.read_side_options import (
    add_skip_options,
    add_store_options,
    require_bootstrap,
    skip_requests,
)
from ledger.config import kafka_endpoint, trusted_keys_from_env
from ledger.domain.errors import LedgerError
from ledger.infrastructure.operations.status import ProcessHealth
from projections.application.progress import Progress
from projections.consumer.metrics import ProjectorMetrics
from projections.consumer.projector import (
    DEFAULT_GROUP,
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
    parser.add_argument(
        "--once", action="store_true", help="read to the topic's end (alone, no group), then stop"
    )
    parser.add_argument(
        "--group",
        default=None,
        help=f"consumer group of the following instances; one is active (default {DEFAULT_GROUP})",
    )
    parser.add_argument(
        "--no-replay", action="store_true", help="do not keep the local replay store"
    )
    parser.add_argument("--session-timeout-ms", type=whole_number, default=SESSION_TIMEOUT_MS)
    parser.add_argument("--max-poll-interval-ms", type=whole_number, default=MAX_POLL_INTERVAL_MS)
    add_store_options(parser)
    add_skip_options(parser)
    add_kafka_options(parser)
    add_operations_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Project until caught up (--once) or until SIGTERM/SIGINT."""
    start_logging(args, "projector")
    if args.once and args.group:
        raise LedgerError(
            "--group", args.group, "--once reads alone, without a group; groups are for following"
        )
    settings = kafka_settings(args)
    bootstrap = require_bootstrap(settings, "project")
    trusted = trusted_keys_from_env()
    location = parse_read_store_url(read_store_url(args.read_store))
    projector_settings = ProjectorSettings(
        bootstrap_servers=kafka_endpoint(settings, bootstrap),
        topic=settings.topic,
        checkpoint_topic=settings.checkpoint_topic,
        trusted_keys=trusted,
        group_id=None if args.once else (args.group or DEFAULT_GROUP),
        session_timeout_ms=args.session_timeout_ms,
        heartbeat_interval_ms=max(args.session_timeout_ms // 5, 100),
        max_poll_interval_ms=args.max_poll_interval_ms,
        skips=skip_requests(args),
        skipped_by=getpass.getuser(),
    )
    progress = Progress("project", None)
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
        return projector.run(once=args.once)
