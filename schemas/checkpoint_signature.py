"""The checkpoint signature, defined once, reproducible by anyone with the ledger's public key.

signing bytes = the checkpoint's JSON object WITHOUT `signature` (so `key_id` is signed too),
serialised with sorted keys, no insignificant whitespace, UTF-8 (orjson with OPT_SORT_KEYS);
`recorded_at` is written as the relay wrote it (UTC, six decimals, `Z`).
signature = Ed25519 (RFC 8032) over the signing bytes, unpadded base64url (RFC 4648 §5).
key_id = the RFC 7638 JWK thumbprint of the Ed25519 public key: unpadded base64url of
SHA-256 over `{"crv":"Ed25519","kty":"OKP","x":"<base64url of the 32-byte public key>"}`.

A checkpoint whose signature verifies under a trusted key proves the chain's hash at its
position, and with it every event up to that position (each event's hash covers the one before).
"""

import base64
import hashlib
from collections.abc import Mapping
from typing import Any, Final

import orjson

SIGNATURE_FIELD: Final = "signature"
KEY_ID_FIELD: Final = "key_id"
ED25519_PUBLIC_KEY_BYTES: Final = 32
ED25519_SIGNATURE_BYTES: Final = 64


def b64url(raw: bytes) -> str:
    """Unpadded base64url text of `raw`."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    """The bytes of unpadded (or padded) base64url text; ValueError when it is not that."""
    padded = text + "=" * (-len(text) % 4)
    return base64.b64decode(padded, altchars=b"-_", validate=True)


def signing_bytes(checkpoint: Mapping[str, Any]) -> bytes:
    """The bytes a checkpoint's signature covers: the object minus `signature`, keys sorted."""
    body = {key: value for key, value in checkpoint.items() if key != SIGNATURE_FIELD}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def jwk_thumbprint(public_key: bytes) -> str:
    """The key id of an Ed25519 public key (32 raw bytes): its RFC 7638 JWK thumbprint."""
    assert len(public_key) == ED25519_PUBLIC_KEY_BYTES, len(public_key)
    members = f'{{"crv":"Ed25519","kty":"OKP","x":"{b64url(public_key)}"}}'
    return b64url(hashlib.sha256(members.encode("ascii")).digest())
