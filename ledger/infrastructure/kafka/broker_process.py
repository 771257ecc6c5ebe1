"""A local Kafka broker as a child process: ports, start-up, readiness, faults, shutdown.

Shared by the two engines the project runs on loopback: Tansu (the embedded dev broker,
memory only) and Apache Kafka (KRaft, durable). An engine says how to launch itself and what
its start-up needs; everything about the process is here once.
"""

from __future__ import annotations

import ctypes
import signal
import socket
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from kafka import KafkaAdminClient

from ledger.infrastructure.kafka.errors import BrokerUnavailable
from schemas.errors import ConfigurationError

# Loopback only: the local brokers run without authentication on their plain listener.
LOOPBACK_HOST = "127.0.0.1"
MAX_PORT = 65_535
READY_POLL_INTERVAL_MS = 50
READY_PROBE_TIMEOUT_MS = 2_000
PAUSE_CONFIRM_TIMEOUT_MS = 2_000
# A port picked by us can be taken by someone else before the broker binds it: pick again.
MAX_FREE_PORT_ATTEMPTS = 3
LOG_TAIL_CHARS = 2_000
ENV_PROGRAM = "env"  # env(1) -u NAME: runs a program with NAME removed from its environment

_PR_SET_PDEATHSIG = 1


PORT_FREE_WAIT_S = 5.0
PORT_FREE_POLL_S = 0.1


class BrokerStartError(BrokerUnavailable):
    """A local broker did not come up: names the port, the engine and what it said."""


def pick_free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _port_frees_up(port: int) -> bool:
    """True when the port is free now or within PORT_FREE_WAIT_S.

    After a broker is killed, a client reconnecting to it can hold one of its old port numbers
    for a moment as the ephemeral source port of a refused connection.
    """
    deadline = time.monotonic() + PORT_FREE_WAIT_S
    while not port_free(port):
        if time.monotonic() >= deadline:
            return False
        time.sleep(PORT_FREE_POLL_S)
    return True


def port_free(port: int) -> bool:
    """True when nothing listens on the loopback port (bound as the brokers bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Both engines bind with SO_REUSEADDR, so a port in TIME_WAIT after a restart is free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK_HOST, port))
        except OSError:
            return False
    return True


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection((LOOPBACK_HOST, port), timeout=READY_PROBE_TIMEOUT_MS / 1000):
            return True
    except OSError:
        return False


def accepts_kafka(bootstrap_servers: str) -> bool:
    """True when a Kafka metadata request to the broker succeeds."""
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap_servers,
            client_id="grant-ledger-broker-probe",
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


def die_with_parent_hook() -> Callable[[], None] | None:
    """A preexec_fn that makes the broker die with the thread that started it (Linux only).

    SIGKILL, not SIGTERM: a paused (SIGSTOPped) broker ignores SIGTERM until continued. A
    durable broker recovers from it like from any crash. The libc function is looked up here,
    before fork, so the child only makes the system call.
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


