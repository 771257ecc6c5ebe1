"""`grant-ledger auth`: the local development issuer (`init`) and its tokens (`token`)."""

import argparse
import os
import re
import sys
from pathlib import Path

from pydantic import TypeAdapter, ValidationError

from commands.http.auth.dev_issuer import DevIssuer
from commands.http.auth.roles import Role
from commands.http.auth.settings import DEFAULT_DEV_DIR, JWKS_ENV_VAR, auth_settings_from_env
from ledger.domain.errors import LedgerError
from schemas.identifiers import AgencySlug

DEFAULT_TTL = "8h"
MAX_TTL_S = 30 * 24 * 3600  # a development token, not a credential to keep
TTL_PATTERN = re.compile(r"^([1-9][0-9]{0,6})([smhd])$")
SECONDS_PER_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_AGENCY = TypeAdapter(AgencySlug)


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add the `auth` subcommand with `init` and `token`."""
    parser = subparsers.add_parser("auth", help="the local development issuer and its tokens")
    actions = parser.add_subparsers(dest="auth_action", required=True, metavar="ACTION")
    init = actions.add_parser("init", help="create the ES256 signing key and its JWKS")
    init.add_argument("--dir", type=Path, default=DEFAULT_DEV_DIR, help="default %(default)s")
    init.set_defaults(run=run_init)
    token = actions.add_parser("token", help="print a signed token for the local issuer")
    token.add_argument("--sub", required=True, metavar="NAME", help="the subject (user id)")
    token.add_argument(
        "--role",
        action="append",
        required=True,
        metavar="|".join(role.value for role in Role),
        help="repeat for several roles",
    )
    token.add_argument("--agency", metavar="SLUG", default=None, help="an officer's agency")
    token.add_argument("--ttl", default=DEFAULT_TTL, metavar="N[s|m|h|d]")
    token.add_argument("--dir", type=Path, default=DEFAULT_DEV_DIR, help="default %(default)s")
    token.set_defaults(run=run_token)


def run_init(args: argparse.Namespace) -> int:
    """Create the key (once) and say where it is."""
    issuer, created = DevIssuer.ensure(args.dir)
    verb = "created" if created else "already there"
    print(f"local signing key {verb}: {args.dir}/ (kid {issuer.kid})", file=sys.stderr)
    print(f"JWKS: {args.dir / 'jwks.json'}", file=sys.stderr)
    return 0


def run_token(args: argparse.Namespace) -> int:
    """Print one token on stdout (nothing else, so `$(grant-ledger auth token ...)` works)."""
    settings = auth_settings_from_env(os.environ, args.dir)
    if not settings.uses_dev_keys:
        raise LedgerError(
            JWKS_ENV_VAR,
            settings.jwks,
            f"is set, so serve checks tokens from {settings.issuer}; get tokens there "
            "(unset it to use the local development key)",
        )
    roles = [parse_role(raw) for raw in args.role]
    agency = parse_agency(args.agency)
    if Role.OFFICER in roles and agency is None:
        raise LedgerError("--agency", None, "an officer acts for an agency: give --agency SLUG")
    issuer = DevIssuer.load(args.dir)
    print(
        issuer.mint(
            subject=args.sub,
            roles=roles,
            agency=agency,
            ttl_s=parse_ttl(args.ttl),
            audience=settings.audience,
            roles_claim=settings.roles_claim,
        )
    )
    return 0


def parse_role(raw: str) -> Role:
    """--role."""
    try:
        return Role(raw)
    except ValueError:
        expected = ", ".join(role.value for role in Role)
        raise LedgerError("--role", raw, f"expected one of {expected}") from None


def parse_agency(raw: str | None) -> str | None:
    """--agency: an agency slug."""
    if raw is None:
        return None
    try:
        return _AGENCY.validate_python(raw)
    except ValidationError:
        raise LedgerError("--agency", raw, "expected an agency slug such as delmos") from None


def parse_ttl(raw: str) -> int:
    """--ttl: 90s, 30m, 8h, 2d; at most 30 days."""
    match = TTL_PATTERN.match(raw)
    if match is None:
        raise LedgerError("--ttl", raw, "expected a number and a unit: 90s, 30m, 8h or 2d")
    seconds = int(match.group(1)) * SECONDS_PER_UNIT[match.group(2)]
    if seconds > MAX_TTL_S:
        raise LedgerError("--ttl", raw, f"at most {MAX_TTL_S // 86400} days")
    return seconds
