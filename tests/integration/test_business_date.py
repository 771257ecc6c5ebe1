"""One "today": the business date in Europe/Stockholm, on the write side and in the read store.

A command without an effective date counts from today in Stockholm; the read store's views put
a programme-year's agency at year end or today, by the same date. SQLite knows no time zones, so
its SQL spells out the zone's rule; here it is held to the zone database around every change.
"""

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from projections.store import schema
from projections.store.dialects import sqlite_business_date
from projections.store.read_store import ReadStore
from schemas.calendar import STOCKHOLM, today_in_stockholm

SECOND = timedelta(seconds=1)
SQLITE_TIME = "%Y-%m-%d %H:%M:%S"


def instants_around_every_change(first_year: int, last_year: int) -> list[datetime]:
    """Every hour of the years, and a second either side of each offset change and midnight."""
    instant = datetime(first_year, 1, 1, tzinfo=UTC)
    end = datetime(last_year + 1, 1, 1, tzinfo=UTC)
    found: list[datetime] = []
    offset = instant.astimezone(STOCKHOLM).utcoffset()
    while instant < end:
        found.append(instant)
        now_offset = instant.astimezone(STOCKHOLM).utcoffset()
        local = instant.astimezone(STOCKHOLM)
        if now_offset != offset or local.hour == 0:
            exact = instant
            while (exact - SECOND).astimezone(STOCKHOLM).utcoffset() == now_offset and (
                exact - SECOND
            ).astimezone(STOCKHOLM).date() == local.date():
                exact -= SECOND
            found.extend([exact - SECOND, exact])
        offset = now_offset
        instant += timedelta(hours=1)
    return found


def test_sqlites_rule_gives_the_stockholm_date_around_every_change() -> None:
    connection = sqlite3.connect(":memory:")
    try:
        for instant in instants_around_every_change(2024, 2027):
            text = instant.strftime(SQLITE_TIME)
            [(computed,)] = connection.execute(
                f"SELECT {sqlite_business_date('?')}".replace("?", f"'{text}'")
            ).fetchall()
            assert computed == today_in_stockholm(instant).isoformat(), text
    finally:
        connection.close()


def test_the_read_stores_today_is_the_write_sides(read_store_url: str) -> None:
    with ReadStore.open(read_store_url) as read_store:
        before = today_in_stockholm()
        [(today,)] = read_store.db.execute(f"SELECT {read_store.db.today}")
        after = today_in_stockholm()
    # Read between two readings of the write side's today (which may straddle midnight).
    assert str(today) in {before.isoformat(), after.isoformat()}


def test_a_read_store_with_older_views_gets_this_versions(tmp_path: Path) -> None:
    """A store made when the views counted today in UTC has them remade on opening."""
    url = f"sqlite:///{tmp_path / 'read.db'}"
    with ReadStore.open(url) as read_store:
        read_store.db.execute("DROP VIEW programme_year_balances")
        read_store.db.execute(
            "CREATE VIEW programme_year_balances AS SELECT date('now') AS today_in_utc"
        )
        read_store.db.execute("DELETE FROM projection_state WHERE key = ?", (schema.STATE_VIEWS,))
    with ReadStore.open(url) as reopened:
        assert reopened.state()[schema.STATE_VIEWS] == schema.views_digest(
            reopened.db.year_end_or_today
        )
        [(definition,)] = reopened.db.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'programme_year_balances'"
        )
    assert "available_ore" in definition
    assert sqlite_business_date() in definition
