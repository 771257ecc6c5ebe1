"""`grant-ledger relay [--once]`: publish the event store's log to Kafka, exactly once, in order."""

import argparse
import logging
import sys
import time

from prometheus_client import CollectorRegistry

from commands.cli.kafka_options import add_kafka_options, kafka_settings
from commands.cli.main import EXIT_UNAVAILABLE
from commands.cli.operations_options import (
    add_operations_options,
    operations_settings,
    start_logging,
    status_endpoint,
)
from commands.cli.options import add_store_option, event_store_url, open_ledger
from commands.cli.read_side_options import add_skip_options, skip_requests
from ledger.infrastructure.kafka.dev_broker import bootstrap_or_embedded
from ledger.infrastructure.operations.status import ProcessHealth
from ledger.infrastructure.operations.stop_signals import stop_on_signals
from ledger.infrastructure.signing_keys import signing_key
from ledger.infrastructure.store_presence import ledger_exists
from ledger.infrastructure.store_url import parse_store_url
from ledger.relay.metrics import RelayMetrics
from ledger.relay.relay import RELAY_STOP_DEADLINE_S, Relay
from ledger.settings import STORE_ENV_VAR, Settings

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


def _wait_for_ledger(args: argparse.Namespace, settings: Settings) -> None:
    """A following relay started before anything was recorded waits for the ledger (the API or
    `submit` creates it); it never creates one itself."""
    store = parse_store_url(event_store_url(args, settings), STORE_ENV_VAR)
    logged_at = 0.0
    while not ledger_exists(store):
        if time.monotonic() - logged_at >= LEDGER_WAIT_LOG_EVERY_S:
            logging.getLogger("grant_ledger.relay").info(
                "relay: waiting for a ledger at %s (nothing recorded yet)", store.shown
            )
            logged_at = time.monotonic()
        time.sleep(LEDGER_WAIT_POLL_S)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run the relay until caught up (--once) or until SIGTERM/SIGINT."""
    operations = operations_settings(args, settings)
    start_logging(operations, "relay")
    kafka = kafka_settings(args, settings)
    signer = signing_key(settings.proof)
    requested = skip_requests(args)
    registry = CollectorRegistry()
    health = ProcessHealth("relay")
    if not args.once:
        _wait_for_ledger(args, settings)
    ledger = open_ledger(args, settings)
    try:
        with (
            status_endpoint(operations, registry, health),
            bootstrap_or_embedded(kafka) as bootstrap_servers,
        ):
            relay = Relay(
                ledger,
                kafka,
                bootstrap_servers,
                signer,
                skips=requested,
                metrics=RelayMetrics(registry),
                health=health,
            )

            def request_stop(signal_name: str) -> None:
                logging.getLogger("grant_ledger.relay").info(
                    "relay: %s received, finishing the current page (at most %.0f s)",
                    signal_name,
                    RELAY_STOP_DEADLINE_S,
                )
                relay.stop()

            with stop_on_signals(request_stop, relay.stop_deadline(EXIT_UNAVAILABLE)):
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
