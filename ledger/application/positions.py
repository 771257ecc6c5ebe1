"""Gap-free global positions of programme events, counted from the notification log."""

from threading import Lock

from ledger.infrastructure.event_log_sql import EventLogSql


class PositionCounter:
    """Turns a notification id into the event's position (1-based rank among programme events).

    Keeps the last answer as an anchor so each new question counts only the rows after it.
    """

    def __init__(self, sql: EventLogSql, topic: str) -> None:
        self._sql = sql
        self._topic = topic
        self._anchor_id = 0
        self._anchor_position = 0
        self._lock = Lock()

    def position_of(self, notification_id: int) -> int:
        """The position of the programme event stored under `notification_id`."""
        with self._lock:
            if notification_id >= self._anchor_id:
                position = self._anchor_position + self._sql.count_topic_between(
                    self._topic, self._anchor_id, notification_id
                )
                self._anchor_id, self._anchor_position = notification_id, position
            else:
                position = self._sql.count_topic_between(self._topic, 0, notification_id)
        assert position >= 1, f"notification {notification_id} is not a programme event"
        return position
