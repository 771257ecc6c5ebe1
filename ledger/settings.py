"""Every setting grant-ledger reads, declared once: environment variable, default, parser, meaning.

Read once, at the entry point: the CLI's `main` (commands/cli/main.py) runs every command,
the long-running services (`relay`, `project`, `serve`, whose HTTP app gets its settings from
there) included, and builds `Settings.from_environment(...)` from the process environment.
Flags override with `overridden(area, flag=value)`; the result is passed down explicitly. No
other module reads the environment.

Adding a setting is one field in its area, for example in `KafkaSettings`:

    relay_transactions: str = setting(
        "GRANT_LEDGER_RELAY_TRANSACTIONS", "auto", one_of("auto", "on", "off"), "what it means"
    )

Adding an area is a frozen dataclass whose fields are all `setting(...)` (or nested areas), and
one field `auth: AuthSettings = area(AuthSettings)` in `Settings` (or in the area it belongs to:
KafkaSecurity, in ledger/infrastructure/kafka/security.py, sits inside KafkaSettings). A secret
says `secret=True`: its value never appears in a repr or an error. How a setting is declared and
read lives in ledger/setting_fields.py. The README's configuration table lists every variable
(tests/unit/test_settings.py holds the two to each other).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ledger.infrastructure.kafka.security import KafkaEndpoint, KafkaSecurity
from ledger.infrastructure.operations.log_lines import LOG_FORMATS
from ledger.proof.chain_reader import MAX_WINDOW_EVENTS
from ledger.setting_fields import (
    area,
    directory,
    every_declaration,
    file_path,
    load,
    nested_areas,
    one_of,
    one_of_any_case,
    setting,
    switch,
    text,
    whole_number,
)

STORE_ENV_VAR: Final = "GRANT_LEDGER_STORE"
KAFKA_JARS_ENV_VAR: Final = "GRANT_LEDGER_KAFKA_JARS"
BOOTSTRAP_ENV_VAR: Final = "KAFKA_BOOTSTRAP_SERVERS"
READ_STORE_ENV_VAR: Final = "GRANT_LEDGER_READ_STORE"
REPLAY_DIR_ENV_VAR: Final = "GRANT_LEDGER_REPLAY_DIR"
RELAY_TRANSACTIONS_ENV_VAR: Final = "GRANT_LEDGER_RELAY_TRANSACTIONS"
RELAY_TRANSACTION_MODES: Final = ("auto", "on", "off")
LOG_FORMAT_ENV_VAR: Final = "GRANT_LEDGER_LOG_FORMAT"
STATUS_PORT_ENV_VAR: Final = "GRANT_LEDGER_STATUS_PORT"
STATUS_HOST_ENV_VAR: Final = "GRANT_LEDGER_STATUS_HOST"
DEBUG_ENV_VAR: Final = "GRANT_LEDGER_DEBUG"
SIGNING_KEY_ENV_VAR: Final = "GRANT_LEDGER_SIGNING_KEY"
TRUSTED_KEYS_ENV_VAR: Final = "GRANT_LEDGER_TRUSTED_KEYS"
JWKS_ENV_VAR: Final = "GRANT_LEDGER_AUTH_JWKS"
ISSUER_ENV_VAR: Final = "GRANT_LEDGER_AUTH_ISSUER"
AUDIENCE_ENV_VAR: Final = "GRANT_LEDGER_AUTH_AUDIENCE"
ROLES_CLAIM_ENV_VAR: Final = "GRANT_LEDGER_AUTH_ROLES_CLAIM"
CORS_ORIGINS_ENV_VAR: Final = "GRANT_LEDGER_CORS_ORIGINS"

DEFAULT_STORE_URL: Final = "sqlite:///./.grant-ledger/ledger.db"
DEFAULT_TOPIC: Final = "grant-ledger.events"
DEFAULT_CHECKPOINT_TOPIC: Final = "grant-ledger.checkpoints"
DEFAULT_CHECKPOINT_EVERY: Final = 1_000
# Readers hold at most one window's worth of events before a checkpoint releases them.
MAX_CHECKPOINT_EVERY: Final = MAX_WINDOW_EVENTS
DEFAULT_PARTITIONS: Final = 6
MAX_PARTITIONS: Final = 1_000
DEFAULT_REPLICATION_FACTOR: Final = 1  # one broker here; a production cluster sets 3
MAX_REPLICATION_FACTOR: Final = 10
DEFAULT_DEV_BROKER_PORT: Final = 9092
DEFAULT_STATUS_HOST: Final = "127.0.0.1"
MAX_PORT: Final = 65_535
DEFAULT_KAFKA_DATA_DIR: Final = Path(".grant-ledger") / "kafka"
CACHE_DIRECTORY_NAME: Final = "grant-ledger"
DEFAULT_AUDIENCE: Final = "grant-ledger"
DEFAULT_ROLES_CLAIM: Final = "roles"


@dataclass(frozen=True)
class EventStoreSettings:
    """Where the events are recorded (the system of record)."""

    url: str = setting(
        STORE_ENV_VAR,
        DEFAULT_STORE_URL,
        text,
        "event store: `sqlite:///path/ledger.db` or `postgresql://user@host:port/db` "
        "(`?schema=` optional: lower-case letters, digits, _)",
    )


@dataclass(frozen=True)
class KafkaSettings:
    """Where and how events are published."""

    bootstrap_servers: str | None = setting(
        BOOTSTRAP_ENV_VAR, None, text, 'Kafka bootstrap servers (unset: see "Brokers")'
    )
    topic: str = setting("GRANT_LEDGER_TOPIC", DEFAULT_TOPIC, text, "event topic")
    checkpoint_topic: str = setting(
        "GRANT_LEDGER_CHECKPOINT_TOPIC", DEFAULT_CHECKPOINT_TOPIC, text, "checkpoint topic"
    )
    checkpoint_every: int = setting(
        "GRANT_LEDGER_CHECKPOINT_EVERY",
        DEFAULT_CHECKPOINT_EVERY,
        whole_number(1, MAX_CHECKPOINT_EVERY),
        "events between checkpoints",
    )
    partitions: int = setting(
        "GRANT_LEDGER_PARTITIONS",
        DEFAULT_PARTITIONS,
        whole_number(1, MAX_PARTITIONS),
        "partitions of a topic the relay creates",
    )
    replication_factor: int = setting(
        "GRANT_LEDGER_REPLICATION_FACTOR",
        DEFAULT_REPLICATION_FACTOR,
        whole_number(1, MAX_REPLICATION_FACTOR),
        "replicas of a topic the relay creates (set 3 on a cluster)",
    )
    security: KafkaSecurity = area(KafkaSecurity)
    relay_transactions: str = setting(
        RELAY_TRANSACTIONS_ENV_VAR,
        "auto",
        one_of_any_case(*RELAY_TRANSACTION_MODES),
        "whether the relay publishes in Kafka transactions: `auto` (where the broker proves it "
        "honours them), `on` (refuse to run without), `off` (the idempotent producer only)",
    )


def kafka_endpoint(settings: KafkaSettings, bootstrap_servers: str) -> KafkaEndpoint:
    """Where the clients of a command connect: its bootstrap servers, the configured security."""
    return KafkaEndpoint(bootstrap_servers, settings.security)


@dataclass(frozen=True)
class ReadSideSettings:
    """Where the balances are kept: the read store and the local replay store."""

    read_store: str | None = setting(
        READ_STORE_ENV_VAR,
        None,
        text,
        "read store for balances: `sqlite:///…` or `postgresql://…` "
        "(unset: `read.db` beside a SQLite event store)",
    )
    replay_dir: Path | None = setting(
        REPLAY_DIR_ENV_VAR,
        None,
        directory,
        "the projector's local replay store, columnar files (unset: `replay/` beside the "
        "read store)",
    )


@dataclass(frozen=True)
class OperationsSettings:
    """How the long-running processes (relay, project) log and report their status."""

    log_format: str = setting(
        LOG_FORMAT_ENV_VAR,
        "text",
        one_of(*LOG_FORMATS),
        "log lines: `text`, or `json` (one object a line, credentials redacted either way)",
    )
    status_port: int | None = setting(
        STATUS_PORT_ENV_VAR,
        None,
        whole_number(0, MAX_PORT),
        "serve /metrics (Prometheus), /health and /ready on this port (unset: no endpoint)",
    )
    status_host: str = setting(
        STATUS_HOST_ENV_VAR, DEFAULT_STATUS_HOST, text, "the status endpoint's address"
    )
    debug: bool = setting(
        DEBUG_ENV_VAR,
        False,
        switch,
        "`1`: an unexpected error (a bug) prints its traceback on stderr",
    )


@dataclass(frozen=True)
class ProofSettings:
    """The ledger's Ed25519 keys: the relay signs every checkpoint, readers trust these keys."""

    signing_key: Path | None = setting(
        SIGNING_KEY_ENV_VAR,
        None,
        file_path,
        "the relay's Ed25519 signing key, a PEM file of mode 0600 (`grant-ledger keys init`); "
        "unset: `relay` refuses to run",
    )
    trusted_keys: str | None = setting(
        TRUSTED_KEYS_ENV_VAR,
        None,
        text,
        "public keys readers accept checkpoints from: PEM files or a JWKS, comma-separated; "
        "unset: `project`, `rebuild --from kafka`, `verify`, `audit replay`, `audit reconcile` "
        "refuse to run",
    )


