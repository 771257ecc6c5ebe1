"""The reader's proof: links in position order, forks stopped, only signed positions released.

Messages arrive partition by partition, so positions come out of order across partitions. The
reader holds each arrival until its predecessor is linked (its `prev_hash` equals that one's
hash), and releases linked positions only up to the highest checkpoint, signed by a trusted key,
whose hash the chain reaches. A position held twice with different hashes is a fork; a position
already released seen again is compared with what was released. Memory is bounded: only
positions inside a window after the last released one are held; an arrival beyond it is turned
back (the caller re-reads it later), never dropped in silence.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Generic, TypeVar

from ledger.proof.coordinates import MessageAt
from ledger.proof.differences import describe_differences, loads_or_empty
from ledger.proof.errors import ChainBroken, ForgedCheckpoint, ForkDetected
from ledger.proof.messages import ChainLink
from schemas.chain import GENESIS_HASH

T = TypeVar("T")

# Positions a reader may hold ahead of the last one it released. The relay's window (events per
# checkpoint) must fit inside it, or nothing could ever be released: ledger.config caps
# GRANT_LEDGER_CHECKPOINT_EVERY at this.
MAX_WINDOW_EVENTS = 50_000
# Released positions remembered with their hash and place, to judge a late duplicate.
RECENT_RELEASED = 65_536
# Signed checkpoints held ahead of the chain (one per relay window: this covers 100M events).
MAX_WAITING_CHECKPOINTS = 100_000
HASH_PREFIX_SHOWN = 12


@dataclass(frozen=True, slots=True)
class ChainPoint:
    """A position and the chain's hash after it."""

    position: int
    hash: str


GENESIS_POINT = ChainPoint(0, GENESIS_HASH)


@dataclass(frozen=True, slots=True)
class Arrival(Generic[T]):
    """One message as it arrived: its link, where it was, its bytes and what the caller made."""

    link: ChainLink
    at: MessageAt
    value: bytes
    payload: T


class Offered(Enum):
    """What became of an offered arrival."""

    LINKED = "linked"  # it (and maybe held ones after it) joined the chain
    HELD = "held"  # waiting for a position before it
    DUPLICATE = "duplicate"  # the same message again (same position, same hash): dropped
    BEYOND_WINDOW = "beyond window"  # too far ahead: the caller must read it again later


def _short(chain_hash: str) -> str:
    return chain_hash[:HASH_PREFIX_SHOWN] + "…"


def fork(position: int, first: Arrival[Any], second: Arrival[Any]) -> ForkDetected:
    """The error for two different messages at one position, naming both and what differs."""
    what = describe_differences(
        loads_or_empty(first.value),
        loads_or_empty(second.value),
        (first.at.short, second.at.short),
    )
    return ForkDetected(
        "position",
        position,
        f"two different messages claim it: {first.at} (hash {_short(first.link.hash)}) and "
        f"{second.at} (hash {_short(second.link.hash)}); {what}. No reader picks one: find "
        "the foreign one (`grant-ledger verify`) and skip it with --skip TOPIC:PARTITION:OFFSET "
        '--reason "…"',
    )


