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
                f"SELECT notification_id FROM {self._table} "  # noqa: S608 (table name from recorder)
                "WHERE originator_id=%s AND originator_version=%s",
                (originator_id, version),
            )
            row = cursor.fetchone()
        return None if row is None else int(row["notification_id"])

    def count_topic_between(self, topic: str, after_id: int, through_id: int) -> int:
        """Count one topic's events in a notification id range."""
        with self._recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*) AS n FROM {self._table} "  # noqa: S608
                "WHERE notification_id>%s AND notification_id<=%s AND topic=%s",
                (after_id, through_id, topic),
            )
            row = cursor.fetchone()
        return int(row["n"])


def event_log_sql(recorder: ApplicationRecorder) -> EventLogSql:
    """The position queries for the recorder's database."""
    if isinstance(recorder, SQLiteApplicationRecorder):
        return SqliteEventLogSql(recorder)
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresEventLogSql(recorder)
    msg = f"no position queries for {type(recorder).__name__}"
    raise TypeError(msg)
