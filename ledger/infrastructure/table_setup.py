"""Create the event store's tables once, safely when several processes start together."""

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder

from ledger.infrastructure.chain_index_sql import chain_index_sql
from ledger.infrastructure.store_url import StoreConfig, connect_postgres

# Any fixed 64-bit number works; it only has to be the same for every grant-ledger process.
TABLE_SETUP_LOCK_KEY = 0x6772616E74  # "grant"


def create_tables(recorder: ApplicationRecorder, store: StoreConfig) -> None:
    """Create missing tables (eventsourcing's and the chain index); on PostgreSQL under an
    advisory lock.

    eventsourcing's DDL (CREATE TABLE IF NOT EXISTS, CREATE OR REPLACE FUNCTION) is not safe
    to run concurrently on PostgreSQL ("tuple concurrently updated"), which is what a relay, a
    projector and an API starting together would do.
    """
    if isinstance(recorder, SQLiteApplicationRecorder):
        recorder.create_table()  # SQLite serialises DDL itself
        chain_index_sql(recorder).create_table()
        return
    assert isinstance(recorder, PostgresApplicationRecorder), type(recorder).__name__
    with connect_postgres(store) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (TABLE_SETUP_LOCK_KEY,))
        try:
            recorder.create_table()
            chain_index_sql(recorder).create_table()
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (TABLE_SETUP_LOCK_KEY,))
