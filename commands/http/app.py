"""The HTTP API (FastAPI): officers' commands, the trails and the log, balances, the pages.

FastAPI because it gives request parsing, an OpenAPI document and a test client over the
pydantic models we already have; uvicorn serves it (`grant-ledger serve`). `create_app` is a
factory: `uvicorn --factory commands.http.app:create_app` (or several workers) builds one app
per process from the environment; `serve` and the tests pass their settings in.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from commands.http.auth.dev_issuer import DevIssuer
from commands.http.auth.key_set import KeySet, read_source
from commands.http.auth.verifier import AUTHORIZATION, TokenVerifier
from commands.http.chain_status import ChainWatch
from commands.http.errors import (
    http_error_handler,
    ledger_error_handler,
    request_error_handler,
    unexpected_error_handler,
)
from commands.http.openapi import install_openapi
from commands.http.routes import balances, commands, health, log, pages, trails
from commands.http.routes.pages import STATIC_PACKAGE
from commands.http.security_headers import SecurityHeaders
from commands.http.settings import ServiceSettings, service_settings_from_env
from ledger.application.grant_ledger import GrantLedger
from ledger.domain.errors import LedgerError

API_VERSION = "1.0.0"


def create_app(settings: ServiceSettings | None = None) -> FastAPI:
    """The API over one ledger and read side; settings from the environment when not given."""
    settings = settings or service_settings_from_env()
    auth = settings.auth
    if auth.uses_dev_keys:
        DevIssuer.ensure(auth.dev_dir)  # never unauthenticated: the local key, made if missing
    key_set = KeySet(read_source(auth.jwks_location), auth.jwks_location)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if auth.jwks is None or not auth.jwks.startswith("https://"):
            # A key file that cannot work stops the service now, not at the first request.
            key_set.load()
        app.state.ledger = GrantLedger(settings.store_url)
        app.state.chain = ChainWatch(app.state.ledger)
        try:
            yield
        finally:
            app.state.ledger.close()

    app = FastAPI(
        title="grant-ledger",
        summary="Event-sourced ledger for state grants",
        version=API_VERSION,
        lifespan=lifespan,
        docs_url=None,  # served from the package's own files (routes.pages), not a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.verifier = TokenVerifier(auth, key_set)
    app.add_exception_handler(LedgerError, ledger_error_handler)
    app.add_exception_handler(RequestValidationError, request_error_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)
    for router in (
        health.router,
        commands.router,
        trails.router,
        log.router,
        balances.router,
        pages.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(packages=[STATIC_PACKAGE]), name="static")
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=[AUTHORIZATION, "Content-Type"],
            expose_headers=["X-Ledger-Position"],
        )
    app.add_middleware(SecurityHeaders)
    install_openapi(app)
    return app
