"""`grant-ledger serve`: the HTTP API on uvicorn, never without token checks."""

import argparse
import os
import sys

import uvicorn

from commands.cli.options import add_store_option, whole_number
from commands.cli.read_side_options import add_store_options
from commands.http.app import create_app
from commands.http.auth.dev_issuer import DevIssuer
from commands.http.auth.settings import JWKS_ENV_VAR
from commands.http.settings import service_settings_from_env

DEFAULT_HTTP_PORT = 8000


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `serve` subcommand."""
    parser = subparsers.add_parser("serve", help="serve the HTTP API and the pages")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=whole_number, default=DEFAULT_HTTP_PORT)
    add_store_option(parser)
    add_store_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
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
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0
