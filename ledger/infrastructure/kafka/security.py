"""How the ledger's Kafka clients authenticate: the usual settings, turned into client options.

Every client of the project (relay, projector, rebuild, verify, topic admin) is built with these
options, so pointing the ledger at a secured cluster is a matter of the KAFKA_* environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ledger.domain.errors import LedgerError

SECURITY_PROTOCOL_ENV_VAR = "KAFKA_SECURITY_PROTOCOL"
SASL_MECHANISM_ENV_VAR = "KAFKA_SASL_MECHANISM"
SASL_USERNAME_ENV_VAR = "KAFKA_SASL_USERNAME"
SASL_PASSWORD_ENV_VAR = "KAFKA_SASL_PASSWORD"
SSL_CAFILE_ENV_VAR = "KAFKA_SSL_CAFILE"
SSL_CERTFILE_ENV_VAR = "KAFKA_SSL_CERTFILE"
SSL_KEYFILE_ENV_VAR = "KAFKA_SSL_KEYFILE"

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
REDACTED = "***"


@dataclass(frozen=True)
class KafkaSecurity:
    """Security settings of a Kafka client; the password never appears in its repr."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    def __post_init__(self) -> None:
        if self.protocol not in SECURITY_PROTOCOLS:
            raise LedgerError(
                SECURITY_PROTOCOL_ENV_VAR, self.protocol, f"expected one of {SECURITY_PROTOCOLS}"
            )
        if not self.uses_sasl:
            return
        if self.sasl_mechanism not in SASL_MECHANISMS:
            raise LedgerError(
                SASL_MECHANISM_ENV_VAR,
                self.sasl_mechanism,
                f"{self.protocol} needs one of {SASL_MECHANISMS}",
            )
        if not self.sasl_username:
            raise LedgerError(SASL_USERNAME_ENV_VAR, None, f"{self.protocol} needs a username")
        if self.sasl_password is None:
            raise LedgerError(SASL_PASSWORD_ENV_VAR, None, f"{self.protocol} needs a password")

    def __repr__(self) -> str:
        password = REDACTED if self.sasl_password is not None else None
        return (
            f"KafkaSecurity(protocol={self.protocol!r}, sasl_mechanism={self.sasl_mechanism!r}, "
            f"sasl_username={self.sasl_username!r}, sasl_password={password!r}, "
            f"ssl_cafile={self.ssl_cafile!r})"
        )

    @property
    def uses_sasl(self) -> bool:
        """True for SASL_PLAINTEXT and SASL_SSL."""
        return self.protocol.startswith("SASL_")

    @property
    def uses_ssl(self) -> bool:
        """True for SSL and SASL_SSL."""
        return self.protocol.endswith("SSL")

    def client_options(self) -> dict[str, Any]:
        """kafka-python keyword options (producer, consumer and admin take the same ones)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.uses_sasl:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self.sasl_password
        if self.uses_ssl:
            options["ssl_check_hostname"] = True
            for option, value in (
                ("ssl_cafile", self.ssl_cafile),
                ("ssl_certfile", self.ssl_certfile),
                ("ssl_keyfile", self.ssl_keyfile),
            ):
                if value:
                    options[option] = value
        return options


PLAINTEXT = KafkaSecurity()


def authentication_hint(security: KafkaSecurity) -> str:
    """What to check when the broker refuses us (names settings, never their secret values)."""
    if security.uses_sasl:
        return (
            f"check {SASL_USERNAME_ENV_VAR}={security.sasl_username!r} and "
            f"{SASL_PASSWORD_ENV_VAR} ({security.sasl_mechanism} over {security.protocol})"
        )
    return f"check {SECURITY_PROTOCOL_ENV_VAR}={security.protocol!r} against the listener"


@dataclass(frozen=True)
class KafkaEndpoint:
    """Where a client connects and how it authenticates."""

    bootstrap_servers: str
    security: KafkaSecurity = PLAINTEXT

    def __str__(self) -> str:
        return self.bootstrap_servers

    def client_options(self) -> dict[str, Any]:
        """`bootstrap_servers` and the security options, for any kafka-python client."""
        return {"bootstrap_servers": self.bootstrap_servers, **self.security.client_options()}


def as_endpoint(where: KafkaEndpoint | str) -> KafkaEndpoint:
    """An endpoint; a bare `host:port` string means an unauthenticated (PLAINTEXT) listener."""
    return where if isinstance(where, KafkaEndpoint) else KafkaEndpoint(where)