class BrokerProcess(ABC):
    """One broker process on 127.0.0.1:PORT; a context manager.

    `port` 0 or None picks a free port (kept across `restart()`). The broker dies with the
    thread that started it (Linux parent-death signal), so a killed test run leaves no orphan.
    """

    #: Shown in messages: "the dev broker (Tansu)", "Apache Kafka 4.1.1".
    engine_label: str = "broker"
    #: Whether what was published survives a restart (Apache Kafka) or vanishes (Tansu).
    durable: bool = False
    #: Whether Kafka transactions work on this engine (Tansu's are broken).
    transactions: bool = False
    #: Whether reported end offsets are the true ones (Tansu's are too low).
    exact_end_offsets: bool = False

    def __init__(self, port: int | None, *, start_timeout_ms: int, stop_timeout_ms: int) -> None:
        if port is not None and not 0 <= port <= MAX_PORT:
            raise ConfigurationError(
                "port", port, f"must be between 0 and {MAX_PORT} (0 picks a free one)"
            )
        self._requested_port = port or 0
        self._port: int | None = None
        self._start_timeout_ms = start_timeout_ms
        self._stop_timeout_ms = stop_timeout_ms
        self._process: subprocess.Popen[bytes] | None = None
        self._paused = False

    # ------------------------------------------------------------ what an engine provides

    @abstractmethod
    def _command(self, port: int) -> list[str]:
        """The command line that runs the broker listening on `port`."""

    @abstractmethod
    def _log_path(self) -> Path:
        """Where the broker's output goes (created by `_prepare`)."""

    @abstractmethod
    def _prepare(self, port: int) -> None:
        """Anything the engine needs before its first launch on `port` (config, storage)."""

    def _unset_variables(self) -> tuple[str, ...]:
        """Variables of our environment the broker must not inherit (it gets all others)."""
        return ()

    def _extra_ports(self) -> tuple[int, ...]:
        """Further loopback ports the broker binds besides its client port."""
        return ()

    @abstractmethod
    def _discard_output(self) -> None:
        """Called once the broker is stopped for good (`stop`)."""

    # ------------------------------------------------------------ the process

    @property
    def port(self) -> int:
        """The port the broker listens on (known once started)."""
        if self._port is None:
            raise RuntimeError(f"{self.engine_label} has not been started")
        return self._port

    @property
    def bootstrap_servers(self) -> str:
        """`127.0.0.1:PORT`, for KAFKA_BOOTSTRAP_SERVERS."""
        return f"{LOOPBACK_HOST}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs."""
        return self._process.pid if self._process is not None else None

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
            port = pick_free_port()
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
        # Neither engine fails fast on a taken port in a way we can read reliably, and a
        # readiness probe would meanwhile reach the other listener.
        for needed in (port, *self._extra_ports()):
            if not _port_frees_up(needed):
                raise BrokerStartError(
                    "port",
                    needed,
                    f"{LOOPBACK_HOST}:{needed} is already in use: {self.engine_label} cannot "
                    "listen there; choose another port (0 picks a free one)",
                )
        self._prepare(port)
        # `env -u` drops variables from what the broker inherits, then execs it (the pid stays
        # the broker's), without this library reading the environment itself.
        unset = [option for name in self._unset_variables() for option in ("-u", name)]
        command = [ENV_PROGRAM, *unset, *self._command(port)] if unset else self._command(port)
        with self._log_path().open("ab") as log:
            # The broker writes to the file directly; nothing here has to drain a pipe.
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C in a terminal reaches us, and we stop it in order.
                start_new_session=True,
                # Safe with threads here: the hook makes one system call, looked up before fork.
                preexec_fn=die_with_parent_hook(),  # noqa: PLW1509
            )
        self._paused = False
        try:
            self._wait_until_ready(port)
        except BrokerStartError:
            self._terminate()
            raise

    def log_tail(self) -> str:
        """The last part of what the broker wrote."""
        try:
            text = self._log_path().read_text(errors="replace")
        except OSError:
            return ""
        return text[-LOG_TAIL_CHARS:].strip()

    def _started_cleanly(self) -> bool:
        """Engine hook: False when the output shows a failed start despite a live process."""
        return True

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
                    f"{self.engine_label} exited with code {code} before accepting Kafka "
                    f"connections on {bootstrap}; it said: {self.log_tail()}",
                )
            if (
                _port_open(port)
                and accepts_kafka(bootstrap)
                and self._process.poll() is None
                and self._started_cleanly()
            ):
                return
            if time.monotonic() >= deadline:
                raise BrokerStartError(
                    "port",
                    port,
                    f"{self.engine_label} did not accept Kafka connections on {bootstrap} "
                    f"within {self._start_timeout_ms} ms; it said: {self.log_tail()}",
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

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after the stop timeout; reaps the process."""
        self._terminate()
        self._discard_output()

    def kill(self) -> None:
        """SIGKILL at once (a crash): no shutdown, no flush; `start()` brings it back."""
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()
        self._process = None
        self._paused = False

    def _signal_running(self, signum: signal.Signals) -> int:
        if self._process is None or self._process.poll() is not None:
            raise RuntimeError(f"{self.engine_label} is not running")
        self._process.send_signal(signum)
        return self._process.pid

    def pause(self) -> None:
        """SIGSTOP: the broker stops answering but keeps its state (simulates an outage)."""
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
        """Stop and start on the same port (Tansu comes back empty, Kafka with its data)."""
        self._terminate()
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
