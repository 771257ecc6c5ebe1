"""Configuration from the environment (flags on the CLI override these)."""

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ledger.domain.errors import LedgerError
from ledger.infrastructure.kafka.security import (
    PLAINTEXT,
    SASL_MECHANISM_ENV_VAR,
    SASL_PASSWORD_ENV_VAR,
    SASL_USERNAME_ENV_VAR,
    SECURITY_PROTOCOL_ENV_VAR,
    SSL_CAFILE_ENV_VAR,
    SSL_CERTFILE_ENV_VAR,
    SSL_KEYFILE_ENV_VAR,
    KafkaEndpoint,
    KafkaSecurity,
)
from ledger.infrastructure.signing_keys import (
    SIGNING_KEY_ENV_VAR,
    TRUSTED_KEYS_ENV_VAR,
    KeyFileError,
    load_signing_key,
    load_trusted_keys,
)
from ledger.infrastructure.store_url import DEFAULT_STORE_URL, STORE_ENV_VAR
from ledger.proof.chain_reader import MAX_WINDOW_EVENTS
from ledger.proof.signatures import CheckpointSigner, TrustedKeys

BOOTSTRAP_ENV_VAR = "KAFKA_BOOTSTRAP_SERVERS"
TOPIC_ENV_VAR = "GRANT_LEDGER_TOPIC"
CHECKPOINT_TOPIC_ENV_VAR = "GRANT_LEDGER_CHECKPOINT_TOPIC"
CHECKPOINT_EVERY_ENV_VAR = "GRANT_LEDGER_CHECKPOINT_EVERY"
PARTITIONS_ENV_VAR = "GRANT_LEDGER_PARTITIONS"
READ_STORE_ENV_VAR = "GRANT_LEDGER_READ_STORE"
REPLICATION_FACTOR_ENV_VAR = "GRANT_LEDGER_REPLICATION_FACTOR"
# Whether the relay publishes in Kafka transactions: auto (when the broker proves it honours
# them), on (refuse to run without), off (idempotent producer only).
RELAY_TRANSACTIONS_ENV_VAR = "GRANT_LEDGER_RELAY_TRANSACTIONS"
RELAY_TRANSACTION_MODES = ("auto", "on", "off")
# Where the Apache Kafka jars are cached (default: $XDG_CACHE_HOME or ~/.cache, /grant-ledger).
KAFKA_JARS_ENV_VAR = "GRANT_LEDGER_KAFKA_JARS"
CACHE_HOME_ENV_VAR = "XDG_CACHE_HOME"
DEFAULT_KAFKA_DATA_DIR = Path(".grant-ledger") / "kafka"

DEFAULT_TOPIC = "grant-ledger.events"
DEFAULT_CHECKPOINT_TOPIC = "grant-ledger.checkpoints"
DEFAULT_CHECKPOINT_EVERY = 1_000
DEFAULT_PARTITIONS = 6
DEFAULT_REPLICATION_FACTOR = 1  # one broker here; a production cluster sets 3
MAX_REPLICATION_FACTOR = 10
DEFAULT_DEV_BROKER_PORT = 9092
MAX_PARTITIONS = 1_000

ENVIRONMENT_DEFAULTS: dict[str, str | None] = {
    STORE_ENV_VAR: DEFAULT_STORE_URL,
    BOOTSTRAP_ENV_VAR: None,
    TOPIC_ENV_VAR: DEFAULT_TOPIC,
    CHECKPOINT_TOPIC_ENV_VAR: DEFAULT_CHECKPOINT_TOPIC,
    CHECKPOINT_EVERY_ENV_VAR: str(DEFAULT_CHECKPOINT_EVERY),
    PARTITIONS_ENV_VAR: str(DEFAULT_PARTITIONS),
    REPLICATION_FACTOR_ENV_VAR: str(DEFAULT_REPLICATION_FACTOR),
    READ_STORE_ENV_VAR: None,
}


