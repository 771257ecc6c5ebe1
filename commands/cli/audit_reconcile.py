"""`grant-ledger audit reconcile`: event store, topic and read store agree at one position."""

import argparse
import sys

import orjson

from commands.cli.audit import EXIT_CHECK_FAILED, EXIT_OK, EXIT_UNAVAILABLE
from commands.cli.kafka_options import add_kafka_options, kafka_settings
from commands.cli.options import add_store_option, open_ledger
from commands.cli.read_side_options import add_store_options, require_bootstrap
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
    """Exit 0 when all three agree, 1 naming the first disagreement, 3 when not at a position."""
    settings = kafka_settings(args)
    bootstrap = require_bootstrap(settings, "audit reconcile")
    ledger = open_ledger(args)
    try:
        with ReadStore(parse_read_store_url(read_store_url(args.read_store))) as read_store:
            result = reconcile(ledger, settings, bootstrap, read_store)
    finally:
        ledger.close()
    lines = describe(result)
    if args.format == "json":
        body = {
            "ok": result.agrees,
            "store_events": result.store_events,
            "topic_messages": result.topic_messages,
            "read_store_position": result.read_store_position,
            "between_positions": result.between_positions,
            "first_bad_position": result.chain.first_bad_position if result.chain else None,
            "disagreements": lines[1:],
        }
        sys.stdout.buffer.write(orjson.dumps(body) + b"\n")
    else:
        sys.stdout.write("\n".join(lines) + "\n")
    if result.between_positions:
        return EXIT_UNAVAILABLE
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
    if result.between_positions:
        lines.append(
            "read store: applied events beyond position "
            f"{result.read_store_position} but not every one before them (a projector is "
            "mid-batch): run again when it is idle"
        )
    lines += [f"balances: {difference}" for difference in result.disagreements]
    if result.agrees:
        lines.append(
            f"OK: at position {result.read_store_position} the store's chain equals the topic's "
            f"and all {result.rows_compared} read-store balances equal the store's"
        )
    return lines
