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

from ledger.application.chain_index import ChainIndex
from ledger.application.grant_ledger import GrantLedger
from ledger.application.published_log import ChainCursor, store_envelopes
from schemas.chain import canonical_bytes, chain_hash

HASH_BYTES = 32
MAX_DIFFERENCES_LISTED = 5
MAX_DIFFERENCES_EXPLAINED = 5  # each explanation re-walks the store
INDEX_CHECK_CHUNK = 10_000  # chain index rows read a query


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
    not_yet_published: int = 0
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
        self._cursor = ChainCursor()

    def compute(self) -> int:
        """Walk the store (on from where the last walk ended); returns the number of events."""
        for envelope in store_envelopes(self._ledger, cursor=self._cursor):
            self._hashes += bytes.fromhex(envelope["hash"])
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


def _parse_envelope(value: bytes | None) -> tuple[dict[str, Any], int, str, bool] | None:
    """(envelope, position, hash, matches its own hash), or None when it is no envelope."""
    try:
        envelope = orjson.loads(value or b"")
        position, claimed_hash, prev_hash = (
            envelope["position"],
            envelope["hash"],
            envelope["prev_hash"],
        )
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if not isinstance(position, int) or not isinstance(claimed_hash, str):
        return None
    try:
        consistent = chain_hash(prev_hash, canonical_bytes(envelope)) == claimed_hash
    except (TypeError, ValueError, AttributeError):
        consistent = False
    return envelope, position, claimed_hash, consistent


class _TopicCheck:
    """Holds each message against the chain, once per position."""

    def __init__(self, chain: StoreChain, report: VerificationReport) -> None:
        self.chain = chain
        self.report = report
        self.seen: dict[int, tuple[int, int]] = {}
        self.explained = 0
        self.deferred: list[TopicMessage] = []

    def check(self, message: TopicMessage, *, final: bool) -> None:
        where = f"partition {message.partition} offset {message.offset}"
        parsed = _parse_envelope(message.value)
        if parsed is None:
            self.report.problems.append(
                Problem(None, f"foreign message at {where}: not an envelope")
            )
            return
        envelope, position, claimed_hash, consistent = parsed
        if not consistent:
            self.report.problems.append(
                Problem(position, f"foreign message at {where}: does not match its own hash")
            )
            return
        if position in self.seen:
            first = self.seen[position]
            self.report.problems.append(
                Problem(
                    position,
                    f"published twice (partition {first[0]} offset {first[1]} and {where})",
                )
            )
            return
        expected = self.chain.hash_at(position)
        if expected is None and not final:
            self.deferred.append(message)  # recorded after the store was read: look again
            return
        self.seen[position] = (message.partition, message.offset)
        if expected is None:
            self.report.problems.append(
                Problem(
                    position,
                    f"on the topic ({where}) but the store has only {len(self.chain)} events",
                )
            )
        elif expected != claimed_hash:
            listed = "hash differs"
            if self.explained < MAX_DIFFERENCES_EXPLAINED:
                self.explained += 1
                diffs = _differences(self.chain.envelope_at(position) or {}, envelope)
                listed = "; ".join(diffs[:MAX_DIFFERENCES_LISTED]) or listed
            self.report.problems.append(Problem(position, f"topic differs from store: {listed}"))


def _last_checkpoint(
    checkpoints: Iterable[TopicMessage], report: VerificationReport
) -> dict[str, Any] | None:
    last: dict[str, Any] | None = None
    for message in checkpoints:
        try:
            body = orjson.loads(message.value or b"")
        except orjson.JSONDecodeError:
            body = None
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("position"), int)
            or not isinstance(body.get("hash"), str)
        ):
            report.problems.append(
                Problem(None, f"foreign checkpoint message at offset {message.offset}")
            )
            continue
        last = body
    return last


def verify_topic(
    chain: StoreChain,
    messages: Iterable[TopicMessage],
    checkpoints: Iterable[TopicMessage],
) -> VerificationReport:
    """Hold the topic's messages and the last checkpoint against the store's chain.

    The store is read first; messages with positions beyond it are held back, the chain is
    extended by what was recorded meanwhile, and they are checked then, so a running relay
    does not make a live system look tampered with.
    """
    report = VerificationReport()
    check = _TopicCheck(chain, report)
    for message in messages:
        report.topic_messages += 1
        check.check(message, final=False)
    last = _last_checkpoint(checkpoints, report)
    chain.compute()
    for message in check.deferred:
        check.check(message, final=True)
    report.store_events = len(chain)
    highest_on_topic = max(check.seen, default=0)
    missing = [p for p in range(1, highest_on_topic + 1) if p not in check.seen]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        report.problems.append(Problem(missing[0], f"in the store but not on the topic{more}"))
    report.not_yet_published = max(0, len(chain) - highest_on_topic)

    report.last_checkpoint = last
    if last is not None:
        position = last["position"]
        expected = chain.hash_at(position)
        if expected is None or expected != last["hash"]:
            report.problems.append(
                Problem(
                    position,
                    f"last checkpoint {last['hash'][:12]}… is not on the store's chain"
                    f" (store: {expected[:12] + '…' if expected else 'no such position'})",
                )
            )
    report.problems.sort(key=lambda p: (p.position is None, p.position or 0))
    return report


def check_chain_index(index: ChainIndex, chain: StoreChain, report: VerificationReport) -> None:
    """Hold the chain index (what trails and pages serve) against the recomputed chain.

    The index is extended first, so a fresh one is built here; a row that differs means a
    stored event (or the index) was altered after it was indexed.
    """
    head = min(index.extend(), len(chain))
    for first in range(1, head + 1, INDEX_CHECK_CHUNK):
        for row in index.rows_between(first, min(first + INDEX_CHECK_CHUNK - 1, head)):
            if chain.hash_at(row.position) != row.hash:
                report.problems.append(
                    Problem(
                        row.position,
                        f"the chain index holds {row.hash[:12]}…, the store's chain "
                        f"{(chain.hash_at(row.position) or '')[:12]}…: the stored event (or the "
                        "index) was altered after it was indexed",
                    )
                )
                report.problems.sort(key=lambda p: (p.position is None, p.position or 0))
                return