class ChainReader(Generic[T]):
    """Links arrivals from `start` on; releases what signed checkpoints cover, in order."""

    def __init__(
        self,
        start: ChainPoint,
        *,
        window: int = MAX_WINDOW_EVENTS,
        released_hash: Callable[[int], str | None] | None = None,
    ) -> None:
        assert window >= 1, window
        self.window = window
        self._released = start
        self._tail = start
        self._linked: deque[Arrival[T]] = deque()
        self._ahead: dict[int, Arrival[T]] = {}
        self._signed = start  # the released point is proven already
        self._signed_at: MessageAt | None = None
        self._waiting: list[tuple[int, str, MessageAt]] = []
        self._recent: OrderedDict[int, tuple[str, MessageAt]] = OrderedDict()
        self._released_hash = released_hash
        self.duplicates = 0
        self.uncompared_duplicates = 0

    # ----------------------------------------------------------------- state

    @property
    def released(self) -> ChainPoint:
        """The last position handed out for applying, and its hash."""
        return self._released

    @property
    def linked_through(self) -> ChainPoint:
        """The chain's tail: every position up to it is linked."""
        return self._tail

    @property
    def signed_through(self) -> int:
        """The highest position a signed checkpoint on the chain covers."""
        return self._signed.position

    @property
    def waiting_for_checkpoint(self) -> int:
        """The highest signed checkpoint position seen (on the chain or ahead of it)."""
        return max(self._signed.position, self._waiting[-1][0] if self._waiting else 0)

    @property
    def window_end(self) -> int:
        """The first position too far ahead to hold."""
        return self._released.position + 1 + self.window

    @property
    def held(self) -> int:
        """Arrivals held (linked but unsigned, or ahead of a gap)."""
        return len(self._linked) + len(self._ahead)

    def first_unreleased_checkpoint_offset(self) -> int | None:
        """The lowest offset of a checkpoint not yet fully used (resume reading there)."""
        offsets = [at.offset for _, _, at in self._waiting]
        if self._signed.position > self._released.position and self._signed_at is not None:
            offsets.append(self._signed_at.offset)
        return min(offsets) if offsets else None

    def held_ahead(self) -> list[Arrival[T]]:
        """Arrivals waiting for a position before them, lowest first."""
        return [self._ahead[p] for p in sorted(self._ahead)]

    def held_arrivals(self) -> list[Arrival[T]]:
        """Every arrival held (for resume offsets: none of them is applied yet)."""
        return [*self._linked, *self._ahead.values()]

    # ----------------------------------------------------------------- events

    def offer(self, arrival: Arrival[T]) -> Offered:
        """Take one arrival; ForkDetected or ChainBroken when it contradicts the chain."""
        position = arrival.link.position
        if position <= self._released.position:
            self._judge_late(arrival)
            return Offered.DUPLICATE
        same = self._held_at(position)
        if same is not None:
            if same.link.hash != arrival.link.hash:
                raise fork(position, same, arrival)
            self.duplicates += 1
            return Offered.DUPLICATE
        if position >= self.window_end:
            return Offered.BEYOND_WINDOW
        if position != self._tail.position + 1:
            self._ahead[position] = arrival
            return Offered.HELD
        self._link(arrival)
        while (following := self._ahead.pop(self._tail.position + 1, None)) is not None:
            self._link(following)
        self._match_checkpoints()
        return Offered.LINKED

    def _held_at(self, position: int) -> Arrival[T] | None:
        if position <= self._tail.position:
            return self._linked[position - self._released.position - 1]
        return self._ahead.get(position)

    def _link(self, arrival: Arrival[T]) -> None:
        link = arrival.link
        if link.prev_hash != self._tail.hash:
            raise ChainBroken(
                "position",
                link.position,
                f"{arrival.at} does not link to position {self._tail.position}: its prev_hash "
                f"{_short(link.prev_hash)} differs from that position's hash "
                f"{_short(self._tail.hash)} (a forged or foreign message; skip it with --skip "
                f'{arrival.at} --reason "…" once verified)',
            )
        self._linked.append(arrival)
        self._tail = ChainPoint(link.position, link.hash)

    def _judge_late(self, arrival: Arrival[T]) -> None:
        """A position already released: the same message again, or a fork."""
        position = arrival.link.position
        known = self._recent.get(position)
        if known is not None:
            known_hash, known_at = known
        elif position == self._released.position:
            known_hash, known_at = self._released.hash, None
        else:
            found = self._released_hash(position) if self._released_hash else None
            if found is None:
                self.uncompared_duplicates += 1
                return
            known_hash, known_at = found, None
        # A stored prefix of the hash (the replay store keeps 16 hex digits) is compared as such.
        if not arrival.link.hash.startswith(known_hash):
            where = str(known_at) if known_at else "the event already applied"
            raise ForkDetected(
                "position",
                position,
                f"{arrival.at} (hash {_short(arrival.link.hash)}) differs from {where} "
                f"(hash {_short(known_hash)}), which a signed checkpoint covered: the message "
                f'at {arrival.at} is foreign; skip it with --skip {arrival.at} --reason "…"',
            )
        self.duplicates += 1

    # ----------------------------------------------------------------- checkpoints

    def offer_checkpoint(self, position: int, chain_hash: str, at: MessageAt) -> None:
        """A checkpoint whose signature verified: match it against the chain when it reaches it."""
        if position <= self._tail.position:
            self._check_against_chain(position, chain_hash, at)
            return
        if len(self._waiting) >= MAX_WAITING_CHECKPOINTS:
            return  # far ahead: a later checkpoint covers the same positions
        bisect.insort(self._waiting, (position, chain_hash, at))

    def _check_against_chain(self, position: int, chain_hash: str, at: MessageAt) -> None:
        known = self._hash_at(position)
        if known is None:
            return  # released long ago and forgotten: a later signed checkpoint proved it
        if known != chain_hash:
            raise ForgedCheckpoint(
                "checkpoint",
                str(at),
                f"is validly signed but says position {position} has hash {_short(chain_hash)}, "
                f"while the chain read from the topic has {_short(known)}: the topic and the "
                "signer disagree (run `grant-ledger verify`)",
            )
        if position > self._signed.position:
            self._signed, self._signed_at = ChainPoint(position, chain_hash), at

    def _hash_at(self, position: int) -> str | None:
        if position > self._released.position:
            return self._linked[position - self._released.position - 1].link.hash
        if position == self._released.position:
            return self._released.hash
        known = self._recent.get(position)
        return known[0] if known else None

    def _match_checkpoints(self) -> None:
        while self._waiting and self._waiting[0][0] <= self._tail.position:
            position, chain_hash, at = self._waiting.pop(0)
            self._check_against_chain(position, chain_hash, at)

    # ----------------------------------------------------------------- releasing

    def take_proven(self, limit: int) -> list[Arrival[T]]:
        """Up to `limit` linked arrivals a signed checkpoint covers, in position order."""
        taken: list[Arrival[T]] = []
        while self._linked and len(taken) < limit:
            head = self._linked[0]
            if head.link.position > self._signed.position:
                break
            taken.append(self._linked.popleft())
            self._remember(head)
        if taken:
            last = taken[-1].link
            self._released = ChainPoint(last.position, last.hash)
        return taken

    def _remember(self, arrival: Arrival[T]) -> None:
        self._recent[arrival.link.position] = (arrival.link.hash, arrival.at)
        if len(self._recent) > RECENT_RELEASED:
            self._recent.popitem(last=False)
