"""`verify`: recompute the hash chain from the store and hold the topic and checkpoints against it.

Reports whether positions 1..N are on the topic exactly once, every hash matches, the topic's
content equals the store's, and every checkpoint is signed by a trusted key and lies on the chain.
Memory is bounded by the store's size (a few bytes a position) and the number of problems it
reports, never by what a message claims: a forged position 10^9 is one problem, and runs of
missing or differing positions are reported as ranges. Problems come in position order, at most
`max_problems` of them with a count of the rest; the first names the first bad position and the
field that differs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ledger.application.chain_index import ChainIndex
from ledger.application.grant_ledger import GrantLedger
from ledger.application.published_log import ChainCursor, store_envelopes
from ledger.domain.errors import LedgerError
from ledger.proof.coordinates import MessageAt
from ledger.proof.differences import describe_differences, loads_or_empty
from ledger.proof.messages import read_envelope
from ledger.proof.signatures import TrustedKeys
from ledger.proof.skips import RecordedSkip
from schemas.chain import canonical_bytes

HASH_BYTES = 32
DIGEST_BYTES = 16
DEFAULT_MAX_PROBLEMS = 20
UNSEEN = -1
# Flags per position.
HASH_DIFFERS = 1
CONTENT_DIFFERS = 2
GROWTH_FACTOR = 2
INDEX_CHECK_CHUNK = 10_000  # chain index rows read a query


@dataclass(frozen=True, slots=True)
class TopicMessage:
    """What verification needs of one consumed message."""

    partition: int
    offset: int
    value: bytes | None


@dataclass(slots=True)
class Problem:
    """One thing that does not hold (a position, or a range of them)."""

    position: int | None
    what: str
    last: int | None = None

    def __str__(self) -> str:
        if self.position is None:
            return f"topic: {self.what}"
        if self.last is not None and self.last != self.position:
            return f"positions {self.position}..{self.last}: {self.what}"
        return f"position {self.position}: {self.what}"


@dataclass(slots=True)
class VerificationReport:
    """The outcome of a verification run."""

    store_events: int = 0
    topic_messages: int = 0
    last_checkpoint: dict[str, Any] | None = None
    not_yet_published: int = 0
    problems: list[Problem] = field(default_factory=list)
    problems_not_listed: int = 0
    skipped: list[RecordedSkip] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every check holds."""
        return not self.problems

    @property
    def first_bad_position(self) -> int | None:
        """The lowest position named by a problem."""
        positions = [p.position for p in self.problems if p.position is not None]
        return min(positions) if positions else None


def _body_digest(envelope: dict[str, Any]) -> bytes:
    """A digest of the event's content without its chain fields."""
    return hashlib.sha256(canonical_bytes(envelope)).digest()[:DIGEST_BYTES]


class StoreChain:
    """The chain recomputed from the store: each position's hash and content digest, compactly."""

    def __init__(self, ledger: GrantLedger) -> None:
        self._ledger = ledger
        self._hashes = bytearray()
        self._digests = bytearray()
        self._cursor = ChainCursor()

    def compute(self) -> int:
        """Walk the store (on from where the last walk ended); returns the number of events."""
        for envelope in store_envelopes(self._ledger, cursor=self._cursor):
            self._hashes += bytes.fromhex(envelope["hash"])
            self._digests += _body_digest(envelope)
        return len(self)

    def __len__(self) -> int:
        return len(self._hashes) // HASH_BYTES

    def hash_at(self, position: int) -> str | None:
        """The store's hash at a position (1-based), None beyond the end."""
        if not 1 <= position <= len(self):
            return None
        start = (position - 1) * HASH_BYTES
        return self._hashes[start : start + HASH_BYTES].hex()

    def digest_at(self, position: int) -> bytes:
        """The store's content digest at a position within the store."""
        start = (position - 1) * DIGEST_BYTES
        return bytes(self._digests[start : start + DIGEST_BYTES])

    def envelopes_at(self, positions: Iterable[int]) -> dict[int, dict[str, Any]]:
        """The store's envelopes at some positions (one walk, for explaining differences)."""
        wanted = sorted(set(positions))
        found: dict[int, dict[str, Any]] = {}
        if not wanted:
            return found
        for envelope in store_envelopes(self._ledger, through_position=wanted[-1]):
            if envelope["position"] in wanted:
                found[envelope["position"]] = envelope
        return found


