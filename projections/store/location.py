"""Where the read store and the replay store live, from the read side's settings.

Unset, the read store is `read.db` beside a SQLite event store (else ./.grant-ledger/read.db),
and the replay store `replay/` beside a SQLite read store (else ./.grant-ledger/replay).
"""

from pathlib import Path
from typing import Final

from ledger.infrastructure.store_url import StoreLocation, parse_store_url
from ledger.settings import READ_STORE_ENV_VAR, STORE_ENV_VAR, ReadSideSettings

READ_DB_FILE: Final = "read.db"
REPLAY_DIR_NAME: Final = "replay"
DEFAULT_DIRECTORY: Final = Path(".grant-ledger")


def sqlite_url(path: Path) -> str:
    """`sqlite:///` URL of a path; relative paths stay relative (`sqlite:///./dir/file`)."""
    return f"sqlite:///{path}" if path.is_absolute() else f"sqlite:///./{path}"


def read_store_location(read_side: ReadSideSettings, event_store_url: str) -> StoreLocation:
    """The configured read store, else `read.db` beside a SQLite event store."""
    if read_side.read_store is not None:
        return parse_store_url(read_side.read_store, READ_STORE_ENV_VAR)
    event_store = parse_store_url(event_store_url, STORE_ENV_VAR)
    directory = (
        DEFAULT_DIRECTORY if event_store.sqlite_path is None else event_store.sqlite_path.parent
    )
    return parse_store_url(sqlite_url(directory / READ_DB_FILE), READ_STORE_ENV_VAR)


def replay_directory(read_side: ReadSideSettings, read_store: StoreLocation) -> Path:
    """The configured replay store, else `replay/` beside a SQLite read store."""
    if read_side.replay_dir is not None:
        return read_side.replay_dir
    if read_store.sqlite_path is not None:
        return read_store.sqlite_path.parent / REPLAY_DIR_NAME
    return DEFAULT_DIRECTORY / REPLAY_DIR_NAME


def parse_read_store_url(url: str) -> StoreLocation:
    """A read store URL (as the service's settings hold it), refused by the read store's name."""
    return parse_store_url(url, READ_STORE_ENV_VAR)
