"""Every Kafka client of the project is opened here: endpoint, security, and named failures.

kafka-python reports a broker that is down, a wrong password and a listener speaking another
protocol alike ("Unable to bootstrap"); a client opened here says which it is, naming the
setting to check and never its secret value.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.errors import KafkaTimeoutError

from ledger.infrastructure.kafka.errors import BrokerUnavailable
from ledger.infrastructure.kafka.security import (
    KafkaEndpoint,
    KafkaSecurity,
    as_endpoint,
    authentication_hint,
)
from ledger.settings import BOOTSTRAP_ENV_VAR
from schemas.errors import ConfigurationError

CONNECT_TIMEOUT_MS = 10_000
PROBE_TIMEOUT_MS = 2_000
# How long closing a producer waits for its I/O thread once told to drop what is pending.
PRODUCER_FORCE_CLOSE_WAIT_S = 5.0


class BrokerUnreachableError(BrokerUnavailable):
    """No broker answers at the bootstrap address (yet)."""


class BrokerRefusedClientError(ConfigurationError):
    """The broker listens but drops our client: wrong credentials or the wrong protocol.

    A configuration error (exit 2): a following relay keeps retrying it (credentials may be
    rotated in), a one-off command stops and names the setting to check.
    """


def listening(bootstrap_servers: str) -> bool:
    """True when some bootstrap address accepts a TCP connection."""
    for address in bootstrap_servers.split(","):
        host, _, port = address.strip().rpartition(":")
        try:
            with socket.create_connection(
                (host or "localhost", int(port)), PROBE_TIMEOUT_MS / 1000
            ):
                return True
        except (OSError, ValueError):
            continue
    return False


def require_listening(endpoint: KafkaEndpoint | str) -> None:
    """Fail fast when nothing listens (kafka-python would retry silently for its whole timeout)."""
    where = as_endpoint(endpoint)
    if not listening(where.bootstrap_servers):
        raise BrokerUnreachableError(
            BOOTSTRAP_ENV_VAR, where.bootstrap_servers, "connection refused"
        )


def _refused(
    where: KafkaEndpoint, exc: Exception, timeout_ms: int
) -> BrokerUnreachableError | BrokerRefusedClientError:
    security: KafkaSecurity = where.security
    if listening(where.bootstrap_servers) and security.protocol != "PLAINTEXT":
        return BrokerRefusedClientError(
            BOOTSTRAP_ENV_VAR,
            where.bootstrap_servers,
            "the broker is listening but refused our client (authentication failed, or the "
            f"listener speaks another protocol): {authentication_hint(security)}",
        )
    return BrokerUnreachableError(
        BOOTSTRAP_ENV_VAR,
        where.bootstrap_servers,
        f"no Kafka broker answered within {timeout_ms} ms ({type(exc).__name__})",
    )


def open_admin(endpoint: KafkaEndpoint | str, *, timeout_ms: int = CONNECT_TIMEOUT_MS) -> Any:
    """A KafkaAdminClient, or BrokerUnreachableError / BrokerRefusedClientError saying why."""
    where = as_endpoint(endpoint)
    try:
        return KafkaAdminClient(
            **where.client_options(),
            client_id="grant-ledger-admin",
            request_timeout_ms=timeout_ms,
            bootstrap_timeout_ms=timeout_ms,
        )
    except Exception as exc:
        raise _refused(where, exc, timeout_ms) from None


def open_consumer(endpoint: KafkaEndpoint | str, **config: Any) -> Any:
    """A KafkaConsumer with `config`, or BrokerUnreachableError saying why not."""
    return _open(KafkaConsumer, endpoint, config)


def open_producer(endpoint: KafkaEndpoint | str, **config: Any) -> Any:
    """A KafkaProducer with `config`, or BrokerUnreachableError saying why not."""
    return _open(KafkaProducer, endpoint, config)


def close_producer(producer: Any, timeout_s: float) -> None:
    """Close a producer, waiting at most `timeout_s` for what it has not sent; never raises.

    kafka-python 3.0.12's close() flushes first and raises KafkaTimeoutError when a batch is
    still unacknowledged (a broker away, a topic it lost), before stopping its I/O thread: the
    producer would stay alive, retrying. Then its I/O thread is told to drop what is pending
    (failing those sends), as close() would have done next, and the close completes.
    """
    try:
        producer.close(timeout=timeout_s)
    except KafkaTimeoutError:
        producer._sender.force_close()
        producer._sender.join(PRODUCER_FORCE_CLOSE_WAIT_S)
        # Its I/O thread is down and the pending sends failed: nothing is left to wait for.
        with contextlib.suppress(KafkaTimeoutError):
            producer.close(timeout=0)


def _open(client: type, endpoint: KafkaEndpoint | str, config: dict[str, Any]) -> Any:
    where = as_endpoint(endpoint)
    timeout_ms = int(config.get("bootstrap_timeout_ms", CONNECT_TIMEOUT_MS))
    try:
        return client(**where.client_options(), **config)
    except Exception as exc:
        raise _refused(where, exc, timeout_ms) from None