class _Seen:
    """Per store position: where it was seen on the topic, and what differed."""

    def __init__(self, size: int) -> None:
        self.partition: npt.NDArray[np.int32] = np.full(size + 1, UNSEEN, dtype=np.int32)
        self.offset: npt.NDArray[np.int64] = np.zeros(size + 1, dtype=np.int64)
        self.flags: npt.NDArray[np.uint8] = np.zeros(size + 1, dtype=np.uint8)

    def grow(self, size: int) -> None:
        if size + 1 <= len(self.partition):
            return
        grown = max(size + 1, len(self.partition) * GROWTH_FACTOR)
        for name, fill in (("partition", UNSEEN), ("offset", 0), ("flags", 0)):
            old = getattr(self, name)
            new = np.full(grown, fill, dtype=old.dtype)
            new[: len(old)] = old
            setattr(self, name, new)


@dataclass(frozen=True, slots=True)
class _Beyond:
    """A message claiming a position the store does not have (yet)."""

    position: int
    at: MessageAt
    hash: str
    digest: bytes
    value: bytes | None


class _TopicCheck:
    """Holds each message against the chain, once per position."""

    def __init__(self, chain: StoreChain, topic: str, skips: dict[MessageAt, RecordedSkip]) -> None:
        self.chain = chain
        self.topic = topic
        self.skips = skips
        self.seen = _Seen(len(chain))
        self.problems: list[Problem] = []
        self.beyond: list[_Beyond] = []
        self.forks: list[tuple[int, MessageAt, MessageAt]] = []
        self.skipped: list[RecordedSkip] = []

    def check(self, message: TopicMessage) -> None:
        at = MessageAt(self.topic, message.partition, message.offset)
        skip = self.skips.get(at)
        if skip is not None:
            self.skipped.append(skip)
            return
        try:
            envelope, link = read_envelope(message.value, at)
        except LedgerError as exc:
            claimed = loads_or_empty(message.value).get("position")
            position = claimed if isinstance(claimed, int) and claimed >= 1 else None
            self.problems.append(Problem(position, f"foreign message at {at}: {exc.message}"))
            return
        position = link.position
        if position > len(self.chain):
            digest = _body_digest(envelope)
            self.beyond.append(_Beyond(position, at, link.hash, digest, message.value))
            return
        self._hold(position, at, link.hash, _body_digest(envelope))

    def _hold(self, position: int, at: MessageAt, chain_hash: str, digest: bytes) -> None:
        seen = self.seen
        if seen.partition[position] != UNSEEN:
            first = MessageAt(self.topic, int(seen.partition[position]), int(seen.offset[position]))
            if chain_hash == self.chain.hash_at(position) and not seen.flags[position]:
                self.problems.append(
                    Problem(position, f"published twice, identical ({first} and {at})")
                )
            else:
                self.forks.append((position, first, at))
            return
        seen.partition[position], seen.offset[position] = at.partition, at.offset
        if chain_hash != self.chain.hash_at(position):
            differs = digest != self.chain.digest_at(position)
            seen.flags[position] = HASH_DIFFERS | (CONTENT_DIFFERS if differs else 0)

    def settle_beyond(self) -> None:
        """Messages past the store at first: checked again now that the chain is longer."""
        self.seen.grow(len(self.chain))
        still: list[_Beyond] = []
        for message in self.beyond:
            if message.position <= len(self.chain):
                self._hold(message.position, message.at, message.hash, message.digest)
            else:
                still.append(message)
        self.beyond = still


def _ranges(positions: npt.NDArray[np.int64]) -> list[tuple[int, int]]:
    """Consecutive runs in sorted positions, as (first, last)."""
    if not len(positions):
        return []
    breaks = np.flatnonzero(np.diff(positions) != 1)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.concatenate((breaks, [len(positions) - 1]))
    return [(int(positions[s]), int(positions[e])) for s, e in zip(starts, ends, strict=True)]