def _positive_int(name: str, default: int, maximum: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise LedgerError(name, raw, "must be a whole number") from None
    if not 1 <= value <= maximum:
        raise LedgerError(name, raw, f"must be between 1 and {maximum}")
    return value


@dataclass(frozen=True)
class KafkaSettings:
    """Where and how events are published."""

    bootstrap_servers: str | None
    topic: str
    checkpoint_topic: str
    checkpoint_every: int
    partitions: int
    replication_factor: int = DEFAULT_REPLICATION_FACTOR
    security: KafkaSecurity = PLAINTEXT
    relay_transactions: str = "auto"


def kafka_security_from_env() -> KafkaSecurity:
    """KAFKA_SECURITY_PROTOCOL and the SASL/SSL settings (PLAINTEXT when unset)."""
    protocol = (os.environ.get(SECURITY_PROTOCOL_ENV_VAR) or "PLAINTEXT").upper()
    mechanism = os.environ.get(SASL_MECHANISM_ENV_VAR)
    return KafkaSecurity(
        protocol=protocol,
        sasl_mechanism=mechanism.upper() if mechanism else None,
        sasl_username=os.environ.get(SASL_USERNAME_ENV_VAR) or None,
        sasl_password=os.environ.get(SASL_PASSWORD_ENV_VAR),
        ssl_cafile=os.environ.get(SSL_CAFILE_ENV_VAR) or None,
        ssl_certfile=os.environ.get(SSL_CERTFILE_ENV_VAR) or None,
        ssl_keyfile=os.environ.get(SSL_KEYFILE_ENV_VAR) or None,
    )


def _relay_transactions() -> str:
    mode = (os.environ.get(RELAY_TRANSACTIONS_ENV_VAR) or "auto").lower()
    if mode not in RELAY_TRANSACTION_MODES:
        raise LedgerError(RELAY_TRANSACTIONS_ENV_VAR, mode, f"expected {RELAY_TRANSACTION_MODES}")
    return mode


def kafka_settings_from_env() -> KafkaSettings:
    """Kafka settings from the environment, defaults where unset."""
    return KafkaSettings(
        bootstrap_servers=os.environ.get(BOOTSTRAP_ENV_VAR) or None,
        topic=os.environ.get(TOPIC_ENV_VAR) or DEFAULT_TOPIC,
        checkpoint_topic=os.environ.get(CHECKPOINT_TOPIC_ENV_VAR) or DEFAULT_CHECKPOINT_TOPIC,
        # Readers hold at most one window's worth of events before a checkpoint releases them.
        checkpoint_every=_positive_int(
            CHECKPOINT_EVERY_ENV_VAR, DEFAULT_CHECKPOINT_EVERY, MAX_WINDOW_EVENTS
        ),
        partitions=_positive_int(PARTITIONS_ENV_VAR, DEFAULT_PARTITIONS, MAX_PARTITIONS),
        replication_factor=_positive_int(
            REPLICATION_FACTOR_ENV_VAR, DEFAULT_REPLICATION_FACTOR, MAX_REPLICATION_FACTOR
        ),
        security=kafka_security_from_env(),
        relay_transactions=_relay_transactions(),
    )


def kafka_endpoint(settings: KafkaSettings, bootstrap_servers: str) -> KafkaEndpoint:
    """Where the clients of a command connect: its bootstrap servers, the configured security."""
    return KafkaEndpoint(bootstrap_servers, settings.security)


def cache_root_from_env() -> Path:
    """The user's cache root for grant-ledger (jars fetched once, outside any work tree)."""
    cache_home = os.environ.get(CACHE_HOME_ENV_VAR) or str(Path.home() / ".cache")
    return Path(cache_home) / "grant-ledger"


def kafka_jar_dir_from_env(default_for_root: Callable[[Path], Path]) -> Path:
    """GRANT_LEDGER_KAFKA_JARS, else the engine's default under the cache root."""
    explicit = os.environ.get(KAFKA_JARS_ENV_VAR)
    return Path(explicit) if explicit else default_for_root(cache_root_from_env())


def signing_key_from_env() -> CheckpointSigner:
    """The relay's signing key (GRANT_LEDGER_SIGNING_KEY, a PEM file); refused when unset."""
    path = os.environ.get(SIGNING_KEY_ENV_VAR)
    if not path:
        raise KeyFileError(
            SIGNING_KEY_ENV_VAR,
            None,
            "unset: the relay signs every checkpoint; make a key with `grant-ledger keys init "
            "--out PATH` and set GRANT_LEDGER_SIGNING_KEY=PATH (readers trust its .pub.pem)",
        )
    return load_signing_key(Path(path))


def trusted_keys_from_env() -> TrustedKeys:
    """The keys readers accept checkpoints from (GRANT_LEDGER_TRUSTED_KEYS); refused when unset."""
    spec = os.environ.get(TRUSTED_KEYS_ENV_VAR)
    if not spec:
        raise KeyFileError(
            TRUSTED_KEYS_ENV_VAR,
            None,
            "unset: readers apply only what a checkpoint signed by a trusted key covers; set it "
            "to the ledger's public key (PEM files or a JWKS, comma-separated)",
        )
    return load_trusted_keys(spec)