@dataclass(frozen=True)
class ApiSettings:
    """Who may speak to the HTTP API (`serve`), and which web pages may call it.

    As read; how they fit together (both JWKS and issuer, or neither) is checked where the
    service is configured (commands/http/auth/settings.py)."""

    auth_jwks: str | None = setting(
        JWKS_ENV_VAR,
        None,
        text,
        "where the keys of the agency's OIDC provider are: a JWKS file or an https:// URL "
        "(unset: the local development key of `grant-ledger auth init`)",
    )
    auth_issuer: str | None = setting(
        ISSUER_ENV_VAR, None, text, "the `iss` every token must carry (with the JWKS)"
    )
    auth_audience: str = setting(
        AUDIENCE_ENV_VAR, DEFAULT_AUDIENCE, text, "the `aud` every token must carry"
    )
    auth_roles_claim: str = setting(
        ROLES_CLAIM_ENV_VAR,
        DEFAULT_ROLES_CLAIM,
        text,
        "the claim (or dotted path, e.g. `realm_access.roles`) holding a token's roles",
    )
    cors_origins: str | None = setting(
        CORS_ORIGINS_ENV_VAR,
        None,
        text,
        "web origins (comma-separated `https://host[:port]`) whose pages may call the API "
        "(unset: none)",
    )


