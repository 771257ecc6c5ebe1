"""Where a (re)started relay continues: decided by what is actually on the topic.

Everything at or below the last checkpoint is on the topic: a checkpoint goes out only once
every send of its window has been acknowledged, and a window with a failed send never gets one.
What lies after the checkpoint is read back from the topic itself: at most (T - C) messages per
partition, T being the highest position on any partition's tail and C the checkpoint's. That
gives the exact set of positions present, with no assumption about how a failed batch left a
partition. Publishing resumes at the first missing position; positions already present later
are skipped, never re-sent; every position read back must carry the store's hash.
"""

from collections.abc import Mapping, Set
from dataclasses import dataclass, field

from ledger.application.grant_ledger import NOTIFICATION_PAGE_SIZE, GrantLedger
from ledger.proof.coordinates import MessageAt
from ledger.proof.errors import IntegrityError
from ledger.relay.messages import outgoing_message
from schemas.chain import GENESIS_HASH


@dataclass(frozen=True, slots=True)
class ChainMark:
    """A published point of the chain: position, its hash and its store notification id."""

    position: int
    hash: str
    notification_id: int


GENESIS_MARK = ChainMark(position=0, hash=GENESIS_HASH, notification_id=0)


@dataclass(frozen=True, slots=True)
class ResumePoint:
    """Publish store events after `after_notification_id`, numbering from `next_position`."""

    after_notification_id: int
    next_position: int
    prev_hash: str
    published_ahead: frozenset[int] = field(default_factory=frozenset)
    last_checkpoint_position: int = 0


@dataclass(frozen=True, slots=True)
class TopicState:
    """What the topic holds after the anchor: position -> hash (and where), the highest."""

    hashes_after_anchor: Mapping[int, str]
    last_on_topic: int
    places: Mapping[int, MessageAt] = field(default_factory=dict)

    def where(self, position: int) -> str:
        """Where the message at a position was read, for messages."""
        at = self.places.get(position)
        return f" ({at})" if at else ""


# What the relay tells an operator when the topic holds something the store does not.
RUNBOOK = (
    "the topic holds a message the event store did not publish. Runbook (README, 'A foreign "
    "message on the topic'): 1. fence: revoke write access of whoever wrote it; 2. verify: "
    "`grant-ledger verify` lists every foreign message with its TOPIC:PARTITION:OFFSET; 3. skip: "
    '`grant-ledger relay --skip TOPIC:PARTITION:OFFSET --reason "…"` (and the same for `project` '
    "and `rebuild`), or 4. re-create: delete both topics and let the relay publish the store "
    "again (readers notice and re-read; nothing counts twice)"
)


class TopicDivergedError(IntegrityError):
    """The topic holds something the event store does not: refuse to publish on top of it (an
    integrity stop, exit 4, like every reader facing a message that does not prove itself)."""


def usable_anchor(checkpoint: ChainMark | None, last_on_topic: int) -> ChainMark:
    """The checkpoint to trust: the last one, unless the topic was emptied behind it."""
    if checkpoint is not None and checkpoint.position <= last_on_topic:
        return checkpoint
    return GENESIS_MARK


def find_resume_point(ledger: GrantLedger, topic: TopicState, anchor: ChainMark) -> ResumePoint:
    """Compare what the topic holds after the anchor with the store; return where to continue."""
    last_on_topic = topic.last_on_topic
    if last_on_topic == 0:
        return ResumePoint(0, 1, GENESIS_HASH)
    present: Set[int] = topic.hashes_after_anchor.keys()
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
            on_topic = topic.hashes_after_anchor.get(position)
            if on_topic is not None and on_topic != message.hash:
                raise TopicDivergedError(
                    "position",
                    position,
                    f"the topic's hash{topic.where(position)} {on_topic[:12]}… differs from the "
                    f"store's {message.hash[:12]}…: {RUNBOOK}",
                )
            if position in present and first_missing is not None:
                ahead.add(position)
            elif position not in present and first_missing is None:
                first_missing = ResumePoint(notification_id, position, prev_hash)
            prev_hash, notification_id = message.hash, stored.notification_id
            if position == last_on_topic:
                break
    if position < last_on_topic:
        raise TopicDivergedError(
            "position",
            last_on_topic,
            f"the topic holds position {last_on_topic}{topic.where(last_on_topic)} but the store "
            f"has only {position} events: {RUNBOOK}",
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
