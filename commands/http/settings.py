"""Everything the HTTP service is configured by, read once where it starts (serve, or the
create_app factory) and passed down: no module under commands/http reads the environment."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from commands.http.auth.settings import DEFAULT_DEV_DIR, AuthSettings, auth_settings_from_env
from ledger.domain.errors import LedgerError
from ledger.infrastructure.store_url import DEFAULT_STORE_URL, STORE_ENV_VAR
from projections.store.location import parse_read_store_url, read_store_url, replay_directory

CORS_ORIGINS_ENV_VAR = "GRANT_LEDGER_CORS_ORIGINS"


@dataclass(frozen=True)
class ServiceSettings:
    """The event store, the read side, who may speak, and which web origins may call."""

    store_url: str
    read_store_url: str
    replay_dir: Path
    auth: AuthSettings
    # Empty: CORS closed (no browser page of another origin may read a response).
    cors_origins: tuple[str, ...] = ()


def service_settings_from_env(
    environ: Mapping[str, str] | None = None,
    *,
    store_url: str | None = None,
    read_store: str | None = None,
    replay_dir: str | None = None,
    auth_dir: Path = DEFAULT_DEV_DIR,
) -> ServiceSettings:
    """The settings of the environment; flags (the keyword arguments) override it."""
    environ = os.environ if environ is None else environ
    read_url = read_store_url(read_store)
    return ServiceSettings(
        store_url=store_url or environ.get(STORE_ENV_VAR) or DEFAULT_STORE_URL,
        read_store_url=read_url,
        replay_dir=replay_directory(replay_dir, parse_read_store_url(read_url)),
        auth=auth_settings_from_env(environ, auth_dir),
        cors_origins=parse_cors_origins(environ.get(CORS_ORIGINS_ENV_VAR, "")),
    )


def parse_cors_origins(raw: str) -> tuple[str, ...]:
    """GRANT_LEDGER_CORS_ORIGINS: comma-separated origins (scheme://host[:port]); no wildcard."""
    origins = tuple(origin.strip().rstrip("/") for origin in raw.split(",") if origin.strip())
    for origin in origins:
        if (
            origin == "*"
            or not origin.startswith(("https://", "http://"))
            or origin.count("/") != 2
        ):
            raise LedgerError(
                CORS_ORIGINS_ENV_VAR, origin, "expected origins such as https://ekonomi.example.se"
            )
    return origins
