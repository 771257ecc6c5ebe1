"""`grant-ledger relay [--once]`: publish the event store's log to Kafka, exactly once, in order."""

import argparse
import logging
import signal
import sys
import time
from types import FrameType

from prometheus_client import CollectorRegistry

from commands.cli.kafka_options import add_kafka_options, kafka_settings
from commands.cli.operations_options import (
    add_operations_options,
    start_logging,
    status_endpoint,
)
from commands.cli.options import add_store_option, open_ledger
from commands.cli.read_side_options import add_skip_options, skip_requests
from ledger.config import signing_key_from_env
from ledger.infrastructure.kafka.dev_broker import bootstrap_or_embedded
from ledger.infrastructure.operations.status import ProcessHealth
from ledger.infrastructure.store_presence import ledger_exists
from ledger.infrastructure.store_url import parse_store_url, store_url_from_env
from ledger.relay.metrics import RelayMetrics
from ledger.relay.relay import Relay

LEDGER_WAIT_POLL_S = 1.0
LEDGER_WAIT_LOG_EVERY_S = 30.0


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `relay` subcommand."""
    parser = subparsers.add_parser("relay", help="publish recorded events to Kafka")
    parser.add_argument(
        "--once", action="store_true", help="publish everything not yet published, then exit"
    )
    add_store_option(parser)
    add_skip_options(parser)
    add_kafka_options(parser)
    add_operations_options(parser)
    parser.set_defaults(run=run)


def _wait_for_ledger(args: argparse.Namespace) -> None:
    """A following relay started before anything was recorded waits for the ledger (the API or
    `submit` creates it); it never creates one itself."""
    store = parse_store_url(args.store or store_url_from_env())
    logged_at = 0.0
    while not ledger_exists(store):
        if time.monotonic() - logged_at >= LEDGER_WAIT_LOG_EVERY_S:
            logging.getLogger("grant_ledger.relay").info(
                "relay: waiting for a ledger at %s (nothing recorded yet)", store.display_url
            )
            logged_at = time.monotonic()
        time.sleep(LEDGER_WAIT_POLL_S)


def run(args: argparse.Namespace) -> int:
    """Run the relay until caught up (--once) or until SIGTERM/SIGINT."""
    start_logging(args, "relay")
    settings = kafka_settings(args)
    signer = signing_key_from_env()
    requested = skip_requests(args)
    registry = CollectorRegistry()
    health = ProcessHealth("relay")
    if not args.once:
        _wait_for_ledger(args)
    ledger = open_ledger(args)
    try:
        with (
            status_endpoint(args, registry, health),
            bootstrap_or_embedded(settings) as bootstrap_servers,
        ):
            relay = Relay(
                ledger,
                settings,
                bootstrap_servers,
                signer,
                skips=requested,
                metrics=RelayMetrics(registry),
                health=health,
            )

            def request_stop(signum: int, _frame: FrameType | None) -> None:
                logging.getLogger("grant_ledger.relay").info(
                    "relay: %s received, finishing the current page", signal.Signals(signum).name
                )
                relay.stop()

            signal.signal(signal.SIGTERM, request_stop)
            signal.signal(signal.SIGINT, request_stop)
            stats = relay.run(once=args.once)
    finally:
        ledger.close()
    print(
        f"relay: published {stats.published} events "
        f"(skipped {stats.skipped_already_on_topic} already on the topic), "
        f"{stats.checkpoints} checkpoints, last position {stats.last_position}, "
        f"{stats.events_per_s:,.0f} events/s, mode {stats.mode or 'none'}",
        file=sys.stderr,
    )
    return 0
