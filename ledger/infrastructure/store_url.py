"""Store URLs, parsed once for the event store and the read store alike, with the same refusals.

`sqlite:///path/file.db` (`sqlite:///./rel` stays relative) or
`postgresql://user[:password]@host[:port]/db[?schema=s]`. A refusal names the setting the URL
came from, and never shows the password.
"""

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, unquote, urlsplit, urlunsplit

import psycopg
from psycopg.conninfo import make_conninfo

from schemas.errors import ConfigurationError

SQLITE_LOCK_TIMEOUT_S: Final = 30
POSTGRES_LOCK_TIMEOUT_S: Final = 30
POSTGRES_DEFAULT_PORT: Final = 5432
POSTGRES_DEFAULT_HOST: Final = "127.0.0.1"
POSTGRES_DEFAULT_USER: Final = "postgres"
POSTGRES_DEFAULT_SCHEMA: Final = "public"
MAX_PORT: Final = 65_535
# Unquoted PostgreSQL names fold to lower case, so a schema is written in lower case only:
# every tool (ours, eventsourcing, psql) then means the same schema by it.
SCHEMA_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")
SCHEMA_MAX_CHARS: Final = 63
QUERY_PARAMETERS: Final = frozenset({"schema"})
HIDDEN_PASSWORD: Final = "***"
EXPECTED: Final = "expected sqlite:///path/file.db or postgresql://user@host:port/db[?schema=s]"


class StoreKind(StrEnum):
    """The databases a store can live in."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


@dataclass(frozen=True)
class PostgresAddress:
    """Where a PostgreSQL store is: server, database, role and schema."""

    host: str
    port: int
    dbname: str
    user: str
    password: str = field(repr=False)
    schema: str

    def conninfo(self) -> str:
        """A libpq connection string."""
        return make_conninfo(
            host=self.host,
            port=str(self.port),
            dbname=self.dbname,
            user=self.user,
            **({"password": self.password} if self.password else {}),
        )


@dataclass(frozen=True)
class StoreLocation:
    """A parsed store URL: SQLite file or PostgreSQL address."""

    url: str = field(repr=False)  # may hold a password: `shown` is what output may carry
    setting: str
    kind: StoreKind
    sqlite_path: Path | None = None
    postgres: PostgresAddress | None = None

    def __post_init__(self) -> None:
        assert (self.sqlite_path is not None) == (self.kind is StoreKind.SQLITE), self.kind
        assert (self.postgres is not None) == (self.kind is StoreKind.POSTGRESQL), self.kind

    @property
    def shown(self) -> str:
        """The URL with its password hidden: safe for logs, errors and health checks."""
        return hide_password(self.url)

    def eventsourcing_env(self) -> dict[str, str]:
        """The event store as eventsourcing's environment variables."""
        if self.sqlite_path is not None:
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.sqlite_path),
                "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_S),
                "ORIGINATOR_ID_TYPE": "text",
            }
        assert self.postgres is not None
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.postgres.dbname,
            "POSTGRES_HOST": self.postgres.host,
            "POSTGRES_PORT": str(self.postgres.port),
            "POSTGRES_USER": self.postgres.user,
            "POSTGRES_PASSWORD": self.postgres.password,
            "POSTGRES_SCHEMA": self.postgres.schema,
            "POSTGRES_LOCK_TIMEOUT": str(POSTGRES_LOCK_TIMEOUT_S),
            "ORIGINATOR_ID_TYPE": "text",
        }


def hide_password(url: str) -> str:
    """`url` with the password of its user part replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{HIDDEN_PASSWORD}@{host}"))


def parse_store_url(url: str, setting: str) -> StoreLocation:
    """Parse a store URL from `setting` (the variable or flag it came from)."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = _sqlite_path(url, setting)
        return StoreLocation(url, setting, StoreKind.SQLITE, sqlite_path=path)
    if parts.scheme in ("postgresql", "postgres"):
        return StoreLocation(url, setting, StoreKind.POSTGRESQL, postgres=_postgres(url, setting))
    raise ConfigurationError(setting, hide_password(url), EXPECTED)


def _sqlite_path(url: str, setting: str) -> Path:
    raw_path = unquote(url[len("sqlite://") :])
    if raw_path.startswith(("/./", "/../")):
        raw_path = raw_path[1:]
    if not raw_path or raw_path == "/":
        raise ConfigurationError(
            setting, url, "a sqlite URL needs a file path: sqlite:///path/file.db"
        )
    return Path(raw_path)


def _postgres(url: str, setting: str) -> PostgresAddress:
    parts = urlsplit(url)
    shown = hide_password(url)
    dbname = parts.path.lstrip("/")
    if not dbname:
        raise ConfigurationError(
            setting, shown, "a postgresql URL needs a database: postgresql://host/db"
        )
    try:
        given_port = parts.port
    except ValueError:  # not a number, or beyond 65535
        given_port = 0
    port = POSTGRES_DEFAULT_PORT if given_port is None else given_port
    if not 1 <= port <= MAX_PORT:
        raise ConfigurationError(setting, shown, f"the port must be a number from 1 to {MAX_PORT}")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - QUERY_PARAMETERS)
    if unknown:
        raise ConfigurationError(
            setting, shown, f"unknown parameter {unknown[0]!r}: only ?schema= is understood"
        )
    schema = query.get("schema", [POSTGRES_DEFAULT_SCHEMA])[-1]
    if not schema or not set(schema) <= SCHEMA_CHARS or len(schema) > SCHEMA_MAX_CHARS:
        raise ConfigurationError(
            setting, shown, f"schema {schema!r}: lower-case letters, digits and _ (at most 63)"
        )
    return PostgresAddress(
        host=parts.hostname or POSTGRES_DEFAULT_HOST,
        port=port,
        dbname=dbname,
        user=unquote(parts.username or POSTGRES_DEFAULT_USER),
        password=unquote(parts.password or ""),
        schema=schema,
    )


def connect_postgres(store: StoreLocation) -> "psycopg.Connection[tuple[object, ...]]":
    """A separate autocommit connection to a PostgreSQL store (for LISTEN, locks, DDL)."""
    assert store.postgres is not None, store.kind
    return psycopg.connect(store.postgres.conninfo(), autocommit=True)
