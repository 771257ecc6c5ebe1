"""Flags of the long-running processes (relay, project): log format and the status endpoint.

Each flag overrides its setting (GRANT_LEDGER_LOG_FORMAT, GRANT_LEDGER_STATUS_PORT,
GRANT_LEDGER_STATUS_HOST in ledger/settings.py).
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator

from prometheus_client import CollectorRegistry

from ledger.infrastructure.operations.log_lines import LOG_FORMATS, configure_logging
from ledger.infrastructure.operations.status import ProcessHealth, StatusServer
from ledger.setting_fields import overridden
from ledger.settings import (
    LOG_FORMAT_ENV_VAR,
    MAX_PORT,
    STATUS_HOST_ENV_VAR,
    STATUS_PORT_ENV_VAR,
    OperationsSettings,
    Settings,
)
from schemas.errors import ConfigurationError


def add_operations_options(parser: argparse.ArgumentParser) -> None:
    """`--log-format text|json`, `--status-port PORT`, `--status-host HOST`."""
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=None,
        help=f"text (default) or json: one object a line (default ${LOG_FORMAT_ENV_VAR})",
    )
    parser.add_argument(
        "--status-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve /metrics (Prometheus), /health and /ready on this port "
        f"(default ${STATUS_PORT_ENV_VAR}; unset: no status endpoint)",
    )
    parser.add_argument(
        "--status-host",
        default=None,
        metavar="HOST",
        help=f"address of the status endpoint (default ${STATUS_HOST_ENV_VAR} or 127.0.0.1)",
    )


def operations_settings(args: argparse.Namespace, settings: Settings) -> OperationsSettings:
    """The operations settings, overridden by the flags given; a bad port refused by name."""
    if args.status_port is not None and not 0 <= args.status_port <= MAX_PORT:
        raise ConfigurationError(
            "--status-port", args.status_port, f"must be a port number from 0 to {MAX_PORT}"
        )
    return overridden(
        settings.operations,
        log_format=args.log_format,
        status_port=args.status_port,
        status_host=args.status_host,
    )


def start_logging(operations: OperationsSettings, process: str) -> None:
    """Configure the process's log lines (the settings were checked when they were read)."""
    configure_logging(process, operations.log_format)


@contextlib.contextmanager
def status_endpoint(
    operations: OperationsSettings, registry: CollectorRegistry, health: ProcessHealth
) -> Iterator[StatusServer | None]:
    """The status endpoint for the process's lifetime, when a port is configured."""
    port, host = operations.status_port, operations.status_host
    if port is None:
        yield None
        return
    try:
        server = StatusServer(host, port, registry, health).start()
    except OSError as exc:
        raise ConfigurationError(
            "--status-port", port, f"cannot listen on {host}:{port}: {exc}"
        ) from None
    try:
        yield server
    finally:
        server.stop()
