"""`grant-ledger broker [--port 9092]`: run the embedded dev broker until SIGINT/SIGTERM."""

import argparse
import signal
import sys
import threading
from types import FrameType

from ledger.infrastructure.kafka.dev_broker import DevBroker
from ledger.settings import BOOTSTRAP_ENV_VAR, DEFAULT_DEV_BROKER_PORT, Settings

# How often the wait loop checks that the broker process is still alive.
LIVENESS_CHECK_INTERVAL_MS = 500
EXIT_OK = 0
EXIT_BROKER_DIED = 1


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `broker` subcommand."""
    parser = subparsers.add_parser(
        "broker",
        help="run the embedded dev broker (Tansu, memory only) until Ctrl-C",
        description=(
            "Run a Kafka-compatible dev broker on 127.0.0.1 until SIGINT or SIGTERM. "
            "It keeps events in memory only: they vanish when it stops."
        ),
    )
    parser.add_argument(
        "--port",
        type=int,
        default=DEFAULT_DEV_BROKER_PORT,
        metavar="PORT",
        help=f"port to listen on (default {DEFAULT_DEV_BROKER_PORT}; 0 picks a free one)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Start the broker, print its address, wait for a stop signal, stop it cleanly."""
    broker = DevBroker(args.port)
    stop_requested = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop_requested.set()

    previous = {
        signum: signal.signal(signum, request_stop) for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        broker.start()
        print(f"{BOOTSTRAP_ENV_VAR}={broker.bootstrap_servers}", flush=True)
        print(
            f"grant-ledger: dev broker (Tansu, memory only) listening on "
            f"{broker.bootstrap_servers}, pid {broker.pid}; Ctrl-C stops it and its events vanish",
            file=sys.stderr,
            flush=True,
        )
        while not stop_requested.wait(LIVENESS_CHECK_INTERVAL_MS / 1000):
            if not broker.is_running():
                print("grant-ledger: the dev broker exited on its own", file=sys.stderr)
                return EXIT_BROKER_DIED
        return EXIT_OK
    finally:
        broker.stop()
        for signum, handler in previous.items():
            signal.signal(signum, handler)
