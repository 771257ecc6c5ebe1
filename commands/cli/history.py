"""`grant-ledger history`: a grant's or a recipient's full event trail, in order."""

import argparse
import sys

import orjson

from commands.cli.options import add_store_option, open_ledger
from ledger.application.published_log import trail
from ledger.settings import Settings
from schemas.money import format_sek
from schemas.recipients import recipient_name


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `history` subcommand."""
    parser = subparsers.add_parser("history", help="the event trail of an application or recipient")
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--application", metavar="ID")
    target.add_argument("--recipient", metavar="CODE")
    parser.add_argument("--format", choices=("text", "json"), default="text")
    add_store_option(parser)
    parser.set_defaults(run=run)


def _amount_text(data: dict[str, object]) -> str:
    parts = []
    for key, value in data.items():
        if key.endswith("_ore"):
            if isinstance(value, dict):
                years = ", ".join(f"{y}: {format_sek(int(v))}" for y, v in value.items())
                parts.append(f"{key[:-4]} {{{years}}}")
            elif isinstance(value, int):
                parts.append(f"{key[:-4]} {format_sek(value)}")
    if "year" in data:
        parts.insert(0, f"year {data['year']}")
    return "; ".join(parts)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Print every matching event with both dates, actor and agency."""
    ledger = open_ledger(args, settings)
    try:
        envelopes = trail(ledger, application_id=args.application, recipient=args.recipient)
        for envelope in envelopes:
            data = envelope["data"]
            if args.format == "json":
                sys.stdout.buffer.write(orjson.dumps(envelope) + b"\n")
                continue
            who = data.get("recipient", "")
            name = recipient_name(str(who)) if who else None
            subject = f"{data.get('application_id', '')} {who} {name or ''}".strip()
            reference = data.get("decision_ref") or data.get("payment_ref")
            sys.stdout.write(
                f"#{envelope['position']:<6} effective {envelope['effective_date']}  "
                f"recorded {envelope['recorded_at']}  {envelope['type']:<20} {subject}  "
                f"{_amount_text(data)}  by {envelope['actor']} ({envelope['agency']})"
                f"{f'  ref {reference}' if reference else ''}\n"
            )
    finally:
        ledger.close()
    return 0
