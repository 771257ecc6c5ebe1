"""`grant-ledger serve`: the HTTP API on uvicorn."""

import argparse
from dataclasses import replace

import uvicorn

from commands.cli.options import add_store_option, event_store_url
from commands.http.app import create_app
from ledger.settings import EventStoreSettings, Settings

DEFAULT_HTTP_PORT = 8000


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `serve` subcommand."""
    parser = subparsers.add_parser("serve", help="serve the HTTP API")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_HTTP_PORT)
    add_store_option(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Serve until interrupted."""
    settings = replace(settings, event_store=EventStoreSettings(event_store_url(args, settings)))
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info")
    return 0
