"""GRANT_LEDGER_STORE: an event store URL turned into eventsourcing's environment."""

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg

from ledger.domain.errors import LedgerError

STORE_ENV_VAR = "GRANT_LEDGER_STORE"
DEFAULT_STORE_URL = "sqlite:///./.grant-ledger/ledger.db"
SQLITE_LOCK_TIMEOUT_S = 30
POSTGRES_LOCK_TIMEOUT_S = 30
POSTGRES_DEFAULT_PORT = 5432


@dataclass(frozen=True)
class StoreConfig:
    """Where the event store lives, as eventsourcing environment variables."""

    url: str
    kind: str  # "sqlite" | "postgresql"
    env: dict[str, str]
    sqlite_path: Path | None = None

    @property
    def display_url(self) -> str:
        """The URL without its password: what messages and responses may show."""
        return redacted_url(self.url)


def redacted_url(url: str) -> str:
    """A store URL with any password replaced by `***` (secrets never reach output)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


def store_url_from_env() -> str:
    """The configured event store URL (or the embedded SQLite default)."""
    return os.environ.get(STORE_ENV_VAR) or DEFAULT_STORE_URL


def sqlite_path(url: str, setting: str) -> Path:
    """The file of a `sqlite:///path` URL (`sqlite:///./rel` stays relative)."""
    raw_path = unquote(url[len("sqlite://") :])
    if raw_path.startswith(("/./", "/../")):
        raw_path = raw_path[1:]
    if not raw_path or raw_path == "/":
        raise LedgerError(
            setting, redacted_url(url), "sqlite URL needs a file path: sqlite:///path/file.db"
        )
    return Path(raw_path)


def _port(url: str, setting: str) -> int:
    try:
        return urlsplit(url).port or POSTGRES_DEFAULT_PORT
    except ValueError:
        raise LedgerError(
            setting, redacted_url(url), "the port must be a number from 1 to 65535"
        ) from None


def parse_store_url(url: str) -> StoreConfig:
    """Translate `sqlite:///path` or `postgresql://user@host:port/db[?schema=s]`."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = sqlite_path(url, STORE_ENV_VAR)
        return StoreConfig(
            url=url,
            kind="sqlite",
            sqlite_path=path,
            env={
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(path),
                "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_S),
                "ORIGINATOR_ID_TYPE": "text",
            },
        )
    if parts.scheme in ("postgresql", "postgres"):
        dbname = parts.path.lstrip("/")
        if not dbname:
            raise LedgerError(
                STORE_ENV_VAR,
                redacted_url(url),
                "postgresql URL needs a database: postgresql://host/db",
            )
        query = parse_qs(parts.query)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": dbname,
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(_port(url, STORE_ENV_VAR)),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_LOCK_TIMEOUT": str(POSTGRES_LOCK_TIMEOUT_S),
            "ORIGINATOR_ID_TYPE": "text",
        }
        if "schema" in query:
            schema = query["schema"][0]
            if not schema.replace("_", "").isalnum() or not schema.isascii():
                raise LedgerError(
                    STORE_ENV_VAR, redacted_url(url), f"schema {schema!r}: letters, digits, _"
                )
            env["POSTGRES_SCHEMA"] = schema
        return StoreConfig(url=url, kind="postgresql", env=env)
    raise LedgerError(
        STORE_ENV_VAR,
        redacted_url(url),
        "expected sqlite:///path/to/ledger.db or postgresql://user@host:port/db",
    )


def connect_postgres(store: StoreConfig) -> "psycopg.Connection[tuple[object, ...]]":
    """A separate autocommit connection to a PostgreSQL event store (for LISTEN, locks)."""
    assert store.kind == "postgresql", store.kind
    env = store.env
    return psycopg.connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"],
        autocommit=True,
    )
