"""`grant-ledger audit report --programme ID [--as-of-date D] --out report.html`."""

import argparse
import sys
from datetime import date
from pathlib import Path

from commands.audit_report.html import render
from commands.cli.audit import EXIT_CHECK_FAILED, EXIT_OK
from commands.cli.kafka_options import add_kafka_options, kafka_settings
from commands.cli.options import add_store_option, open_ledger
from ledger.audit.export import ledger_version
from ledger.infrastructure.signing_keys import trusted_keys
from ledger.settings import Settings, kafka_endpoint
from projections.application.audit_report import gather
from projections.consumer.checkpoints import read_signed_checkpoints
from projections.domain.findings import (
    DEFAULT_BACKDATING_DAYS,
    FindingKind,
    check_backdating_days,
)
from schemas.errors import InvalidQuery, QueryParameter


def register(tools: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add `audit report`."""
    parser = tools.add_parser("report", help="a self-contained HTML audit report of a programme")
    parser.add_argument("--programme", required=True, metavar="ID")
    parser.add_argument("--as-of-date", default=None, metavar="D")
    parser.add_argument("--out", required=True, type=Path, metavar="FILE")
    parser.add_argument(
        "--backdating-days",
        type=int,
        default=DEFAULT_BACKDATING_DAYS,
        metavar="N",
        help="flag acts recorded more than N days after their effective date",
    )
    add_store_option(parser)
    add_kafka_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Write the report; exit 1 when the chain fails its checkpoint or an act broke the agency
    rule (the report says so prominently), 0 otherwise."""
    as_of_date = None
    if args.as_of_date is not None:
        try:
            as_of_date = date.fromisoformat(args.as_of_date)
        except ValueError:
            raise InvalidQuery(
                QueryParameter.AS_OF_DATE, args.as_of_date, "expected YYYY-MM-DD"
            ) from None
    check_backdating_days(args.backdating_days)
    kafka = kafka_settings(args, settings)
    checkpoints, source = None, "no KAFKA_BOOTSTRAP_SERVERS: the checkpoint topic was not read"
    if kafka.bootstrap_servers:
        endpoint = kafka_endpoint(kafka, kafka.bootstrap_servers)
        # Only checkpoints the ledger signed are evidence (GRANT_LEDGER_TRUSTED_KEYS).
        signed = read_signed_checkpoints(
            endpoint, kafka.checkpoint_topic, trusted_keys(settings.proof)
        )
        checkpoints = [checkpoint for checkpoint, _ in signed]
        source = f"topic {kafka.checkpoint_topic}"
    ledger = open_ledger(args, settings)
    try:
        data = gather(
            ledger,
            args.programme,
            as_of_date=as_of_date,
            backdating_days=args.backdating_days,
            checkpoints=checkpoints,
            checkpoint_source=source,
        )
    finally:
        ledger.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(data, ledger_version()), encoding="utf-8")
    wrong_agency = data.record.of_kind(FindingKind.WRONG_AGENCY)
    checkpoint = {None: "none to hold it against", True: "matches", False: "DOES NOT MATCH"}
    print(
        f"wrote {args.out}: {data.record.events} events of {args.programme}, "
        f"{len(data.record.findings)} findings; chain head {data.chain.head_position}, "
        f"checkpoint {checkpoint[data.chain.matches]}",
        file=sys.stderr,
    )
    return EXIT_CHECK_FAILED if data.chain.matches is False or wrong_agency else EXIT_OK
