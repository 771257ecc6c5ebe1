"""Flags of the long-running processes (relay, project): log format and the status endpoint."""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import Iterator

from prometheus_client import CollectorRegistry

from ledger.domain.errors import LedgerError
from ledger.infrastructure.operations.log_lines import LOG_FORMATS, configure_logging
from ledger.infrastructure.operations.status import ProcessHealth, StatusServer

LOG_FORMAT_ENV_VAR = "GRANT_LEDGER_LOG_FORMAT"
STATUS_PORT_ENV_VAR = "GRANT_LEDGER_STATUS_PORT"
STATUS_HOST_ENV_VAR = "GRANT_LEDGER_STATUS_HOST"
DEFAULT_STATUS_HOST = "127.0.0.1"
MAX_PORT = 65_535


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


def start_logging(args: argparse.Namespace, process: str) -> None:
    """Configure the process's log lines; refuse bad operations settings before any work."""
    log_format = args.log_format or os.environ.get(LOG_FORMAT_ENV_VAR) or "text"
    if log_format not in LOG_FORMATS:
        raise LedgerError(LOG_FORMAT_ENV_VAR, log_format, f"expected one of {LOG_FORMATS}")
    _status_port(args)
    configure_logging(process, log_format)


def _status_port(args: argparse.Namespace) -> int | None:
    if args.status_port is not None:
        raw: str = str(args.status_port)
        setting = "--status-port"
    else:
        raw = os.environ.get(STATUS_PORT_ENV_VAR, "")
        setting = STATUS_PORT_ENV_VAR
    if raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or not 0 <= int(raw) <= MAX_PORT:
        raise LedgerError(setting, raw, f"must be a port number from 0 to {MAX_PORT}")
    return int(raw)


@contextlib.contextmanager
def status_endpoint(
    args: argparse.Namespace, registry: CollectorRegistry, health: ProcessHealth
) -> Iterator[StatusServer | None]:
    """The status endpoint for the process's lifetime, when a port is configured."""
    port = _status_port(args)
    if port is None:
        yield None
        return
    host = args.status_host or os.environ.get(STATUS_HOST_ENV_VAR) or DEFAULT_STATUS_HOST
    try:
        server = StatusServer(host, port, registry, health).start()
    except OSError as exc:
        raise LedgerError("--status-port", port, f"cannot listen on {host}:{port}: {exc}") from None
    try:
        yield server
    finally:
        server.stop()
