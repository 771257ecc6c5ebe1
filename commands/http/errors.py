"""Refusals as HTTP responses: the status says what kind, the body names field and value.

One table from refusal kind to status; every 401 and 403 is also written to the denial log.
No handler ever returns a stack trace, a token or a store password.
"""

import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from commands.batch.parsing import CommandParseError
from commands.http.auth.denial_log import log_denial
from commands.http.auth.refusals import Forbidden, KeysUnavailable, Unauthenticated
from commands.http.bodies import PayloadTooLarge, UnsupportedMediaType
from ledger.application.chain_index import ChainIndexMismatch
from ledger.domain.errors import (
    CommandIdConflict,
    ConcurrencyExhausted,
    InvalidQuery,
    LedgerError,
    NotFound,
    ReadSideUnavailable,
    RuleViolation,
    StoreUnavailable,
)
from ledger.infrastructure.operations.log_lines import redact
from projections.replay import ReplayStoreError

BAD_REQUEST = 400
UNAUTHORIZED = 401
FORBIDDEN = 403
NOT_FOUND = 404
CONFLICT = 409
PAYLOAD_TOO_LARGE = 413
UNSUPPORTED_MEDIA_TYPE = 415
UNPROCESSABLE = 422
INTERNAL_ERROR = 500
UNAVAILABLE = 503

# Most specific first: the first kind an error is an instance of decides its status.
STATUS_OF_KIND: tuple[tuple[type[LedgerError], int], ...] = (
    (Unauthenticated, UNAUTHORIZED),
    (Forbidden, FORBIDDEN),
    (PayloadTooLarge, PAYLOAD_TOO_LARGE),
    (UnsupportedMediaType, UNSUPPORTED_MEDIA_TYPE),
    (CommandParseError, UNPROCESSABLE),
    (InvalidQuery, UNPROCESSABLE),
    (NotFound, NOT_FOUND),
    (RuleViolation, CONFLICT),
    (CommandIdConflict, CONFLICT),
    (ConcurrencyExhausted, UNAVAILABLE),
    (StoreUnavailable, UNAVAILABLE),
    (ReadSideUnavailable, UNAVAILABLE),
    (ReplayStoreError, UNAVAILABLE),  # the replay store fails its own checks: not the client's
    (KeysUnavailable, UNAVAILABLE),
    # The store no longer proves what it would serve (an event altered after it was indexed).
    (ChainIndexMismatch, INTERNAL_ERROR),
    (LedgerError, BAD_REQUEST),
)
# RFC 6750: how a client learns why its bearer token was not enough.
WWW_AUTHENTICATE = "WWW-Authenticate"
REALM = "grant-ledger"

log = logging.getLogger("grant_ledger.http")


class ErrorDetail(BaseModel):
    """What was refused: the field (or check), its value when safe to show, and why."""

    field: str | None
    value: str | int | float | bool | None = Field(description="Never a token or a secret.")
    message: str


class ErrorBody(BaseModel):
    """Every refusal: nothing was recorded."""

    ok: bool = Field(False, description="Always false.")
    error: ErrorDetail


def status_of(error: LedgerError) -> int:
    """The HTTP status for a refusal."""
    for kind, status in STATUS_OF_KIND:
        if isinstance(error, kind):
            return status
    raise AssertionError(f"no status for {type(error).__name__}")


def error_response(status: int, detail: dict[str, Any]) -> JSONResponse:
    """The refusal body with its status."""
    return JSONResponse({"ok": False, "error": detail}, status_code=status)


async def ledger_error_handler(request: Request, error: Exception) -> JSONResponse:
    """`{"ok": false, "error": {"field", "value", "message"}}`; nothing was recorded."""
    assert isinstance(error, LedgerError)
    status = status_of(error)
    body = {
        key: redact(value) if isinstance(value, str) else value
        for key, value in error.as_dict().items()
    }  # no secret in a response: URLs with passwords are redacted
    response = error_response(status, body)
    if status == UNAUTHORIZED:
        response.headers[WWW_AUTHENTICATE] = (
            f'Bearer realm="{REALM}", error="invalid_token", '
            f'error_description="{error.field}: {_quotable(error.message)}"'
        )
    elif status == FORBIDDEN and error.field == "role":
        response.headers[WWW_AUTHENTICATE] = (
            f'Bearer realm="{REALM}", error="insufficient_scope", '
            f'error_description="{_quotable(error.message)}"'
        )
    if status in (UNAUTHORIZED, FORBIDDEN):
        log_denial(request, status, error)
    return response


async def request_error_handler(_request: Request, error: Exception) -> JSONResponse:
    """A bad query or path parameter in the same shape as every other refusal."""
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"] if part not in ("query", "path", "body"))
    value = first.get("input")
    body = {"field": field, "value": value if isinstance(value, str | int) else None}
    return error_response(UNPROCESSABLE, {**body, "message": first["msg"]})


async def http_error_handler(_request: Request, error: Exception) -> JSONResponse:
    """Routing refusals (no such path, method not allowed) in the same shape."""
    assert isinstance(error, StarletteHTTPException)
    response = error_response(
        error.status_code, {"field": None, "value": None, "message": str(error.detail)}
    )
    for name, value in (error.headers or {}).items():
        response.headers[name] = value
    return response


async def unexpected_error_handler(request: Request, error: Exception) -> JSONResponse:
    """A bug: logged here with its traceback, answered without one."""
    log.error("%s %s failed", request.method, request.url.path, exc_info=error)
    return error_response(
        INTERNAL_ERROR,
        {
            "field": None,
            "value": None,
            "message": "internal error; the service log has the details",
        },
    )


def _quotable(text: str) -> str:
    """Text safe inside a quoted header parameter (RFC 6750 allows no `"` or `\\`)."""
    return "".join(ch for ch in text if ch.isascii() and ch.isprintable() and ch not in '"\\')[:200]
