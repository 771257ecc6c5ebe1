"""`grant-ledger serve`: the HTTP API on uvicorn, never without token checks, in one process or
several workers."""

import argparse
import os
import sys

import uvicorn

from commands.cli.options import add_store_option, whole_number
from commands.cli.read_side_options import add_store_options
from commands.http.app import create_app
from commands.http.auth.dev_issuer import DevIssuer
from commands.http.auth.settings import JWKS_ENV_VAR
from commands.http.settings import ServiceSettings, service_settings_from_env
from ledger.config import READ_STORE_ENV_VAR
from ledger.domain.errors import LedgerError
from ledger.infrastructure.store_url import STORE_ENV_VAR
from projections.store.location import REPLAY_DIR_ENV_VAR

DEFAULT_HTTP_PORT = 8000
MAX_WORKERS = 64
# uvicorn imports this in every worker process and calls it to build that worker's app.
APP_FACTORY = "commands.http.app:create_app"


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `serve` subcommand."""
    parser = subparsers.add_parser("serve", help="serve the HTTP API and the pages")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=whole_number, default=DEFAULT_HTTP_PORT)
    parser.add_argument(
        "--workers",
        type=whole_number,
        default=1,
        help="worker processes, each with its own ledger; the event store orders their writes "
        f"(1-{MAX_WORKERS}, default 1)",
    )
    add_store_option(parser)
    add_store_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    if not 1 <= args.workers <= MAX_WORKERS:
        raise LedgerError("--workers", args.workers, f"must be between 1 and {MAX_WORKERS}")
    settings = service_settings_from_env(
        os.environ, store_url=args.store, read_store=args.read_store, replay_dir=args.replay_dir
    )
    auth = settings.auth
    if auth.uses_dev_keys:
        issuer, created = DevIssuer.ensure(auth.dev_dir)
        print(
            f"serve: {JWKS_ENV_VAR} is not set: tokens are checked against the local development "
            f"key in {auth.dev_dir}/ ({'created now, ' if created else ''}kid {issuer.kid}); "
            "mint one with `grant-ledger auth token --sub NAME --role finance`",
            file=sys.stderr,
        )
    else:
        print(f"serve: tokens from {auth.issuer}, keys from {auth.jwks}", file=sys.stderr)
    print(f"serve: pages at http://{args.host}:{args.port}/", file=sys.stderr)
    if args.workers == 1:
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
        return 0
    hand_to_workers(settings)
    print(f"serve: {args.workers} worker processes", file=sys.stderr)
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        workers=args.workers,
        host=args.host,
        port=args.port,
        log_level="info",
    )
    return 0


def hand_to_workers(settings: ServiceSettings) -> None:
    """Put the settings the flags chose where each worker's factory reads its settings: the
    environment is the one thing uvicorn passes to the worker processes it starts."""
    os.environ[STORE_ENV_VAR] = settings.store_url
    os.environ[READ_STORE_ENV_VAR] = settings.read_store_url
    os.environ[REPLAY_DIR_ENV_VAR] = str(settings.replay_dir)
