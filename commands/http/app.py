"""The HTTP API (FastAPI): the same commands and auditor's views as the CLI.

FastAPI because it gives request parsing, an OpenAPI document and a test client over the
pydantic models we already have; uvicorn serves it (`grant-ledger serve`).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from commands.batch.parsing import parse_command
from commands.batch.runner import run_lines
from commands.http.errors import ledger_error_handler, request_error_handler
from ledger.application.grant_ledger import GrantLedger
from ledger.application.published_log import log_page, trail
from ledger.domain.errors import LedgerError

MAX_PAGE_EVENTS = 10_000
DEFAULT_PAGE_EVENTS = 100
CREATED = 201
OK = 200


def create_app(store_url: str | None = None) -> FastAPI:
    """The API over one ledger (store URL, or GRANT_LEDGER_STORE / the default)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.ledger = GrantLedger(store_url)
        try:
            yield
        finally:
            app.state.ledger.close()

    app = FastAPI(
        title="grant-ledger",
        summary="Event-sourced ledger for state grants",
        lifespan=lifespan,
    )
    app.add_exception_handler(LedgerError, ledger_error_handler)
    app.add_exception_handler(RequestValidationError, request_error_handler)

    def ledger_of(request: Request) -> GrantLedger:
        ledger = request.app.state.ledger
        assert isinstance(ledger, GrantLedger)
        return ledger

    @app.post("/v1/commands", status_code=CREATED)
    async def submit_command(request: Request) -> JSONResponse:
        """Record one command (JSON object); 201 new, 200 when already recorded."""
        command = parse_command(await request.body())
        # The write blocks (database, lock, retries): off the event loop, in the threadpool.
        outcome = await run_in_threadpool(ledger_of(request).execute, command)
        return JSONResponse(
            {"ok": True, **outcome.as_dict()}, status_code=OK if outcome.duplicate else CREATED
        )

    @app.post("/v1/commands/batch")
    async def submit_batch(request: Request) -> list[dict[str, Any]]:
        """Record JSON Lines, one transaction and one result a line (as `submit --format json`)."""
        lines = (await request.body()).splitlines()
        ledger = ledger_of(request)
        return await run_in_threadpool(
            lambda: [result.as_dict() for result in run_lines(ledger, lines)]
        )

    @app.get("/v1/applications/{application_id}/history")
    def application_history(request: Request, application_id: str) -> list[dict[str, Any]]:
        """A grant's full trail, in order."""
        return trail(ledger_of(request), application_id=application_id)

    @app.get("/v1/recipients/{recipient}/history")
    def recipient_history(request: Request, recipient: str) -> list[dict[str, Any]]:
        """Everything about one recipient, in order."""
        return trail(ledger_of(request), recipient=recipient)

    @app.get("/v1/events")
    def events(
        request: Request,
        from_position: Annotated[int, Query(alias="from", ge=1)] = 1,
        limit: Annotated[int, Query(ge=0, le=MAX_PAGE_EVENTS)] = DEFAULT_PAGE_EVENTS,
    ) -> list[dict[str, Any]]:
        """The published log from a position: envelopes with their chain."""
        return log_page(ledger_of(request), from_position, limit)

    @app.get("/v1/health")
    def health(request: Request) -> dict[str, Any]:
        """Liveness, and which store this API records in."""
        return {"ok": True, **ledger_of(request).describe()}

    return app
