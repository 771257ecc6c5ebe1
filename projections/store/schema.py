"""The read store's tables and views: the layout finance teams query (see projections/README.md).

Base tables hold sums that events only ever add to, so batches commute and scale out by
partition; the views add the derived columns and the agency attribution.

  recipient_year_totals  (programme_id, recipient, year) -> requested/awarded/disbursed/
                         recovered_ore
  programme_year_totals  (programme_id, year) -> appropriated/awarded/disbursed/recovered_ore
  programme_day_totals   (programme_id, year, effective_date) -> awarded/disbursed/recovered_ore
  agency_timeline        (programme_id, position) -> effective_date, agency
  consumed_partitions    (topic, kafka_partition) -> next_offset, max_position: where reading
                         resumes (every message before next_offset is applied or not needed)
  projection_state       key -> value (complete_through_position and _hash: positions 1..k
                         applied, the chain's hash after k; topic, topic_id, checkpoint_offset,
                         rebuilt_at, source)
  skipped_messages       (topic, kafka_partition, kafka_offset) -> sha256, reason, skipped_by,
                         skipped_at: every message a reader was told to skip (never swapped)

  recipient_year_balances  + outstanding_ore = awarded_ore - disbursed_ore
  programme_year_balances  + agency (in charge at year end, or today), available_ore
  agency_year_balances     awarded/disbursed/recovered_ore by the agency in charge on each
                           effective date
"""

import hashlib
from dataclasses import dataclass

STATE_COMPLETE_THROUGH = "complete_through_position"
STATE_COMPLETE_THROUGH_HASH = "complete_through_hash"
STATE_TOPIC = "topic"
STATE_TOPIC_ID = "topic_id"
STATE_PARTITION_COUNT = "partition_count"
STATE_CHECKPOINT_OFFSET = "checkpoint_offset"
STATE_REBUILT_AT = "rebuilt_at"
STATE_SOURCE = "source"
STATE_VIEWS = "views"  # digest of the views' SQL: a store made by another version remakes them
SCHEMA_VERSION_KEY = "schema_version"
SCHEMA_VERSION = "1"
# Set by a rebuild, per programme: the first effective day whose programme_day rows are kept
# apart; the days before it are folded into one row per agency period.
STATE_FOLDED_BEFORE_PREFIX = "folded_before:"


def folded_before_key(programme_id: str) -> str:
    """The projection_state key of a programme's fold mark."""
    return STATE_FOLDED_BEFORE_PREFIX + programme_id


@dataclass(frozen=True)
class Table:
    """A base table: key columns and summed (or plain) value columns."""

    name: str
    keys: tuple[tuple[str, str], ...]
    values: tuple[tuple[str, str], ...]

    @property
    def columns(self) -> tuple[str, ...]:
        """All column names in order."""
        return tuple(name for name, _ in (*self.keys, *self.values))


MONEY = "BIGINT NOT NULL"
RECIPIENT_YEAR = Table(
    "recipient_year_totals",
    (("programme_id", "TEXT"), ("recipient", "TEXT"), ("year", "INTEGER")),
    tuple(
        (name, MONEY) for name in ("requested_ore", "awarded_ore", "disbursed_ore", "recovered_ore")
    ),
)
PROGRAMME_YEAR = Table(
    "programme_year_totals",
    (("programme_id", "TEXT"), ("year", "INTEGER")),
    tuple(
        (name, MONEY)
        for name in ("appropriated_ore", "awarded_ore", "disbursed_ore", "recovered_ore")
    ),
)
PROGRAMME_DAY = Table(
    "programme_day_totals",
    (("programme_id", "TEXT"), ("year", "INTEGER"), ("effective_date", "DATE")),
    tuple((name, MONEY) for name in ("awarded_ore", "disbursed_ore", "recovered_ore")),
)
AGENCY_TIMELINE = Table(
    "agency_timeline",
    (("programme_id", "TEXT"), ("position", "BIGINT")),
    (("effective_date", "DATE NOT NULL"), ("agency", "TEXT NOT NULL")),
)
CONSUMED_PARTITIONS = Table(
    "consumed_partitions",
    (("topic", "TEXT"), ("kafka_partition", "INTEGER")),
    (("next_offset", "BIGINT NOT NULL"), ("max_position", "BIGINT NOT NULL")),
)
PROJECTION_STATE = Table("projection_state", (("key", "TEXT"),), (("value", "TEXT NOT NULL"),))

