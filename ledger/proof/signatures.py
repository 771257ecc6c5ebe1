"""Signing checkpoints (the relay) and verifying them (every reader), Ed25519 over the contract's
signing bytes (schemas.checkpoint_signature). Keys come from ledger.infrastructure.signing_keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import ValidationError

from ledger.proof.coordinates import MessageAt
from ledger.proof.errors import ForgedCheckpoint, PoisonMessage
from schemas.checkpoint_signature import (
    KEY_ID_FIELD,
    SIGNATURE_FIELD,
    b64url,
    from_b64url,
    jwk_thumbprint,
    signing_bytes,
)
from schemas.envelope import Checkpoint

MAX_CHECKPOINT_BYTES = 4_096


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key."""
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id_of(key: Ed25519PublicKey) -> str:
    """The key id (RFC 7638 thumbprint) of a public key."""
    return jwk_thumbprint(raw_public_key(key))


class CheckpointSigner:
    """The ledger's signing key: adds `key_id` and `signature` to a checkpoint's body."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private_key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id_of(self.public_key)

    def __repr__(self) -> str:
        return f"CheckpointSigner(key_id={self.key_id!r})"  # never the private key

    def sign(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """The body with `key_id` and its `signature`."""
        assert SIGNATURE_FIELD not in body, "sign an unsigned body"
        signed = {**body, KEY_ID_FIELD: self.key_id}
        signed[SIGNATURE_FIELD] = b64url(self._private_key.sign(signing_bytes(signed)))
        return signed

    def public_pem(self) -> str:
        """The public key as PEM (SubjectPublicKeyInfo), for GRANT_LEDGER_TRUSTED_KEYS."""
        return self.public_key.public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
        ).decode()


@dataclass(frozen=True)
class TrustedKeys:
    """The public keys a reader accepts checkpoints from, by key id (several during rotation)."""

    keys: Mapping[str, Ed25519PublicKey]
    source: str

    def __post_init__(self) -> None:
        assert self.keys, "at least one trusted key"
        for key_id, key in self.keys.items():
            assert key_id_of(key) == key_id, key_id

    @classmethod
    def of(cls, keys: Iterable[Ed25519PublicKey], source: str) -> TrustedKeys:
        """Trust these keys (`source` says where they came from, for messages)."""
        return cls({key_id_of(key): key for key in keys}, source)

    def verified(self, value: bytes | None, at: MessageAt) -> Checkpoint:
        """The checkpoint in a message, once its signature verifies under a trusted key.

        PoisonMessage when it is no checkpoint at all; ForgedCheckpoint when it is unsigned,
        signed by a key not trusted here, or its signature does not verify.
        """
        return self.verified_body(_checkpoint_body(value, at), str(at))

    def verified_body(self, body: Mapping[str, Any], where: str) -> Checkpoint:
        """A checkpoint's JSON object (found at `where`), once its signature verifies under a
        trusted key: the same rules and errors as `verified`."""
        key_id, signature = body.get(KEY_ID_FIELD), body.get(SIGNATURE_FIELD)
        if not isinstance(key_id, str) or not isinstance(signature, str):
            raise ForgedCheckpoint(
                "checkpoint",
                where,
                "is not signed (no key_id and signature): nothing it claims is trusted",
            )
        key = self.keys.get(key_id)
        if key is None:
            raise ForgedCheckpoint(
                "checkpoint",
                where,
                f"is signed by key {key_id}, which is not among the trusted keys ({self.source}); "
                "add the ledger's public key to GRANT_LEDGER_TRUSTED_KEYS if it is the ledger's",
            )
        try:
            key.verify(from_b64url(signature), signing_bytes(body))
        except (InvalidSignature, ValueError):
            raise ForgedCheckpoint(
                "checkpoint", where, f"has a signature that does not verify under key {key_id}"
            ) from None
        try:
            return Checkpoint.model_validate(body)
        except ValidationError as exc:
            raise PoisonMessage(
                "checkpoint", where, f"is signed but not a valid checkpoint ({exc.errors()[0]})"
            ) from None


def _checkpoint_body(value: bytes | None, at: MessageAt) -> dict[str, Any]:
    if value is None or len(value) > MAX_CHECKPOINT_BYTES:
        size = "no value" if value is None else f"{len(value)} bytes"
        raise PoisonMessage("checkpoint", str(at), f"is not a checkpoint ({size})")
    try:
        body = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise PoisonMessage("checkpoint", str(at), f"is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise PoisonMessage("checkpoint", str(at), "is not a JSON object")
    return body
