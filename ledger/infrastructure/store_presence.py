"""Is there a ledger at the store URL? Read-only commands must not create one by mistake.

A mistyped `--store` used to create an empty ledger silently, and `events` then exited 0 with
nothing. Only commands that record (submit, serve) may create a store, and they say so the first
time; every other command is told "no ledger at …" instead.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from urllib.parse import quote

import psycopg

from ledger.domain.errors import LedgerError, StoreUnavailable
from ledger.infrastructure.store_url import STORE_ENV_VAR, StoreConfig, connect_postgres

SQLITE_HEADER = b"SQLite format 3\x00"
# The table eventsourcing records every event in: present means a ledger is there.
EVENTS_TABLE = "stored_events"  # eventsourcing's table on SQLite
# On PostgreSQL eventsourcing names it after the application (lower-cased) + "_events";
# ledger.application.grant_ledger asserts this matches GrantLedger's name.
POSTGRES_EVENTS_TABLE = "grantledger_events"
WITHOUT_LEDGER = "an SQLite database without a ledger in it"


class NoLedger(LedgerError):
    """There is no ledger at the configured store (or what is there is not one)."""


def plain(path: Path) -> Path:
    """The path without the extra leading slash of `sqlite:////abs/path` (POSIX keeps `//`)."""
    text = str(path)
    return Path("/" + text.lstrip("/")) if text.startswith("//") else path


def _sqlite_problem(path: Path) -> str | None:
    """Why the file is not a ledger (None when it is one)."""
    if not path.exists():
        return "no such file"
    if path.is_dir():
        return "it is a directory"
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except PermissionError:
        return "it cannot be read (permission denied)"
    if header != SQLITE_HEADER:
        return "it is not an SQLite database"
    try:
        uri = f"file:{quote(str(plain(path)))}?mode=ro"
        with sqlite3.connect(uri, uri=True) as conn:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (EVENTS_TABLE,)
            ).fetchone()
    except sqlite3.DatabaseError as exc:
        return f"it is not a readable SQLite database ({exc})"
    return None if found else WITHOUT_LEDGER


def _postgres_has_ledger(store: StoreConfig) -> bool:
    schema = store.env.get("POSTGRES_SCHEMA", "public")
    try:
        with connect_postgres(store) as conn:
            row = conn.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = %s "
                "AND table_name = %s",
                (schema, POSTGRES_EVENTS_TABLE),
            ).fetchone()
    except psycopg.OperationalError as exc:
        raise StoreUnavailable(
            STORE_ENV_VAR, store.display_url, f"cannot reach the event store: {_first_line(exc)}"
        ) from None
    return row is not None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def require_ledger(store: StoreConfig) -> None:
    """NoLedger unless a ledger is already recorded at the store (read-only commands)."""
    if store.kind == "sqlite":
        assert store.sqlite_path is not None
        problem = _sqlite_problem(store.sqlite_path)
        if problem is not None:
            raise NoLedger(
                STORE_ENV_VAR,
                store.display_url,
                f"no ledger at {plain(store.sqlite_path)}: {problem}; check --store or "
                f"{STORE_ENV_VAR} (only `submit` and `serve`, which record, create one)",
            )
        return
    if not _postgres_has_ledger(store):
        raise NoLedger(
            STORE_ENV_VAR,
            store.display_url,
            f"no ledger at {store.display_url}; check --store or {STORE_ENV_VAR} (only "
            "`submit` and `serve`, which record, create one)",
        )


def ledger_exists(store: StoreConfig) -> bool:
    """True when a ledger is recorded at the store (it may then be opened, never created)."""
    try:
        require_ledger(store)
    except NoLedger:
        return False
    return True


def creatable(store: StoreConfig) -> None:
    """For commands that record: refuse a path that can never hold a ledger (a directory, a
    file that is something else); a missing file is fine (it is created)."""
    if store.kind != "sqlite":
        return
    assert store.sqlite_path is not None
    problem = _sqlite_problem(store.sqlite_path)
    if problem is not None and store.sqlite_path.exists() and problem != WITHOUT_LEDGER:
        raise NoLedger(
            STORE_ENV_VAR,
            store.display_url,
            f"cannot hold a ledger at {plain(store.sqlite_path)}: {problem}",
        )
