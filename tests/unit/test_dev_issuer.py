"""The local development issuer: a private key only its owner can read, tokens the service
accepts, and `grant-ledger auth` refusing what would not work."""

import pytest

from commands.cli.auth import parse_ttl
from commands.http.auth.settings import (
    auth_settings_from_env,
)
from schemas.errors import LedgerError


def test_ttls() -> None:
    """90s, 30m, 8h, 2d."""
    assert [parse_ttl(t) for t in ("90s", "30m", "8h", "2d")] == [90, 1800, 28800, 172800]


@pytest.mark.parametrize(
    ("environ", "field"),
    [
        ({"GRANT_LEDGER_AUTH_ISSUER": "https://idp"}, "GRANT_LEDGER_AUTH_ISSUER"),
        ({"GRANT_LEDGER_AUTH_JWKS": "/etc/jwks.json"}, "GRANT_LEDGER_AUTH_ISSUER"),
        (
            {"GRANT_LEDGER_AUTH_JWKS": "http://idp/jwks", "GRANT_LEDGER_AUTH_ISSUER": "x"},
            "GRANT_LEDGER_AUTH_JWKS",
        ),
        (
            {"GRANT_LEDGER_AUTH_JWKS": "/j", "GRANT_LEDGER_AUTH_ISSUER": "a@b"},
            "GRANT_LEDGER_AUTH_ISSUER",
        ),
        ({"GRANT_LEDGER_AUTH_ROLES_CLAIM": "realm access"}, "GRANT_LEDGER_AUTH_ROLES_CLAIM"),
    ],
)
def test_auth_settings_that_cannot_work_are_refused(environ: dict[str, str], field: str) -> None:
    """Half an OIDC configuration, keys over plain http, an issuer with @, a bad claim path."""
    with pytest.raises(LedgerError) as refusal:
        auth_settings_from_env(environ)
    assert refusal.value.field == field