@dataclass(frozen=True)
class LocalBrokerSettings:
    """The brokers this machine runs itself (`grant-ledger broker`, the tests)."""

    kafka_jars: Path | None = setting(
        KAFKA_JARS_ENV_VAR,
        None,
        directory,
        "where the Apache Kafka jars are cached (unset: `grant-ledger/kafka-<version>` in the "
        "user's cache directory)",
    )
    cache_home: Path | None = setting(
        "XDG_CACHE_HOME", None, directory, "the user's cache directory (unset: `~/.cache`)"
    )

    def kafka_jar_dir(self, default_for_root: Callable[[Path], Path]) -> Path:
        """The jar directory: the configured one, else the engine's default in our cache."""
        if self.kafka_jars is not None:
            return self.kafka_jars
        cache_home = self.cache_home if self.cache_home is not None else Path.home() / ".cache"
        return default_for_root(cache_home / CACHE_DIRECTORY_NAME)


@dataclass(frozen=True)
class Settings:
    """Every setting, by area; built once at an entry point and passed down."""

    event_store: EventStoreSettings = area(EventStoreSettings)
    kafka: KafkaSettings = area(KafkaSettings)
    read_side: ReadSideSettings = area(ReadSideSettings)
    operations: OperationsSettings = area(OperationsSettings)
    api: ApiSettings = area(ApiSettings)
    proof: ProofSettings = area(ProofSettings)
    local_broker: LocalBrokerSettings = area(LocalBrokerSettings)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        """Every area from the environment (unset or empty: the default)."""
        return load(cls, environ)


def areas() -> tuple[type[object], ...]:
    """The areas of `Settings`, in order (for the README's table)."""
    return tuple(area_type for _, area_type in nested_areas(Settings))


# Fails at import when an area has a field that is not a setting, or a variable is declared twice.
ENVIRONMENT_VARIABLES: Final = frozenset(every_declaration(Settings))
