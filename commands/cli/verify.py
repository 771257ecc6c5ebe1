"""`grant-ledger verify`: prove the topic equals the store and the hash chain is intact.

Reads both topics to their end, recomputes the chain from the store, checks every checkpoint's
signature (GRANT_LEDGER_TRUSTED_KEYS), and reports in position order the first problems (at most
--max-problems, with a count of the rest), ranges for runs, and every skip recorded in the read
store.
"""

import argparse
import sys

import orjson

from commands.cli.kafka_options import add_kafka_options, kafka_settings
from commands.cli.options import add_store_option, open_ledger, whole_number
from ledger.audit.topic_verification import verify_store_against_kafka
from ledger.audit.verification import DEFAULT_MAX_PROBLEMS, VerificationReport
from ledger.config import BOOTSTRAP_ENV_VAR, trusted_keys_from_env
from ledger.domain.errors import LedgerError
from ledger.proof.skips import RecordedSkip
from projections.store.location import parse_read_store_url, read_store_url
from projections.store.read_store import ReadStore


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `verify` subcommand."""
    parser = subparsers.add_parser(
        "verify", help="recompute the hash chain and check the topic against the store"
    )
    parser.add_argument("--format", choices=("text", "json"), default="text")
    parser.add_argument(
        "--max-problems",
        type=whole_number,
        default=DEFAULT_MAX_PROBLEMS,
        help=f"problems listed (the rest are counted; default {DEFAULT_MAX_PROBLEMS})",
    )
    parser.add_argument(
        "--read-store",
        metavar="URL",
        default=None,
        help="read store whose recorded skips to report (default as for `project`, if it exists)",
    )
    add_store_option(parser)
    add_kafka_options(parser)
    parser.set_defaults(run=run)


def recorded_skips(flag: str | None) -> list[RecordedSkip]:
    """Skips recorded in the read store; none when there is no read store yet."""
    location = parse_read_store_url(read_store_url(flag))
    if location.sqlite_path is not None and not location.sqlite_path.exists():
        return []
    with ReadStore(location) as read_store:
        return read_store.skips()


def run(args: argparse.Namespace) -> int:
    """Exit 0 only when positions 1..N are each on the topic once and every hash matches."""
    settings = kafka_settings(args)
    if not settings.bootstrap_servers:
        raise LedgerError(
            BOOTSTRAP_ENV_VAR,
            None,
            "verify reads the topic of a running broker: set KAFKA_BOOTSTRAP_SERVERS or pass "
            "--bootstrap-servers (an embedded broker started for the run would be empty)",
        )
    if args.max_problems < 1:
        raise LedgerError("--max-problems", args.max_problems, "must be at least 1")
    trusted = trusted_keys_from_env()
    skips = recorded_skips(args.read_store)
    ledger = open_ledger(args)
    try:
        report = verify_store_against_kafka(
            ledger,
            settings,
            settings.bootstrap_servers,
            trusted,
            skips=skips,
            max_problems=args.max_problems,
        )
    finally:
        ledger.close()
    if args.format == "json":
        _print_json(report)
    else:
        _print_text(report, settings.topic)
    return 0 if report.ok else 1


def _print_json(report: VerificationReport) -> None:
    sys.stdout.buffer.write(
        orjson.dumps(
            {
                "ok": report.ok,
                "store_events": report.store_events,
                "topic_messages": report.topic_messages,
                "last_checkpoint": report.last_checkpoint,
                "first_bad_position": report.first_bad_position,
                "not_yet_published": report.not_yet_published,
                "problems": [str(p) for p in report.problems],
                "problems_not_listed": report.problems_not_listed,
                "skipped": [str(s) for s in report.skipped],
            }
        )
        + b"\n"
    )


def _print_text(report: VerificationReport, topic: str) -> None:
    published = report.store_events - report.not_yet_published
    if report.ok:
        print(f"OK: positions 1..{published} each once, every hash matches")
    else:
        print(f"FAILED: first bad position {report.first_bad_position}")
        for problem in report.problems:
            print(f"  {problem}")
        if report.problems_not_listed:
            print(f"  … and {report.problems_not_listed} more problems (--max-problems)")
    checkpoint = report.last_checkpoint
    print(
        f"store: {report.store_events} events; topic {topic}: {report.topic_messages} messages; "
        f"last signed checkpoint: {checkpoint.get('position') if checkpoint else 'none'}"
    )
    for skip in report.skipped:
        print(f"skipped (recorded in the read store): {skip}")
    if report.not_yet_published:
        print(f"not yet published (the relay is behind): {report.not_yet_published} events")
