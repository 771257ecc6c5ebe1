"""The local development issuer's key files: a private key only its owner can read, made once,
tokens the service accepts, and `grant-ledger auth token` printing only the token."""

import stat
from pathlib import Path

import jwt
import pytest

from commands.cli.main import EXIT_USAGE, main
from commands.http.auth.dev_issuer import DevIssuer
from commands.http.auth.key_set import KeySet, read_source
from commands.http.auth.settings import (
    DEV_ISSUER,
    DEV_JWKS_FILE,
    DEV_KEY_FILE,
    AuthSettings,
)
from commands.http.auth.verifier import TokenVerifier
from schemas.errors import LedgerError


def test_init_makes_a_0600_key_once_and_its_public_jwks(tmp_path: Path) -> None:
    """The key file is 0600 from the start; a second init keeps the same key."""
    first, created = DevIssuer.ensure(tmp_path / "auth")
    assert created
    mode = stat.S_IMODE((tmp_path / "auth" / DEV_KEY_FILE).stat().st_mode)
    assert mode == 0o600
    again, created_again = DevIssuer.ensure(tmp_path / "auth")
    assert not created_again and again.kid == first.kid
    jwks = (tmp_path / "auth" / DEV_JWKS_FILE).read_text()
    assert '"d"' not in jwks  # the private part never reaches the JWKS


def test_a_key_others_can_read_is_refused(tmp_path: Path) -> None:
    """chmod 644 on the key: refused by name, never used."""
    DevIssuer.ensure(tmp_path)
    (tmp_path / DEV_KEY_FILE).chmod(0o644)
    with pytest.raises(LedgerError) as refusal:
        DevIssuer.load(tmp_path)
    assert "readable by others" in refusal.value.message


def test_a_minted_token_verifies_with_its_claims(tmp_path: Path) -> None:
    """ES256 with the key's kid; sub, roles, agency and the nested roles claim as configured."""
    issuer, _ = DevIssuer.ensure(tmp_path)
    settings = AuthSettings(None, DEV_ISSUER, roles_claim="realm_access.roles", dev_dir=tmp_path)
    token = issuer.mint(
        subject="anna",
        roles=["officer", "auditor"],
        agency="delmos",
        ttl_s=60,
        audience=settings.audience,
        roles_claim=settings.roles_claim,
    )
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": issuer.kid, "typ": "JWT"}
    location = settings.jwks_location
    identity = TokenVerifier(settings, KeySet(read_source(location), location)).verify(
        f"Bearer {token}"
    )
    assert identity.actor == "anna@urn:grant-ledger:dev"
    assert sorted(identity.roles) == ["auditor", "officer"]
    assert identity.agency == "delmos"


def test_auth_token_prints_only_the_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`grant-ledger auth token` after `auth init`: one line on stdout, a JWT."""
    directory = str(tmp_path / "auth")
    assert main(["auth", "init", "--dir", directory]) == 0
    capsys.readouterr()
    code = main(["auth", "token", "--sub", "erik", "--role", "finance", "--dir", directory])
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].count(".") == 2


@pytest.mark.parametrize(
    ("flags", "flag"),
    [
        (["--role", "boss"], "--role"),
        (["--role", "officer"], "--agency"),
        (["--role", "officer", "--agency", "Not A Slug"], "--agency"),
        (["--role", "finance", "--ttl", "40d"], "--ttl"),
        (["--role", "finance", "--ttl", "soon"], "--ttl"),
    ],
)
def test_auth_token_refuses_by_flag(
    tmp_path: Path, flags: list[str], flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Unknown role, an officer without agency, a bad slug, a TTL past 30 days or not one."""
    DevIssuer.ensure(tmp_path)
    assert main(["auth", "token", "--sub", "x", "--dir", str(tmp_path), *flags]) == EXIT_USAGE
    assert f"{flag}=" in capsys.readouterr().err