SKIPPED_MESSAGES = Table(
    "skipped_messages",
    (("topic", "TEXT"), ("kafka_partition", "INTEGER"), ("kafka_offset", "BIGINT")),
    (
        ("sha256", "TEXT NOT NULL"),
        ("reason", "TEXT NOT NULL"),
        ("skipped_by", "TEXT NOT NULL"),
        ("skipped_at", "TEXT NOT NULL"),
    ),
)

BALANCE_TABLES = (RECIPIENT_YEAR, PROGRAMME_YEAR, PROGRAMME_DAY, AGENCY_TIMELINE)
# Swapped whole by a rebuild.
TABLES = (*BALANCE_TABLES, CONSUMED_PARTITIONS, PROJECTION_STATE)
# Kept across rebuilds: the record of what operators decided.
KEPT_TABLES = (SKIPPED_MESSAGES,)
VIEWS = (
    "recipient_year_balances",
    "agency_days",
    "programme_year_balances",
    "agency_year_balances",
)


def create_table(table: Table, name: str | None = None, suffix: str = "") -> str:
    """CREATE TABLE for a base table (optionally under another name, for staging); `suffix`
    is the dialect's table option (SQLite: WITHOUT ROWID, rows kept in key order)."""
    columns = [
        f"{column} {kind}" + ("" if "NOT NULL" in kind else " NOT NULL")
        for column, kind in (*table.keys, *table.values)
    ]
    keys = ", ".join(column for column, _ in table.keys)
    return (
        f"CREATE TABLE IF NOT EXISTS {name or table.name} "
        f"({', '.join(columns)}, PRIMARY KEY ({keys})){suffix}"
    )


def agency_lookup(programme: str, day: str) -> str:
    """SQL for the agency in charge of `programme` on `day`, exactly as the write side decides.

    The last timeline entry (by position) effective by the day; before the first entry, the
    programme's first agency; '' when no entry is known.
    """
    return (
        "COALESCE("
        f"(SELECT t.agency FROM agency_timeline t WHERE t.programme_id = {programme} "
        f"AND t.effective_date <= {day} ORDER BY t.position DESC LIMIT 1), "
        f"(SELECT t.agency FROM agency_timeline t WHERE t.programme_id = {programme} "
        "ORDER BY t.position LIMIT 1), '')"
    )


def create_views(year_end_or_today: str) -> list[tuple[str, str]]:
    """(view, CREATE VIEW) in creation order; `year_end_or_today` is the dialect's SQL for
    min(31 December of y.year, today)."""
    statements = [
        "CREATE VIEW recipient_year_balances AS SELECT programme_id, recipient, year, "
        "requested_ore, awarded_ore, disbursed_ore, recovered_ore, "
        "awarded_ore - disbursed_ore AS outstanding_ore FROM recipient_year_totals",
        # The agency of each (programme, day) that has money: looked up once per distinct day.
        "CREATE VIEW agency_days AS SELECT d.programme_id, d.effective_date, "
        f"{agency_lookup('d.programme_id', 'd.effective_date')} AS agency "
        "FROM (SELECT DISTINCT programme_id, effective_date FROM programme_day_totals) d",
        "CREATE VIEW programme_year_balances AS SELECT y.programme_id, y.year, "
        f"{agency_lookup('y.programme_id', year_end_or_today)} AS agency, "
        "y.appropriated_ore, y.awarded_ore, y.disbursed_ore, y.recovered_ore, "
        "y.appropriated_ore - y.awarded_ore AS available_ore FROM programme_year_totals y",
        "CREATE VIEW agency_year_balances AS SELECT a.agency, d.year, "
        "SUM(d.awarded_ore) AS awarded_ore, SUM(d.disbursed_ore) AS disbursed_ore, "
        "SUM(d.recovered_ore) AS recovered_ore FROM programme_day_totals d "
        "JOIN agency_days a ON a.programme_id = d.programme_id "
        "AND a.effective_date = d.effective_date GROUP BY a.agency, d.year",
    ]
    return list(zip(VIEWS, statements, strict=True))


def views_digest(year_end_or_today: str) -> str:
    """A short digest of the views' SQL for a dialect."""
    statements = "\n".join(statement for _, statement in create_views(year_end_or_today))
    return hashlib.sha256(statements.encode()).hexdigest()[:16]


def agency_year_query(placeholder: str) -> str:
    """The agency-year view restricted to one programme."""
    return (
        "SELECT a.agency, d.year, SUM(d.awarded_ore), SUM(d.disbursed_ore), "
        "SUM(d.recovered_ore) FROM programme_day_totals d JOIN agency_days a "
        "ON a.programme_id = d.programme_id AND a.effective_date = d.effective_date "
        f"WHERE d.programme_id = {placeholder} GROUP BY a.agency, d.year"
    )
