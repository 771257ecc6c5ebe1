"""`grant-ledger broker [--engine tansu|kafka]`: run a local Kafka broker until SIGINT/SIGTERM.

Two engines. `tansu` (the default) is the embedded dev broker: no install, memory only, for
`make demo` and quick work. `kafka` is Apache Kafka 4 (KRaft), the engine production runs:
durable storage in a data directory, working transactions, exact end offsets; use it to try
faults, restarts, transactions and anything that must survive a broker restart. Its jars come
from Maven Central on first use (mvn on the PATH) into a cache outside the work tree.
"""

import argparse
import sys
import threading
from pathlib import Path

from commands.cli.options import whole_number
from ledger.infrastructure.kafka.apache_kafka import (
    KAFKA_VERSION,
    ApacheKafka,
    default_jar_dir,
    fetch_jars,
)
from ledger.infrastructure.kafka.broker_process import BrokerProcess
from ledger.infrastructure.kafka.dev_broker import DevBroker
from ledger.infrastructure.operations.stop_signals import stop_on_signals
from ledger.settings import (
    BOOTSTRAP_ENV_VAR,
    DEFAULT_DEV_BROKER_PORT,
    DEFAULT_KAFKA_DATA_DIR,
    KAFKA_JARS_ENV_VAR,
    LocalBrokerSettings,
    Settings,
)

# How often the wait loop checks that the broker process is still alive.
LIVENESS_CHECK_INTERVAL_MS = 500
EXIT_OK = 0
EXIT_BROKER_DIED = 1
ENGINE_TANSU = "tansu"
ENGINE_KAFKA = "kafka"


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `broker` subcommand."""
    parser = subparsers.add_parser(
        "broker",
        help="run a local Kafka broker (Tansu dev broker, or Apache Kafka) until Ctrl-C",
        description=(
            "Run a Kafka broker on 127.0.0.1 until SIGINT or SIGTERM. "
            f"--engine {ENGINE_TANSU} (default): the embedded dev broker, nothing to install, "
            "memory only (its events vanish when it stops), broken transactions: for `make demo` "
            f"and quick work. --engine {ENGINE_KAFKA}: Apache Kafka {KAFKA_VERSION} (KRaft), "
            "the engine production runs, durable in --data-dir, with transactions: use it to "
            "test restarts, faults and exactly-once publishing. Its jars are fetched from Maven "
            f"Central on first use (needs mvn; cached, or ${KAFKA_JARS_ENV_VAR})."
        ),
    )
    parser.add_argument(
        "--engine",
        choices=(ENGINE_TANSU, ENGINE_KAFKA),
        default=ENGINE_TANSU,
        help=f"{ENGINE_TANSU}: embedded, memory only; {ENGINE_KAFKA}: Apache Kafka, durable",
    )
    parser.add_argument(
        "--port",
        type=whole_number,
        default=DEFAULT_DEV_BROKER_PORT,
        metavar="PORT",
        help=f"port to listen on (default {DEFAULT_DEV_BROKER_PORT}; 0 picks a free one)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_KAFKA_DATA_DIR,
        metavar="DIR",
        help=f"Apache Kafka's storage, formatted on first use (default {DEFAULT_KAFKA_DATA_DIR})",
    )
    parser.add_argument(
        "--fetch",
        action="store_true",
        help="only fetch the Apache Kafka jars into the cache (if missing) and exit",
    )
    parser.set_defaults(run=run)


def _broker_for(args: argparse.Namespace, local: LocalBrokerSettings) -> BrokerProcess:
    if args.engine == ENGINE_TANSU:
        return DevBroker(args.port)
    jar_dir = fetch_jars(local.kafka_jar_dir(default_jar_dir), progress=sys.stderr)
    return ApacheKafka(args.data_dir.resolve(), jar_dir, args.port)


def _describe(broker: BrokerProcess) -> str:
    if isinstance(broker, ApacheKafka):
        return (
            f"Apache Kafka {KAFKA_VERSION} listening on {broker.bootstrap_servers}, pid "
            f"{broker.pid}, data in {broker.data_dir}; Ctrl-C stops it, its events stay"
        )
    return (
        f"dev broker (Tansu, memory only) listening on {broker.bootstrap_servers}, pid "
        f"{broker.pid}; Ctrl-C stops it and its events vanish"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Start the broker, print its address, wait for a stop signal, stop it cleanly."""
    if args.fetch:
        fetch_jars(settings.local_broker.kafka_jar_dir(default_jar_dir), progress=sys.stderr)
        return EXIT_OK
    broker = _broker_for(args, settings.local_broker)
    stop_requested = threading.Event()
    with stop_on_signals(lambda _signal_name: stop_requested.set()):
        return _serve(broker, stop_requested)


def _serve(broker: BrokerProcess, stop_requested: threading.Event) -> int:
    """Run the broker until a stop is requested or it dies; stop it either way."""
    try:
        broker.start()
        print(f"{BOOTSTRAP_ENV_VAR}={broker.bootstrap_servers}", flush=True)
        print(f"grant-ledger: {_describe(broker)}", file=sys.stderr, flush=True)
        while not stop_requested.wait(LIVENESS_CHECK_INTERVAL_MS / 1000):
            if not broker.is_running():
                print(
                    f"grant-ledger: {broker.engine_label} exited on its own: {broker.log_tail()}",
                    file=sys.stderr,
                )
                return EXIT_BROKER_DIED
        return EXIT_OK
    finally:
        broker.stop()
