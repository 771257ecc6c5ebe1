"""Everything the HTTP service is configured by, derived from the one `Settings` its entry point
read (serve, or the create_app factory) and passed down: no module under commands/http reads the
environment."""

from dataclasses import dataclass
from pathlib import Path

from commands.http.auth.settings import DEFAULT_DEV_DIR, AuthSettings, auth_settings
from ledger.settings import CORS_ORIGINS_ENV_VAR, Settings
from projections.store.location import read_store_location, replay_directory
from schemas.errors import ConfigurationError


@dataclass(frozen=True)
class ServiceSettings:
    """The event store, the read side, who may speak, and which web origins may call."""

    store_url: str
    read_store_url: str
    replay_dir: Path
    auth: AuthSettings
    # Empty: CORS closed (no browser page of another origin may read a response).
    cors_origins: tuple[str, ...] = ()


def service_settings(settings: Settings, auth_dir: Path = DEFAULT_DEV_DIR) -> ServiceSettings:
    """The service's settings (flags already applied to `settings` by the entry point)."""
    read_store = read_store_location(settings.read_side, settings.event_store.url)
    return ServiceSettings(
        store_url=settings.event_store.url,
        read_store_url=read_store.url,
        replay_dir=replay_directory(settings.read_side, read_store),
        auth=auth_settings(settings.api, auth_dir),
        cors_origins=parse_cors_origins(settings.api.cors_origins or ""),
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
            raise ConfigurationError(
                CORS_ORIGINS_ENV_VAR, origin, "expected origins such as https://ekonomi.example.se"
            )
    return origins
