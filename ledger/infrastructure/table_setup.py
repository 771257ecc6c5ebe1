"""Create the event store's tables once, safely when several processes start together."""

from eventsourcing.persistence import AggregateRecorder, ApplicationRecorder
from eventsourcing.postgres import PostgresAggregateRecorder, PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder

from ledger.infrastructure.chain_index_sql import chain_index_sql
from ledger.infrastructure.store_url import StoreConfig, connect_postgres

# Any fixed 64-bit number works; it only has to be the same for every grant-ledger process.
TABLE_SETUP_LOCK_KEY = 0x6772616E74  # "grant"


def create_tables(
    recorder: ApplicationRecorder, store: StoreConfig, *others: AggregateRecorder
) -> None:
    """Create missing tables (eventsourcing's, the chain index and `others'`); on PostgreSQL under
    an advisory lock.

    eventsourcing's DDL (CREATE TABLE IF NOT EXISTS, CREATE OR REPLACE FUNCTION) is not safe
    to run concurrently on PostgreSQL ("tuple concurrently updated"), which is what a relay, a
    projector and an API starting together would do.
    """
    if isinstance(recorder, SQLiteApplicationRecorder):
        for each in (recorder, *others):
            assert isinstance(each, SQLiteAggregateRecorder), type(each).__name__
            each.create_table()  # SQLite serialises DDL itself
        chain_index_sql(recorder).create_table()
        return
    assert isinstance(recorder, PostgresApplicationRecorder), type(recorder).__name__
    with connect_postgres(store) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (TABLE_SETUP_LOCK_KEY,))
        try:
            for each in (recorder, *others):
                assert isinstance(each, PostgresAggregateRecorder), type(each).__name__
                each.create_table()
            chain_index_sql(recorder).create_table()
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (TABLE_SETUP_LOCK_KEY,))
