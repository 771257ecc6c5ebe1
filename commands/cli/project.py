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
import sys

from prometheus_client import CollectorRegistry

from commands.cli.kafka_options import add_kafka_options, kafka_settings
from commands.cli.operations_options import (
    add_operations_options,
    operations_settings,
    start_logging,
    status_endpoint,
)
from commands.cli.options import whole_number
from commands.cli.progress import TerminalProgress
from commands.cli.read_side_options import (
    add_skip_options,
    add_store_options,
    read_side_stores,
    require_bootstrap,
    skip_requests,
)
from ledger.infrastructure.operations.status import ProcessHealth
from ledger.infrastructure.operations.stop_signals import stop_on_signals
from ledger.infrastructure.signing_keys import trusted_keys
from ledger.settings import Settings, kafka_endpoint
from projections.consumer.metrics import ProjectorMetrics
from projections.consumer.projector import (
    DEFAULT_GROUP,
    MAX_POLL_INTERVAL_MS,
    SESSION_TIMEOUT_MS,
    BatchHook,
    Projector,
    ProjectorSettings,
    ProjectorStats,
)
from projections.replay import ReplayStore
from projections.store.read_store import ReadStore
from schemas.errors import ConfigurationError


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


def run(
    args: argparse.Namespace,
    settings: Settings,
    *,
    after_replay_append: BatchHook | None = None,
) -> int:
    """Project until caught up (--once) or until SIGTERM/SIGINT (tests may pass a batch hook)."""
    operations = operations_settings(args, settings)
    start_logging(operations, "projector")
    if args.once and args.group:
        raise ConfigurationError(
            "--group", args.group, "--once reads alone, without a group; groups are for following"
        )
    kafka = kafka_settings(args, settings)
    bootstrap = require_bootstrap(kafka, "project")
    stores = read_side_stores(args, settings)
    projector_settings = ProjectorSettings(
        bootstrap_servers=kafka_endpoint(kafka, bootstrap),
        topic=kafka.topic,
        checkpoint_topic=kafka.checkpoint_topic,
        trusted_keys=trusted_keys(settings.proof),
        group_id=None if args.once else (args.group or DEFAULT_GROUP),
        session_timeout_ms=args.session_timeout_ms,
        heartbeat_interval_ms=max(args.session_timeout_ms // 5, 100),
        max_poll_interval_ms=args.max_poll_interval_ms,
        skips=skip_requests(args),
        skipped_by=getpass.getuser(),
    )
    progress = TerminalProgress("project", None)
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
    def request_stop(signal_name: str) -> None:
        print(f"project: {signal_name}, finishing the batch", file=sys.stderr)
        projector.stop_requested.set()

    with projector, stop_on_signals(request_stop):
        return projector.run(once=args.once)
