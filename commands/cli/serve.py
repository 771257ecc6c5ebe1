"""`grant-ledger serve`: the HTTP API on uvicorn, in one process or several workers."""

import argparse
import os

import uvicorn

from commands.cli.options import add_store_option
from ledger.domain.errors import LedgerError
from ledger.infrastructure.store_url import STORE_ENV_VAR

DEFAULT_HTTP_PORT = 8000
MAX_WORKERS = 64
# uvicorn imports this in every worker process and calls it to build that worker's app.
APP_FACTORY = "commands.http.app:create_app"


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `serve` subcommand."""
    parser = subparsers.add_parser("serve", help="serve the HTTP API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_HTTP_PORT)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, each with its own ledger; PostgreSQL orders their writes "
        f"(1-{MAX_WORKERS}, default 1)",
    )
    add_store_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    if not 1 <= args.workers <= MAX_WORKERS:
        raise LedgerError("--workers", args.workers, f"must be between 1 and {MAX_WORKERS}")
    if args.store is not None:
        # Workers are separate processes that build their app from the environment.
        os.environ[STORE_ENV_VAR] = args.store
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level="info",
    )
    return 0
