"""SQL the eventsourcing recorders don't offer: where an event sits in the global log.

The global `position` is gap-free over programme events only; notification ids are not (the
log also holds index entries, and PostgreSQL sequences skip values on rolled-back inserts).
"""

from typing import Protocol

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder


class EventLogSql(Protocol):
    """Position queries over the notification log."""

    def notification_id_of(self, originator_id: str, version: int) -> int | None:
        """The notification id of one stored event."""

    def count_topic_between(self, topic: str, after_id: int, through_id: int) -> int:
        """How many events of `topic` have after_id < notification id <= through_id."""

    def topic_rows(
        self, topic: str, after_id: int, limit: int
    ) -> list[tuple[int, str, int, bytes]]:
        """(notification id, originator id, version, state) of `topic`'s next events, in order."""


class SqliteEventLogSql:
    """Position queries on the SQLite store (notification id = rowid)."""

    def __init__(self, recorder: SQLiteApplicationRecorder) -> None:
        self._recorder = recorder
        self._table = recorder.events_table_name

    def notification_id_of(self, originator_id: str, version: int) -> int | None:
        """The rowid of one stored event."""
        with self._recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT rowid FROM {self._table} WHERE originator_id=? AND originator_version=?",
                (originator_id, version),
            )
            row = cursor.fetchone()
        return None if row is None else int(row[0])

    def topic_rows(
        self, topic: str, after_id: int, limit: int
    ) -> list[tuple[int, str, int, bytes]]:
        """One topic's next rows after a rowid, without building eventsourcing objects."""
        with self._recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT rowid, originator_id, originator_version, state FROM {self._table} "
                "WHERE rowid>? AND topic=? ORDER BY rowid LIMIT ?",
                (after_id, topic, limit),
            )
            return [(row[0], row[1], row[2], row[3]) for row in cursor.fetchall()]

    def count_topic_between(self, topic: str, after_id: int, through_id: int) -> int:
        """Count one topic's events in a rowid range."""
        with self._recorder.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT COUNT(*) FROM {self._table} WHERE rowid>? AND rowid<=? AND topic=?",
                (after_id, through_id, topic),
            )
            row = cursor.fetchone()
        return int(row[0])


class PostgresEventLogSql:
    """Position queries on the PostgreSQL store."""

    def __init__(self, recorder: PostgresApplicationRecorder) -> None:
        self._recorder = recorder
        self._table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'

    def notification_id_of(self, originator_id: str, version: int) -> int | None:
        """The notification id of one stored event."""
        with self._recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(
                f"SELECT notification_id FROM {self._table} "
                "WHERE originator_id=%s AND originator_version=%s",
                (originator_id, version),
            )
            row = cursor.fetchone()
        return None if row is None else int(row["notification_id"])

    def topic_rows(
        self, topic: str, after_id: int, limit: int
    ) -> list[tuple[int, str, int, bytes]]:
        """One topic's next rows after a notification id."""
        with self._recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(
                "SELECT notification_id, originator_id, originator_version, state "
                f"FROM {self._table} WHERE notification_id>%s AND topic=%s "
                "ORDER BY notification_id LIMIT %s",
                (after_id, topic, limit),
            )
            return [
                (
                    row["notification_id"],
                    row["originator_id"],
                    row["originator_version"],
                    bytes(row["state"]),
                )
                for row in cursor.fetchall()
            ]

    def count_topic_between(self, topic: str, after_id: int, through_id: int) -> int:
        """Count one topic's events in a notification id range."""
        with self._recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*) AS n FROM {self._table} "
                "WHERE notification_id>%s AND notification_id<=%s AND topic=%s",
                (after_id, through_id, topic),
            )
            row = cursor.fetchone()
        assert row is not None, "COUNT(*) returns one row"
        return int(row["n"])


def event_log_sql(recorder: ApplicationRecorder) -> EventLogSql:
    """The position queries for the recorder's database."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        return SqliteEventLogSql(recorder)
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresEventLogSql(recorder)
    msg = f"no position queries for {type(recorder).__name__}"
    raise TypeError(msg)
