"""Apache Kafka (KRaft, one node as broker and controller) on loopback, from Maven Central jars.

The engine production runs, for development and CI: durable storage in a data directory,
working transactions, exact end offsets. The jars are fetched once by Maven from the project's
own `apache_kafka.pom.xml` into a cache outside the work tree; the storage is formatted on first
use; the process is managed like the dev broker's (see broker_process).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TextIO

from ledger.infrastructure.kafka.broker_process import (
    LOOPBACK_HOST,
    BrokerProcess,
    BrokerStartError,
    pick_free_port,
)
from schemas.errors import Unavailable

KAFKA_VERSION = "4.1.1"
POM_RESOURCE = "apache_kafka.pom.xml"
# Kafka 4 brokers need Java 17 or newer.
MIN_JAVA_MAJOR = 17
# Written into the jar directory once Maven has copied every jar: a half-finished fetch (an
# interrupted mvn) is never taken for a complete one.
COMPLETE_MARK = ".complete"
FETCH_TIMEOUT_S = 600
FORMAT_TIMEOUT_S = 120
JAVA_PROBE_TIMEOUT_S = 30
OUTPUT_TAIL_CHARS = 2_000
NODE_ID = 1
# The JVM needs a few seconds the first time; CI machines are slow and shared.
DEFAULT_START_TIMEOUT_MS = 120_000
# A controlled shutdown of one node takes a few seconds; then SIGKILL (recovery handles it).
DEFAULT_STOP_TIMEOUT_MS = 30_000
HEAP_MAX_MB = 1_024
HEAP_MIN_MB = 256

SCRAM_MECHANISM = "SCRAM-SHA-256"
PLAINTEXT_LISTENER = "PLAINTEXT"
SASL_LISTENER = "SASL_PLAINTEXT"
CONTROLLER_LISTENER = "CONTROLLER"
BROKER_STATE_FILE = "grant-ledger-broker.json"
#: The broker's logs and metadata (log.dirs) under the data directory; formatted when absent.
LOG_DIRS_NAME = "kafka-logs"

#: The broker settings every deployment of the ledger needs, whatever the machine:
#: docker-compose.yml sets exactly these (a test keeps the two in step).
ESSENTIAL_SETTINGS: dict[str, str] = {
    "process.roles": "broker,controller",
    "node.id": str(NODE_ID),
    # The relay creates its topics with their partitions and unlimited retention; a reader must
    # never auto-create one with the broker's defaults instead.
    "auto.create.topics.enable": "false",
    # The topic is the full history that auditors and integrators replay from position 1.
    "log.retention.ms": "-1",
    "log.retention.bytes": "-1",
    # One node: the internal topics cannot have more replicas than brokers.
    "offsets.topic.replication.factor": "1",
    "transaction.state.log.replication.factor": "1",
    "transaction.state.log.min.isr": "1",
    "min.insync.replicas": "1",
    "group.initial.rebalance.delay.ms": "0",
}
#: Local-only settings: a test session creates many small topics and groups on one disk.
LOCAL_SETTINGS: dict[str, str] = {
    # Tests run consumer groups with short sessions, so a killed member is replaced quickly.
    "group.min.session.timeout.ms": "1000",
    # A broker restarted after kill -9 re-registers only once its old session expired (9 s by
    # default): fault tests restart often.
    "broker.session.timeout.ms": "2000",
    "broker.heartbeat.interval.ms": "500",
    "offsets.topic.num.partitions": "4",
    "transaction.state.log.num.partitions": "4",
    "num.network.threads": "2",
    "num.io.threads": "2",
}

LOG4J_CONFIG = """\
status = warn
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.console.ref = console
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
"""


class KafkaUnavailable(Unavailable):
    """Apache Kafka cannot run here (no Java, no jars, no Maven): names what to install or run."""


def default_jar_dir(cache_root: Path) -> Path:
    """Where the jars of KAFKA_VERSION live under a cache root (e.g. ~/.cache/grant-ledger)."""
    return cache_root / f"kafka-{KAFKA_VERSION}"


def fetch_command(jar_dir: Path) -> list[str]:
    """The Maven command that copies the broker's jars into `jar_dir`."""
    with resources.as_file(resources.files(__package__).joinpath(POM_RESOURCE)) as pom:
        return [
            "mvn",
            "--batch-mode",
            "--quiet",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={jar_dir}",
        ]


def jars_present(jar_dir: Path) -> bool:
    """True when a complete fetch of the jars is in `jar_dir`."""
    return (jar_dir / COMPLETE_MARK).is_file()


