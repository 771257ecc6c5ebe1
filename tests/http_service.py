"""The HTTP service as the tests run it: settings over temporary stores, the local development
issuer for tokens, and (for browsers and fuzzers) a live uvicorn server on a free port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from commands.http.app import create_app
from commands.http.auth.dev_issuer import DevIssuer
from commands.http.auth.settings import (
    DEFAULT_AUDIENCE,
    DEFAULT_ROLES_CLAIM,
    DEV_ISSUER,
    AuthSettings,
)
from commands.http.settings import ServiceSettings

TOKEN_TTL_S = 3600
SERVER_START_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Tokens:
    """Mints tokens of the local development issuer."""

    issuer: DevIssuer

    def mint(self, *roles: str, sub: str = "anna", agency: str | None = None) -> str:
        """A valid token with these roles."""
        return self.issuer.mint(
            subject=sub,
            roles=roles,
            agency=agency,
            ttl_s=TOKEN_TTL_S,
            audience=DEFAULT_AUDIENCE,
            roles_claim=DEFAULT_ROLES_CLAIM,
        )

    def headers(self, *roles: str, sub: str = "anna", agency: str | None = None) -> dict[str, str]:
        """Authorization header of such a token."""
        return {"Authorization": f"Bearer {self.mint(*roles, sub=sub, agency=agency)}"}


def service_settings(
    directory: Path,
    *,
    store_url: str | None = None,
    read_store_url: str | None = None,
    cors_origins: Iterable[str] = (),
) -> ServiceSettings:
    """Settings over stores in `directory` and the local issuer's key there."""
    return ServiceSettings(
        store_url=store_url or f"sqlite:///{directory / 'ledger.db'}",
        read_store_url=read_store_url or f"sqlite:///{directory / 'read.db'}",
        replay_dir=directory / "replay",
        auth=AuthSettings(None, DEV_ISSUER, dev_dir=directory / "auth"),
        cors_origins=tuple(cors_origins),
    )


def tokens_for(settings: ServiceSettings) -> Tokens:
    """The issuer the settings' service trusts."""
    return Tokens(DevIssuer.ensure(settings.auth.dev_dir)[0])


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def live_server(settings: ServiceSettings) -> Iterator[str]:
    """uvicorn serving the app in a thread; yields its base URL, stops on exit."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=SERVER_START_TIMEOUT_S)
