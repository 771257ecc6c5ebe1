"""A consumed message as a chain link: an envelope whose own hash checks out, or poison.

The relay writes each value as the canonical bytes with `,"prev_hash":…,"hash":…}` appended
(ledger.relay.messages), so the hashed bytes are the value minus that suffix: no re-encoding on
the hot path. Any other spelling is re-encoded canonically (schemas.chain). Either way the hash
is computed over exactly the bytes the parsed envelope came from, so a value that matches a
hash the ledger signed is the value the ledger published.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, TypeGuard

import orjson

from ledger.proof.coordinates import MessageAt
from ledger.proof.errors import PoisonMessage
from schemas.chain import canonical_bytes, chain_hash
from schemas.envelope import MAX_ENVELOPE_BYTES

HASH_HEX_CHARS = 64
_HEX64 = re.compile(rb"[0-9a-f]{64}")
_SUFFIX_HEAD = b',"prev_hash":"'
_SUFFIX_MIDDLE = b'","hash":"'
_SUFFIX_TAIL = b'"}'
WIRE_SUFFIX_BYTES = len(_SUFFIX_HEAD) + HASH_HEX_CHARS + len(_SUFFIX_MIDDLE) + HASH_HEX_CHARS + 2


@dataclass(frozen=True, slots=True)
class ChainLink:
    """What a message claims about its place in the chain (its own hash already checked)."""

    position: int
    prev_hash: str
    hash: str


def digest_of(value: bytes | None) -> str:
    """SHA-256 of a message value (hex): how a skip names exactly the message it skips."""
    return hashlib.sha256(value or b"").hexdigest()


def _is_hash(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and _HEX64.fullmatch(value.encode("ascii", "replace")) is not None


def _wire_body(value: bytes) -> bytes | None:
    """The bytes before the relay's chain suffix (with the closing brace), if it has one."""
    if (
        len(value) > WIRE_SUFFIX_BYTES
        and value.endswith(_SUFFIX_TAIL)
        and value[-WIRE_SUFFIX_BYTES:].startswith(_SUFFIX_HEAD)
        and value[-WIRE_SUFFIX_BYTES + len(_SUFFIX_HEAD) + HASH_HEX_CHARS :].startswith(
            _SUFFIX_MIDDLE
        )
    ):
        return value[:-WIRE_SUFFIX_BYTES] + b"}"
    return None


def own_hash(value: bytes, envelope: dict[str, Any], prev_hash: str) -> str:
    """The chain hash of the envelope, computed from its canonical bytes.

    The relay's spelling is tried first (no re-encoding); any other spelling, or a value whose
    leading bytes are not canonical, is re-encoded canonically.
    """
    wire = _wire_body(value)
    if wire is not None:
        computed = chain_hash(prev_hash, wire)
        if computed == envelope.get("hash"):
            return computed
    return chain_hash(prev_hash, canonical_bytes(envelope))


def read_envelope(value: bytes | None, at: MessageAt) -> tuple[dict[str, Any], ChainLink]:
    """The envelope and its chain link; PoisonMessage naming `at` when it is not one of ours."""
    if value is None:
        raise PoisonMessage("message", str(at), "has no value (a tombstone), not an envelope")
    if len(value) > MAX_ENVELOPE_BYTES:
        raise PoisonMessage(
            "message",
            str(at),
            f"is {len(value)} bytes, over the {MAX_ENVELOPE_BYTES} an envelope may have",
        )
    try:
        envelope = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise PoisonMessage("message", str(at), f"is not JSON ({exc})") from None
    if not isinstance(envelope, dict):
        raise PoisonMessage("message", str(at), "is not a JSON object, not an envelope")
    position = envelope.get("position")
    if not isinstance(position, int) or isinstance(position, bool) or position < 1:
        raise PoisonMessage("message", str(at), f"has no valid position ({position!r})")
    prev_hash, claimed = envelope.get("prev_hash"), envelope.get("hash")
    if not (_is_hash(prev_hash) and _is_hash(claimed)):
        raise PoisonMessage(
            "message", str(at), "has no valid prev_hash and hash (64 lower-case hex each)"
        )
    computed = own_hash(value, envelope, prev_hash)
    if computed != claimed:
        raise PoisonMessage(
            "message",
            str(at),
            f"claims position {position} with hash {claimed[:12]}… but its content hashes to "
            f"{computed[:12]}… (altered, or not made by the ledger)",
        )
    return envelope, ChainLink(position, prev_hash, claimed)