def fetch_jars(jar_dir: Path, *, progress: TextIO) -> Path:
    """Copy the broker's jars from Maven Central into `jar_dir` once; returns `jar_dir`."""
    if jars_present(jar_dir):
        return jar_dir
    if shutil.which("mvn") is None:
        raise KafkaUnavailable(
            "mvn",
            None,
            f"the Apache Kafka {KAFKA_VERSION} jars are not in {jar_dir} and Maven is not on the "
            "PATH to fetch them: install it (`apt-get install -y maven`) and run "
            "`grant-ledger broker --engine kafka --fetch`",
        )
    command = fetch_command(jar_dir)
    print(
        f"grant-ledger: fetching Apache Kafka {KAFKA_VERSION} from Maven Central into {jar_dir} "
        "(once, about 45 MB)...",
        file=progress,
        flush=True,
    )
    jar_dir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=FETCH_TIMEOUT_S, check=False
    )
    if done.returncode != 0:
        said = (done.stdout + done.stderr)[-OUTPUT_TAIL_CHARS:].strip()
        raise KafkaUnavailable(
            "mvn",
            done.returncode,
            f"could not fetch the Apache Kafka {KAFKA_VERSION} jars ({' '.join(command)}): {said}",
        )
    (jar_dir / COMPLETE_MARK).write_text(KAFKA_VERSION + "\n")
    count = sum(1 for _ in jar_dir.glob("*.jar"))
    print(f"grant-ledger: {count} jars in {jar_dir}", file=progress, flush=True)
    return jar_dir


def require_java() -> str:
    """The `java` executable (17 or newer), or a KafkaUnavailable naming what to install."""
    java = shutil.which("java")
    if java is None:
        raise KafkaUnavailable(
            "java",
            None,
            f"Apache Kafka needs Java {MIN_JAVA_MAJOR} or newer on the PATH "
            "(`apt-get install -y openjdk-17-jre-headless`)",
        )
    probe = subprocess.run(
        [java, "-version"],
        capture_output=True,
        text=True,
        timeout=JAVA_PROBE_TIMEOUT_S,
        check=False,
    )
    match = re.search(r'version "(\d+)', probe.stderr + probe.stdout)
    major = int(match.group(1)) if match else 0
    if major < MIN_JAVA_MAJOR:
        raise KafkaUnavailable(
            "java", java, f"is Java {major or 'of unknown version'}; Kafka needs {MIN_JAVA_MAJOR}+"
        )
    return java


