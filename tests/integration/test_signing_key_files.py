"""Signing keys as files: a private key only its owner reads, never overwritten; public keys and a
JWKS trusted from files, several while rotating; a private key never trusted."""

import os
import stat
from pathlib import Path

import orjson
import pytest

from commands.cli.main import main
from ledger.infrastructure.signing_keys import (
    KeyFileError,
    create_signing_key,
    load_signing_key,
    load_trusted_keys,
    public_key_path,
)
from ledger.proof.signatures import raw_public_key
from schemas.checkpoint_signature import b64url
from tests.unit.test_checkpoint_signatures import AT, BODY, new_signer


def test_rotation_trusts_several_keys(tmp_path: Path) -> None:
    old = create_signing_key(tmp_path / "old.pem")
    new = create_signing_key(tmp_path / "new.pem")
    trusted = load_trusted_keys(
        f"{public_key_path(tmp_path / 'old.pem')},{tmp_path / 'new.pub.pem'}"
    )
    for signer in (old, new):
        trusted.verified(orjson.dumps(signer.sign(BODY)), AT)


def test_a_jwks_is_trusted_and_a_private_key_never_is(tmp_path: Path) -> None:
    signer = new_signer()
    x = b64url(raw_public_key(signer.public_key))
    jwks = tmp_path / "keys.json"
    jwks.write_bytes(
        orjson.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": signer.key_id}]})
    )
    load_trusted_keys(str(jwks)).verified(orjson.dumps(signer.sign(BODY)), AT)
    jwks.write_bytes(orjson.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "d": x}]}))
    with pytest.raises(KeyFileError, match="private key"):
        load_trusted_keys(str(jwks))
    create_signing_key(tmp_path / "k.pem")
    with pytest.raises(KeyFileError, match="private key"):
        load_trusted_keys(str(tmp_path / "k.pem"))


def test_keys_init_makes_a_private_key_only_its_owner_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keys" / "signing.pem"
    assert main(["keys", "init", "--out", str(path)]) == 0
    out = capsys.readouterr().out
    assert "BEGIN PUBLIC KEY" in out and "PRIVATE" not in out
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    signer = load_signing_key(path)
    assert f"key id: {signer.key_id}" in out
    assert main(["keys", "init", "--out", str(path)]) != 0  # never overwritten
    assert "--out=" in capsys.readouterr().err  # the flag, though the library names the path
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_signing_key(path)
