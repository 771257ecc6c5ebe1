"""Where a (re)started relay continues: decided by what is actually on the topic.

Per partition, the topic holds a prefix of what the relay sent to that partition (idempotent
producer: in order, no duplicates). So position q is on the topic exactly when q is at or below
the tail position of q's partition. Everything at or below the last checkpoint was flushed before
the checkpoint was sent; only the positions after it need that test. The first missing position
is where publishing resumes; later positions already present are skipped, never re-sent.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ledger.application.grant_ledger import NOTIFICATION_PAGE_SIZE, GrantLedger
from ledger.domain.errors import LedgerError
from ledger.relay.messages import outgoing_message
from schemas.chain import GENESIS_HASH


@dataclass(frozen=True, slots=True)
class ChainMark:
    """A published point of the chain: position, its hash and its store notification id."""

    position: int
    hash: str
    notification_id: int


@dataclass(frozen=True, slots=True)
class TailMark:
    """The last message of a partition: its position and hash."""

    position: int
    hash: str


GENESIS_MARK = ChainMark(position=0, hash=GENESIS_HASH, notification_id=0)


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Publish store events after `after_notification_id`, numbering from `next_position`."""

    after_notification_id: int
    next_position: int
    prev_hash: str
    published_ahead: frozenset[int] = field(default_factory=frozenset)
    last_checkpoint_position: int = 0


class TopicDivergedError(LedgerError):
    """The topic holds something the event store does not: refuse to publish on top of it."""


def find_resume_point(
    ledger: GrantLedger,
    tails: Mapping[int, TailMark | None],
    checkpoint: ChainMark | None,
    partition_of: Callable[[bytes], int],
) -> ResumePoint:
    """Compare the topic's partition tails with the store and return where to continue."""
    tail_positions = {p: (mark.position if mark else 0) for p, mark in tails.items()}
    tail_hashes = {mark.position: mark.hash for mark in tails.values() if mark}
    last_on_topic = max(tail_positions.values(), default=0)
    if last_on_topic == 0:
        return ResumePoint(0, 1, GENESIS_HASH)
    anchor = checkpoint if checkpoint and checkpoint.position <= last_on_topic else GENESIS_MARK

    position, prev_hash, notification_id = anchor.position, anchor.hash, anchor.notification_id
    first_missing: ResumePoint | None = None
    ahead: set[int] = set()
    while position < last_on_topic:
        page = ledger.stored_programme_events(notification_id, NOTIFICATION_PAGE_SIZE)
        if not page:
            break
        for stored in page:
            position += 1
            message = outgoing_message(stored, position, prev_hash)
            partition = partition_of(message.key)
            present = tail_positions.get(partition, 0) >= position
            if position in tail_hashes and tail_hashes[position] != message.hash:
                raise TopicDivergedError(
                    "position",
                    position,
                    f"the topic's hash {tail_hashes[position][:12]}… differs from the store's "
                    f"{message.hash[:12]}…: run `grant-ledger verify` before publishing more",
                )
            if present and first_missing is not None:
                ahead.add(position)
            elif not present and first_missing is None:
                first_missing = ResumePoint(notification_id, position, prev_hash)
            prev_hash, notification_id = message.hash, stored.notification_id
            if position == last_on_topic:
                break
    if position < last_on_topic:
        raise TopicDivergedError(
            "position",
            last_on_topic,
            f"the topic holds position {last_on_topic} but the store has only {position} events",
        )
    if first_missing is None:
        return ResumePoint(
            notification_id, last_on_topic + 1, prev_hash, frozenset(), anchor.position
        )
    return ResumePoint(
        first_missing.after_notification_id,
        first_missing.next_position,
        first_missing.prev_hash,
        frozenset(ahead),
        anchor.position,
    )