def _new_cluster_id() -> str:
    """A Kafka cluster id: 16 random bytes, URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


@dataclass(frozen=True)
class _Ports:
    """The loopback ports of one broker: clients, controller, and the SASL listener if any."""

    client: int
    controller: int
    sasl: int | None


class ApacheKafka(BrokerProcess):
    """Apache Kafka on 127.0.0.1 with durable storage in `data_dir`; a context manager.

    `scram_users` adds a SASL_PLAINTEXT listener (SCRAM-SHA-256) with those users, created when
    the storage is formatted (first start of a data directory). `kill()` crashes it (SIGKILL);
    `start()` again recovers from its data directory on the same ports.
    """

    durable = True
    transactions = True
    exact_end_offsets = True

    def __init__(
        self,
        data_dir: Path,
        jar_dir: Path,
        port: int | None = None,
        *,
        scram_users: Mapping[str, str] | None = None,
        start_timeout_ms: int = DEFAULT_START_TIMEOUT_MS,
        stop_timeout_ms: int = DEFAULT_STOP_TIMEOUT_MS,
        local_settings: Mapping[str, str] = LOCAL_SETTINGS,
    ) -> None:
        super().__init__(port, start_timeout_ms=start_timeout_ms, stop_timeout_ms=stop_timeout_ms)
        self.engine_label = f"Apache Kafka {KAFKA_VERSION}"
        self.data_dir = data_dir
        self.jar_dir = jar_dir
        self._scram_users = dict(scram_users or {})
        self._local_settings = dict(local_settings)
        self._ports: _Ports | None = None
        self._java: str | None = None

    @property
    def sasl_bootstrap_servers(self) -> str:
        """`127.0.0.1:PORT` of the SASL/SCRAM listener (only with `scram_users`)."""
        if self._ports is None or self._ports.sasl is None:
            raise RuntimeError("this broker has no SASL listener (no scram_users)")
        return f"{LOOPBACK_HOST}:{self._ports.sasl}"

    def _log_path(self) -> Path:
        return self.data_dir / "broker.log"

    def _discard_output(self) -> None:
        """The log stays in the data directory, with the data it explains."""

    def _extra_ports(self) -> tuple[int, ...]:
        if self._ports is None:
            return ()
        return tuple(p for p in (self._ports.controller, self._ports.sasl) if p is not None)

    def _ports_for(self, client_port: int) -> _Ports:
        """The same ports on every start of this data directory (clients keep their address)."""
        state_file = self.data_dir / BROKER_STATE_FILE
        if self._ports is None and state_file.is_file():
            saved = json.loads(state_file.read_text())
            if saved.get("client") == client_port:
                self._ports = _Ports(saved["client"], saved["controller"], saved.get("sasl"))
        if self._ports is None or self._ports.client != client_port:
            sasl = pick_free_port() if self._scram_users else None
            self._ports = _Ports(client_port, pick_free_port(), sasl)
            state_file.write_text(json.dumps(self._ports.__dict__))
        return self._ports

    def _settings(self, ports: _Ports) -> dict[str, str]:
        listeners = {
            PLAINTEXT_LISTENER: ports.client,
            CONTROLLER_LISTENER: ports.controller,
        }
        if ports.sasl is not None:
            listeners[SASL_LISTENER] = ports.sasl
        settings = {
            **ESSENTIAL_SETTINGS,
            **self._local_settings,
            "controller.quorum.voters": f"{NODE_ID}@{LOOPBACK_HOST}:{ports.controller}",
            "controller.listener.names": CONTROLLER_LISTENER,
            "inter.broker.listener.name": PLAINTEXT_LISTENER,
            "listeners": ",".join(f"{name}://{LOOPBACK_HOST}:{p}" for name, p in listeners.items()),
            "advertised.listeners": ",".join(
                f"{name}://{LOOPBACK_HOST}:{p}"
                for name, p in listeners.items()
                if name != CONTROLLER_LISTENER
            ),
            "listener.security.protocol.map": ",".join(
                f"{name}:{SASL_LISTENER if name == SASL_LISTENER else 'PLAINTEXT'}"
                for name in listeners
            ),
            "log.dirs": str(self.data_dir / LOG_DIRS_NAME),
        }
        if ports.sasl is not None:
            settings["sasl.enabled.mechanisms"] = SCRAM_MECHANISM
            settings[f"listener.name.{SASL_LISTENER.lower()}.scram-sha-256.sasl.jaas.config"] = (
                "org.apache.kafka.common.security.scram.ScramLoginModule required;"
            )
        return settings

    def _prepare(self, port: int) -> None:
        if self._java is None:
            self._java = require_java()
        if not jars_present(self.jar_dir):
            raise KafkaUnavailable(
                "jars",
                str(self.jar_dir),
                f"the Apache Kafka {KAFKA_VERSION} jars are not there; fetch them with "
                "`grant-ledger broker --engine kafka --fetch` (needs mvn on the PATH)",
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports = self._ports_for(port)
        properties = "".join(f"{key}={value}\n" for key, value in self._settings(ports).items())
        (self.data_dir / "server.properties").write_text(properties)
        (self.data_dir / "log4j2.properties").write_text(LOG4J_CONFIG)
        if not (self.data_dir / LOG_DIRS_NAME / "meta.properties").is_file():
            self._format_storage()

    def _java_command(self, main_class: str, *args: str) -> list[str]:
        assert self._java is not None, "require_java() runs before any launch"
        return [
            self._java,
            f"-Xms{HEAP_MIN_MB}m",
            f"-Xmx{HEAP_MAX_MB}m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.properties'}",
            "-cp",
            f"{self.jar_dir}/*",
            main_class,
            *args,
        ]

    def _format_storage(self) -> None:
        """First start of a data directory: a new cluster id, and the SCRAM users if any."""
        scram = [
            arg
            for user, password in self._scram_users.items()
            for arg in ("--add-scram", f"{SCRAM_MECHANISM}=[name={user},password={password}]")
        ]
        command = self._java_command(
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            _new_cluster_id(),
            "--config",
            str(self.data_dir / "server.properties"),
            *scram,
        )
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=FORMAT_TIMEOUT_S, check=False
        )
        if done.returncode != 0:
            said = (done.stdout + done.stderr)[-OUTPUT_TAIL_CHARS:].strip()
            # The SCRAM passwords are on the command line: never repeat it in a message.
            raise BrokerStartError(
                "data_dir", str(self.data_dir), f"formatting the Kafka storage failed: {said}"
            )

    def _command(self, port: int) -> list[str]:
        return self._java_command("kafka.Kafka", str(self.data_dir / "server.properties"))