def _checkpoint_problems(
    checkpoints: Iterable[TopicMessage],
    topic: str,
    trusted: TrustedKeys,
    chain: StoreChain,
    report: VerificationReport,
) -> list[Problem]:
    problems: list[Problem] = []
    off_chain: list[tuple[int, MessageAt, str, str | None]] = []
    for message in checkpoints:
        at = MessageAt(topic, message.partition, message.offset)
        try:
            checkpoint = trusted.verified(message.value, at)
        except LedgerError as exc:
            problems.append(Problem(None, f"foreign checkpoint at {at}: {exc.message}"))
            continue
        report.last_checkpoint = checkpoint.model_dump(mode="json")
        expected = chain.hash_at(checkpoint.position)
        if checkpoint.position and expected != checkpoint.hash:
            off_chain.append((checkpoint.position, at, checkpoint.hash, expected))
    if off_chain:
        position, at, signed, expected = off_chain[0]
        also = [str(p) for p, *_ in off_chain[1:]]
        problems.append(
            Problem(
                position,
                f"the signed checkpoint {signed[:12]}… ({at}) is not on the store's chain "
                f"(store: {expected[:12] + '…' if expected else 'no such position'})"
                + (f"; nor are those at positions {', '.join(also)}" if also else ""),
            )
        )
    return problems


def verify_topic(
    chain: StoreChain,
    messages: Iterable[TopicMessage],
    checkpoints: Iterable[TopicMessage],
    *,
    topic: str,
    checkpoint_topic: str,
    trusted: TrustedKeys,
    read_back: Callable[[MessageAt], bytes | None],
    skips: Iterable[RecordedSkip] = (),
    max_problems: int = DEFAULT_MAX_PROBLEMS,
) -> VerificationReport:
    """Hold the topic's messages and the checkpoints against the store's chain.

    The store is read first; messages with positions beyond it are held back, the chain is
    extended by what was recorded meanwhile, and they are checked then, so a running relay does
    not make a live system look tampered with. `read_back` reads a message again by where it is
    (to explain a fork).
    """
    report = VerificationReport()
    check = _TopicCheck(chain, topic, {skip.at: skip for skip in skips})
    for message in messages:
        report.topic_messages += 1
        check.check(message)
    checkpoint_problems = _checkpoint_problems(
        checkpoints, checkpoint_topic, trusted, chain, report
    )
    chain.compute()
    check.settle_beyond()
    report.store_events = len(chain)
    problems = [*check.problems, *checkpoint_problems]
    problems += _position_problems(check, chain, read_back)
    highest = int(np.flatnonzero(check.seen.partition != UNSEEN).max(initial=0))
    report.not_yet_published = max(0, len(chain) - highest)
    report.skipped = check.skipped
    problems.sort(key=lambda p: (p.position is None, p.position or 0))
    report.problems = problems[:max_problems]
    report.problems_not_listed = max(0, len(problems) - max_problems)
    return report


def _position_problems(
    check: _TopicCheck, chain: StoreChain, read_back: Callable[[MessageAt], bytes | None]
) -> list[Problem]:
    seen = check.seen
    problems: list[Problem] = []
    for message in check.beyond:
        problems.append(
            Problem(
                message.position,
                f"on the topic ({message.at}) but the store has only {len(chain)} events",
            )
        )
    present = seen.partition[1 : len(chain) + 1] != UNSEEN
    highest = int(np.flatnonzero(present).max(initial=-1)) + 1
    missing = np.flatnonzero(~present[:highest]).astype(np.int64) + 1
    for first, last in _ranges(missing):
        problems.append(Problem(first, "in the store but not on the topic", last))
    content = np.flatnonzero(seen.flags & CONTENT_DIFFERS).astype(np.int64)
    explained = chain.envelopes_at(content[:DEFAULT_MAX_PROBLEMS].tolist())
    for position in content.tolist():
        at = MessageAt(check.topic, int(seen.partition[position]), int(seen.offset[position]))
        if position in explained:
            what = describe_differences(
                explained[position], loads_or_empty(read_back(at)), ("store", "topic")
            )
        else:
            what = "content differs"
        problems.append(Problem(position, f"topic ({at}) differs from store: {what}"))
    chain_only = np.flatnonzero(
        (seen.flags & HASH_DIFFERS).astype(bool) & ~(seen.flags & CONTENT_DIFFERS).astype(bool)
    ).astype(np.int64)
    for first, last in _ranges(chain_only):
        problems.append(
            Problem(
                first,
                "same content as the store, but the chain hash differs (it follows from an "
                "earlier difference)",
                last,
            )
        )
    for position, first_at, second_at in check.forks:
        values = read_back(first_at), read_back(second_at)
        both = f"{first_at} and {second_at}"
        if values[0] == values[1]:
            problems.append(Problem(position, f"published twice ({both})"))
            continue
        what = describe_differences(
            loads_or_empty(values[0]), loads_or_empty(values[1]), (first_at.short, second_at.short)
        )
        problems.append(Problem(position, f"two different messages claim it: {both}; {what}"))
    return problems


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
