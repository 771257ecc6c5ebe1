"""`verify`: recompute the hash chain from the store and hold the topic and checkpoints against it.

Reports whether positions 1..N are on the topic exactly once, every hash matches, the topic's
content equals the store's, and the last checkpoint lies on the chain. Names the first bad
position and what differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from ledger.application.grant_ledger import GrantLedger
from ledger.application.published_log import store_envelopes
from schemas.chain import GENESIS_HASH, canonical_bytes, chain_hash

HASH_BYTES = 32
MAX_DIFFERENCES_LISTED = 5


@dataclass(frozen=True, slots=True)
class TopicMessage:
    """What verification needs of one consumed message."""

    partition: int
    offset: int
    value: bytes | None


@dataclass(slots=True)
class Problem:
    """One thing that does not hold."""

    position: int | None
    what: str

    def __str__(self) -> str:
        where = f"position {self.position}" if self.position is not None else "topic"
        return f"{where}: {self.what}"


@dataclass(slots=True)
class VerificationReport:
    """The outcome of a verification run."""

    store_events: int = 0
    topic_messages: int = 0
    last_checkpoint: dict[str, Any] | None = None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check holds."""
        return not self.problems

    @property
    def first_bad_position(self) -> int | None:
        """The lowest position named by a problem."""
        positions = [p.position for p in self.problems if p.position is not None]
        return min(positions) if positions else None


class StoreChain:
    """The chain recomputed from the store: 32-byte hashes by position, compactly."""

    def __init__(self, ledger: GrantLedger) -> None:
        self._ledger = ledger
        self._hashes = bytearray()

    def compute(self) -> int:
        """Walk the store once; returns the number of events (N)."""
        prev_hash = GENESIS_HASH
        for envelope in self.envelopes():
            prev_hash = envelope["hash"]
            self._hashes += bytes.fromhex(prev_hash)
        return len(self)

    def envelopes(self, through_position: int | None = None) -> Iterator[dict[str, Any]]:
        """The store's envelopes in order, chained from genesis."""
        return store_envelopes(self._ledger, through_position)

    def __len__(self) -> int:
        return len(self._hashes) // HASH_BYTES

    def hash_at(self, position: int) -> str | None:
        """The store's hash at a position (1-based), None beyond the end."""
        if not 1 <= position <= len(self):
            return None
        start = (position - 1) * HASH_BYTES
        return self._hashes[start : start + HASH_BYTES].hex()

    def envelope_at(self, position: int) -> dict[str, Any] | None:
        """The store's envelope at a position (recomputed; for explaining a difference)."""
        for envelope in self.envelopes(through_position=position):
            if envelope["position"] == position:
                return envelope
        return None


def _differences(expected: dict[str, Any], actual: dict[str, Any], prefix: str = "") -> list[str]:
    found: list[str] = []
    for key in sorted(set(expected) | set(actual)):
        left, right = expected.get(key), actual.get(key)
        if isinstance(left, dict) and isinstance(right, dict):
            found += _differences(left, right, f"{prefix}{key}.")
        elif left != right:
            found.append(f"{prefix}{key}: store {left!r} vs topic {right!r}")
    return found


def verify_topic(
    chain: StoreChain,
    messages: Iterable[TopicMessage],
    checkpoints: Iterable[TopicMessage],
) -> VerificationReport:
    """Hold the topic's messages and the last checkpoint against the store's chain."""
    report = VerificationReport(store_events=len(chain))
    seen: dict[int, tuple[int, int]] = {}
    for message in messages:
        report.topic_messages += 1
        where = f"partition {message.partition} offset {message.offset}"
        try:
            envelope = orjson.loads(message.value or b"")
            position = envelope["position"]
            claimed_hash = envelope["hash"]
            prev_hash = envelope["prev_hash"]
            assert isinstance(position, int)
        except (orjson.JSONDecodeError, KeyError, TypeError, AssertionError):
            report.problems.append(Problem(None, f"foreign message at {where}: not an envelope"))
            continue
        if position in seen:
            first = seen[position]
            report.problems.append(
                Problem(
                    position,
                    f"published twice (partition {first[0]} offset {first[1]} and {where})",
                )
            )
            continue
        seen[position] = (message.partition, message.offset)
        if chain_hash(prev_hash, canonical_bytes(envelope)) != claimed_hash:
            report.problems.append(
                Problem(position, f"message at {where} does not match its own hash")
            )
            continue
        expected = chain.hash_at(position)
        if expected is None:
            report.problems.append(
                Problem(
                    position, f"on the topic ({where}) but the store has only {len(chain)} events"
                )
            )
        elif expected != claimed_hash:
            store_envelope = chain.envelope_at(position) or {}
            diffs = _differences(store_envelope, envelope)
            listed = "; ".join(diffs[:MAX_DIFFERENCES_LISTED]) or "hash differs"
            report.problems.append(Problem(position, f"topic differs from store: {listed}"))
    missing = [p for p in range(1, len(chain) + 1) if p not in seen]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        report.problems.append(Problem(missing[0], f"in the store but not on the topic{more}"))

    last: dict[str, Any] | None = None
    for message in checkpoints:
        try:
            last = orjson.loads(message.value or b"")
        except orjson.JSONDecodeError:
            report.problems.append(
                Problem(None, f"foreign checkpoint message at offset {message.offset}")
            )
    report.last_checkpoint = last
    if last is not None:
        position = last.get("position")
        expected = chain.hash_at(position) if isinstance(position, int) else None
        if expected is None or expected != last.get("hash"):
            report.problems.append(
                Problem(
                    position if isinstance(position, int) else None,
                    f"last checkpoint {last.get('hash', '')[:12]}… is not on the store's chain"
                    f" (store: {expected[:12] + '…' if expected else 'no such position'})",
                )
            )
    report.problems.sort(key=lambda p: (p.position is None, p.position or 0))
    return report
