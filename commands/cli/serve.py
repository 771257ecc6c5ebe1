"""`grant-ledger serve`: the HTTP API on uvicorn."""

import argparse

import uvicorn

from commands.cli.options import add_store_option
from commands.http.app import create_app

DEFAULT_HTTP_PORT = 8000


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `serve` subcommand."""
    parser = subparsers.add_parser("serve", help="serve the HTTP API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_HTTP_PORT)
    add_store_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    uvicorn.run(create_app(args.store), host=args.host, port=args.port, log_level="info")
    return 0
