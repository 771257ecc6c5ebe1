"""Where the read store and the replay store live (GRANT_LEDGER_READ_STORE, ..._REPLAY_DIR)."""

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from psycopg.conninfo import make_conninfo

from ledger.config import READ_STORE_ENV_VAR
from ledger.infrastructure.store_url import (
    DEFAULT_STORE_URL,
    POSTGRES_DEFAULT_PORT,
    STORE_ENV_VAR,
    sqlite_path,
)
from schemas.errors import ConfigurationError

REPLAY_DIR_ENV_VAR = "GRANT_LEDGER_REPLAY_DIR"
READ_DB_FILE = "read.db"
REPLAY_DIR_NAME = "replay"
DEFAULT_DIRECTORY = Path(".grant-ledger")
IDENTIFIER_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


@dataclass(frozen=True)
class ReadStoreLocation:
    """A parsed read store URL."""

    url: str
    kind: str  # "sqlite" | "postgresql"
    sqlite_path: Path | None = None
    conninfo: str | None = None
    schema: str | None = None


def _sqlite_path(url: str) -> Path:
    return sqlite_path(url, READ_STORE_ENV_VAR)


def default_read_store_url() -> str:
    """Beside a SQLite event store (its directory, read.db), else ./.grant-ledger/read.db."""
    event_store = os.environ.get(STORE_ENV_VAR) or DEFAULT_STORE_URL
    if event_store.startswith("sqlite://"):
        return sqlite_url(_sqlite_path(event_store).parent / READ_DB_FILE)
    return sqlite_url(DEFAULT_DIRECTORY / READ_DB_FILE)


def sqlite_url(path: Path) -> str:
    """`sqlite:///` URL of a path; relative paths stay relative (`sqlite:///./dir/file`)."""
    return f"sqlite:///{path}" if path.is_absolute() else f"sqlite:///./{path}"


def read_store_url(flag: str | None) -> str:
    """The flag, else GRANT_LEDGER_READ_STORE, else the default beside the event store."""
    return flag or os.environ.get(READ_STORE_ENV_VAR) or default_read_store_url()


def parse_read_store_url(url: str) -> ReadStoreLocation:
    """`sqlite:///path/read.db` or `postgresql://user@host:port/db[?schema=s]`."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return ReadStoreLocation(url=url, kind="sqlite", sqlite_path=_sqlite_path(url))
    if parts.scheme in ("postgresql", "postgres"):
        dbname = parts.path.lstrip("/")
        if not dbname:
            raise ConfigurationError(
                READ_STORE_ENV_VAR, url, "postgresql URL needs a database: postgresql://host/db"
            )
        schema = parse_qs(parts.query).get("schema", ["public"])[0]
        if not schema or not set(schema) <= IDENTIFIER_CHARS:
            raise ConfigurationError(
                READ_STORE_ENV_VAR, url, "schema must be lower-case letters, digits and _"
            )
        conninfo = make_conninfo(
            host=parts.hostname or "127.0.0.1",
            port=str(parts.port or POSTGRES_DEFAULT_PORT),
            dbname=dbname,
            user=unquote(parts.username or "postgres"),
            **({"password": unquote(parts.password)} if parts.password else {}),
        )
        return ReadStoreLocation(url=url, kind="postgresql", conninfo=conninfo, schema=schema)
    raise ConfigurationError(
        READ_STORE_ENV_VAR, url, "expected sqlite:///path/read.db or postgresql://user@host:port/db"
    )


def replay_directory(flag: str | None, read_store: ReadStoreLocation) -> Path:
    """The flag, else GRANT_LEDGER_REPLAY_DIR, else `replay/` beside a SQLite read store."""
    chosen = flag or os.environ.get(REPLAY_DIR_ENV_VAR)
    if chosen:
        return Path(chosen)
    if read_store.sqlite_path is not None:
        return read_store.sqlite_path.parent / REPLAY_DIR_NAME
    return DEFAULT_DIRECTORY / REPLAY_DIR_NAME
