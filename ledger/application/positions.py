"""Gap-free global positions of programme events, counted from the notification log.

A position is an event's rank among programme events. Counting it from the start of the log
would make the first command of every fresh process cost as much as the history is long, so
positions are counted from an anchor: a known (notification id, position) pair. The newest
anchor lives in memory; every ANCHOR_EVERY_POSITIONS one is also stored beside the snapshots, and
a fresh process starts from the stored one after checking that the event it names is still the
one at that place in the log (a store restored from a backup, or another store's anchor, is
ignored with a warning).
"""

import logging
from dataclasses import dataclass
from threading import Lock

import orjson

from ledger.infrastructure.event_log_sql import EventLogSql
from ledger.infrastructure.snapshot_store import SnapshotStore

log = logging.getLogger("grant_ledger.positions")

ANCHOR_EVERY_POSITIONS = 1_000
# The snapshot table's key for anchors: no programme id starts with "@" (schemas.identifiers).
ANCHOR_KEY = "@positions"


@dataclass(frozen=True, slots=True)
class Anchor:
    """The programme event stored under `notification_id` has `position`."""

    notification_id: int
    position: int
    event_id: str | None = None  # None only for the start of the log

    def as_blob(self) -> bytes:
        """The stored form."""
        return orjson.dumps(
            {
                "notification_id": self.notification_id,
                "position": self.position,
                "event_id": self.event_id,
            }
        )


GENESIS = Anchor(0, 0)


class PositionCounter:
    """Turns a notification id into the event's position (1-based rank among programme events)."""

    def __init__(
        self,
        sql: EventLogSql,
        topic: str,
        anchors: SnapshotStore | None = None,
        anchor_every: int = ANCHOR_EVERY_POSITIONS,
    ) -> None:
        assert anchor_every >= 1, anchor_every
        self._sql = sql
        self._topic = topic
        self._anchors = anchors
        self._anchor_every = anchor_every
        self._anchor = GENESIS
        self._loaded = anchors is None
        self._lock = Lock()

    def position_of(self, notification_id: int, event_id: str | None = None) -> int:
        """The position of the programme event stored under `notification_id` (whose id is
        `event_id`, when the caller knows it: then it may become a stored anchor)."""
        with self._lock:
            if not self._loaded:
                self._anchor = self._stored_anchor() or GENESIS
                self._loaded = True
            anchor = self._anchor
            if notification_id >= anchor.notification_id:
                position = anchor.position + self._sql.count_topic_between(
                    self._topic, anchor.notification_id, notification_id
                )
                self._anchor = Anchor(notification_id, position, event_id)
                self._store_if_due(anchor.position, self._anchor)
            else:
                # An older event (a repeated command): count back from the anchor.
                position = anchor.position - self._sql.count_topic_between(
                    self._topic, notification_id, anchor.notification_id
                )
        assert position >= 1, f"notification {notification_id} is not a programme event"
        return position

    def _store_if_due(self, previous_position: int, anchor: Anchor) -> None:
        if self._anchors is None or anchor.event_id is None:
            return
        if anchor.position // self._anchor_every == previous_position // self._anchor_every:
            return
        self._anchors.put(ANCHOR_KEY, anchor.position, anchor.as_blob())
        self._anchors.prune(ANCHOR_KEY, ANCHOR_KEY, anchor.position)

    def _stored_anchor(self) -> Anchor | None:
        assert self._anchors is not None
        stored = self._anchors.latest(ANCHOR_KEY)
        if stored is None:
            return None
        try:
            fields = orjson.loads(stored.blob)
            anchor = Anchor(
                int(fields["notification_id"]), int(fields["position"]), str(fields["event_id"])
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            self._ignored(stored.version, f"unreadable ({exc!r})")
            return None
        problem = self._problem(anchor, stored.version)
        if problem is not None:
            self._ignored(stored.version, problem)
            return None
        return anchor

    def _problem(self, anchor: Anchor, stored_version: int) -> str | None:
        """Why the anchor cannot be trusted, or None when the log agrees with it."""
        if anchor.position != stored_version or not 1 <= anchor.position <= anchor.notification_id:
            return f"inconsistent {anchor}"
        rows = self._sql.topic_rows(self._topic, anchor.notification_id - 1, 1)
        if not rows or rows[0][0] != anchor.notification_id:
            return "no programme event at its notification id"
        if orjson.loads(rows[0][3]).get("event_id") != anchor.event_id:
            return "the log holds another event at its place"
        return None

    def _ignored(self, position: int, reason: str) -> None:
        log.warning(
            "position anchor at %d ignored: %s; counting positions from the start", position, reason
        )
        assert self._anchors is not None
        self._anchors.discard(ANCHOR_KEY, position)
