"""`grant-ledger audit reconcile`: event store, topic and read store agree at one position."""

import argparse
import sys

import orjson

from commands.cli.audit import EXIT_CHECK_FAILED, EXIT_OK
from commands.cli.kafka_options import add_kafka_options, kafka_settings
from commands.cli.options import add_store_option, open_ledger
from commands.cli.read_side_options import add_store_options, require_bootstrap
from ledger.config import trusted_keys_from_env
from projections.application.reconcile import Reconciliation, reconcile
from projections.store.location import parse_read_store_url, read_store_url
from projections.store.read_store import ReadStore


def register(tools: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `audit reconcile`."""
    parser = tools.add_parser(
        "reconcile", help="event store vs topic vs read store: chain, counts, every balance"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    add_store_option(parser)
    add_store_options(parser)
    add_kafka_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Exit 0 when all three agree, 1 naming the first disagreement."""
    settings = kafka_settings(args)
    bootstrap = require_bootstrap(settings, "audit reconcile")
    ledger = open_ledger(args)
    try:
        with ReadStore(parse_read_store_url(read_store_url(args.read_store))) as read_store:
            result = reconcile(ledger, settings, bootstrap, read_store, trusted_keys_from_env())
    finally:
        ledger.close()
    lines = describe(result)
    skipped = result.chain.skipped if result.chain is not None else []
    if args.format == "json":
        body = {
            "ok": result.agrees,
            "store_events": result.store_events,
            "topic_messages": result.topic_messages,
            "read_store_position": result.read_store_position,
            "first_bad_position": result.chain.first_bad_position if result.chain else None,
            "disagreements": lines[1:],
            "skipped": [str(skip) for skip in skipped],
        }
        sys.stdout.buffer.write(orjson.dumps(body) + b"\n")
    else:
        said = [*lines, *(f"skipped (recorded in the read store): {skip}" for skip in skipped)]
        sys.stdout.write("\n".join(said) + "\n")
    return EXIT_OK if result.agrees else EXIT_CHECK_FAILED


def describe(result: Reconciliation) -> list[str]:
    """A headline, then one line per disagreement (chain first, then balances)."""
    head = (
        f"store: {result.store_events} events; topic: {result.topic_messages} messages; "
        f"read store at position {result.read_store_position}"
    )
    lines = [head]
    if result.chain is not None:
        lines += [f"chain: {problem}" for problem in result.chain.problems]
    lines += [f"balances: {difference}" for difference in result.disagreements]
    if result.agrees:
        lines.append(
            f"OK: at position {result.read_store_position} the store's chain equals the topic's "
            f"and all {result.rows_compared} read-store balances equal the store's"
        )
    return lines
