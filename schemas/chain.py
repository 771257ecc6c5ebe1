"""The hash chain over the published log, defined once, reproducible by anyone.

canonical bytes of an event = the envelope as a JSON object WITHOUT `prev_hash` and `hash`,
serialised with sorted keys, no insignificant whitespace, UTF-8 (orjson with OPT_SORT_KEYS).
hash = SHA-256( bytes.fromhex(prev_hash) || canonical bytes ), lower-case hex;
the first event's prev_hash is 64 zeros (GENESIS_HASH).
"""

import hashlib
from collections.abc import Mapping
from typing import Any

import orjson

from schemas.envelope import GENESIS_HASH

CHAIN_FIELDS = ("prev_hash", "hash")

__all__ = ["GENESIS_HASH", "canonical_body_bytes", "canonical_bytes", "chain_hash"]


def canonical_bytes(envelope: Mapping[str, Any]) -> bytes:
    """The bytes the chain hashes: the envelope minus prev_hash/hash, keys sorted."""
    body = {key: value for key, value in envelope.items() if key not in CHAIN_FIELDS}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def canonical_body_bytes(body: Mapping[str, Any]) -> bytes:
    """canonical_bytes for an envelope body that has no chain fields yet (skips the copy)."""
    assert "hash" not in body and "prev_hash" not in body
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    """SHA-256 of the previous hash (32 raw bytes) followed by the event's canonical bytes."""
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical).hexdigest()
