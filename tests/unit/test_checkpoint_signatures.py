"""Signed checkpoints: the relay's key signs, readers trust only their configured keys (PEM or
JWKS, several while rotating), and anything unsigned, re-signed or altered is refused by name."""

import base64
import json

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.proof.coordinates import MessageAt
from ledger.proof.errors import ForgedCheckpoint, PoisonMessage
from ledger.proof.signatures import CheckpointSigner, TrustedKeys, raw_public_key
from schemas.checkpoint_signature import from_b64url, jwk_thumbprint, signing_bytes
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
