"""Signed checkpoints: the relay's key signs, readers trust only their configured keys (PEM or
JWKS, several while rotating), and anything unsigned, re-signed or altered is refused by name."""

import base64
import json
import os
import stat
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from commands.cli.main import main
from ledger.infrastructure.signing_keys import (
    KeyFileError,
    create_signing_key,
    load_signing_key,
    load_trusted_keys,
    public_key_path,
)
from ledger.proof.coordinates import MessageAt
from ledger.proof.errors import ForgedCheckpoint, PoisonMessage
from ledger.proof.signatures import CheckpointSigner, TrustedKeys, raw_public_key
from schemas.checkpoint_signature import b64url, from_b64url, jwk_thumbprint, signing_bytes
from schemas.envelope import Checkpoint

AT = MessageAt("grant-ledger.checkpoints", 0, 7)
BODY = {
    "position": 365,
    "hash": "ab" * 32,
    "events": 365,
    "recorded_at": "2026-01-01T10:00:00.000000Z",
}


def new_signer() -> CheckpointSigner:
    """A fresh key."""
    return CheckpointSigner(Ed25519PrivateKey.generate())


def test_a_signed_checkpoint_verifies_and_names_its_key() -> None:
    signer = new_signer()
    value = orjson.dumps(signer.sign(BODY))
    checkpoint = TrustedKeys.of([signer.public_key], "test").verified(value, AT)
    assert isinstance(checkpoint, Checkpoint)
    assert checkpoint.position == 365 and checkpoint.key_id == signer.key_id


def test_anyone_can_verify_with_the_contract_alone() -> None:
    """The README's recipe: signing bytes, Ed25519, the key id as an RFC 7638 thumbprint."""
    signer = new_signer()
    signed = signer.sign(BODY)
    assert signed["key_id"] == jwk_thumbprint(raw_public_key(signer.public_key))
    signer.public_key.verify(from_b64url(signed["signature"]), signing_bytes(signed))


@pytest.mark.parametrize("field", ["position", "hash", "events", "recorded_at", "key_id"])
def test_a_changed_field_breaks_the_signature(field: str) -> None:
    signer = new_signer()
    signed = signer.sign(BODY)
    changed = {
        "position": 366,
        "hash": "cd" * 32,
        "events": 1,
        "recorded_at": "2026-01-01T10:00:00.000001Z",
        "key_id": signer.key_id[:-1] + ("A" if signer.key_id[-1] != "A" else "B"),
    }
    signed[field] = changed[field]
    with pytest.raises(ForgedCheckpoint):
        TrustedKeys.of([signer.public_key], "test").verified(orjson.dumps(signed), AT)


def test_unsigned_and_foreign_keys_are_refused_by_name() -> None:
    trusted = TrustedKeys.of([new_signer().public_key], "test")
    with pytest.raises(ForgedCheckpoint, match="not signed"):
        trusted.verified(orjson.dumps(BODY), AT)
    with pytest.raises(ForgedCheckpoint, match="not among the trusted keys"):
        trusted.verified(orjson.dumps(new_signer().sign(BODY)), AT)
    with pytest.raises(PoisonMessage, match=str(AT)):
        trusted.verified(b"[1, 2]", AT)


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
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        load_signing_key(path)


def test_the_readmes_recipe_with_the_standard_library_verifies_a_relay_checkpoint() -> None:
    """An integrator's json.dumps spelling gives the signing bytes the relay signed."""
    signer = new_signer()
    value = orjson.dumps(signer.sign(BODY))
    checkpoint = json.loads(value)
    signed = {k: v for k, v in checkpoint.items() if k != "signature"}
    payload = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    signer.public_key.verify(
        base64.urlsafe_b64decode(checkpoint["signature"] + "=="), payload.encode()
    )
