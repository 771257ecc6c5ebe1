"""Where programme snapshots are kept: eventsourcing's snapshot table, beside the event store.

The snapshot table is an aggregate recorder of its own (`stored_snapshots` on SQLite,
`grantledger_snapshots` on PostgreSQL): no notification ids, so nothing in it can reach the
notification log, the published positions or Kafka. Rows are opaque bytes to this module.
"""

from dataclasses import dataclass

from eventsourcing.persistence import AggregateRecorder, RecordConflictError, StoredEvent
from eventsourcing.postgres import PostgresAggregateRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder

SNAPSHOT_TOPIC = "grant-ledger:programme-snapshot"


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """One stored snapshot row: its key, the stream version it covers, its bytes."""

    key: str
    version: int
    blob: bytes


class SnapshotStore:
    """Read, write and prune snapshot rows (keyed `programme_id@fingerprint`)."""

    def __init__(self, recorder: AggregateRecorder) -> None:
        self.recorder = recorder
        if isinstance(recorder, SQLiteAggregateRecorder):
            self._table = recorder.events_table_name
            self._mark = "?"
        elif isinstance(recorder, PostgresAggregateRecorder):
            self._table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
            self._mark = "%s"
        else:
            msg = f"no snapshot store for {type(recorder).__name__}"
            raise TypeError(msg)

    def latest(self, key: str) -> StoredSnapshot | None:
        """The newest snapshot under `key`, if any."""
        rows = self.recorder.select_events(key, desc=True, limit=1)
        if not rows:
            return None
        row = rows[0]
        assert row.topic == SNAPSHOT_TOPIC, f"snapshot table row of topic {row.topic!r}"
        return StoredSnapshot(str(row.originator_id), row.originator_version, row.state)

    def put(self, key: str, version: int, blob: bytes) -> bool:
        """Store a snapshot; False when one for this key and version is already there."""
        try:
            self.recorder.insert_events(
                [
                    StoredEvent(
                        originator_id=key,
                        originator_version=version,
                        topic=SNAPSHOT_TOPIC,
                        state=blob,
                    )
                ]
            )
        except RecordConflictError:
            # Another process snapshotted the same version of the same code: same content.
            return False
        return True

    def prune(self, programme_prefix: str, keep_key: str, keep_version: int) -> int:
        """Delete a programme's other snapshots: older ones, and those of other code versions."""
        m = self._mark
        return self._execute(
            f"DELETE FROM {self._table} WHERE substr(originator_id, 1, {m}) = {m} "
            f"AND NOT (originator_id = {m} AND originator_version >= {m})",
            (len(programme_prefix), programme_prefix, keep_key, keep_version),
        )

    def discard(self, key: str, version: int) -> int:
        """Delete one row (one that failed its checks, so it is not met again)."""
        m = self._mark
        return self._execute(
            f"DELETE FROM {self._table} WHERE originator_id = {m} AND originator_version = {m}",
            (key, version),
        )

    def delete_all(self) -> int:
        """Delete every snapshot (they are an optimisation only: no outcome changes)."""
        return self._execute(f"DELETE FROM {self._table}", ())

    def _execute(self, statement: str, parameters: tuple[object, ...]) -> int:
        recorder = self.recorder
        if isinstance(recorder, SQLiteAggregateRecorder):
            with recorder.datastore.transaction(commit=True) as cursor:
                cursor.execute(statement, parameters)
                return int(cursor.sqlite_cursor.rowcount)
        assert isinstance(recorder, PostgresAggregateRecorder)
        with recorder.datastore.transaction(commit=True) as pg_cursor:
            pg_cursor.execute(statement, parameters)
            return int(pg_cursor.rowcount)
