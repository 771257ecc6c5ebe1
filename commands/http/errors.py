"""Refusals as HTTP responses: the status says what kind, the body names field and value.

One table from error kind (schemas/errors.py) to status; every 401 and 403 is also written to
the denial log.
No handler ever returns a stack trace, a token or a store password.
"""

import logging
from typing import Any, Final

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from commands.http.auth.denial_log import log_denial
from commands.http.auth.refusals import Forbidden, LacksRole, Unauthenticated
from commands.http.bodies import PayloadTooLarge, UnsupportedMediaType
from ledger.domain.errors import NotFound
from ledger.infrastructure.operations.log_lines import redact
from projections.replay import ReplayStoreError
from schemas.errors import (
    ConfigurationError,
    IntegrityFailure,
    InternalError,
    InvalidCommand,
    InvalidQuery,
    LedgerError,
    Refused,
    Unavailable,
    UnknownSubject,
    assert_covers_kinds,
    most_specific,
)

UNAUTHORIZED = 401
FORBIDDEN = 403
NOT_FOUND = 404
CONFLICT = 409
PAYLOAD_TOO_LARGE = 413
UNSUPPORTED_MEDIA_TYPE = 415
UNPROCESSABLE = 422
INTERNAL_ERROR = 500
UNAVAILABLE = 503

# The one table from error kind to status; the most specific class of an error decides.
HTTP_STATUS: Final[dict[type[LedgerError], int]] = {
    Unauthenticated: UNAUTHORIZED,
    Forbidden: FORBIDDEN,
    PayloadTooLarge: PAYLOAD_TOO_LARGE,
    UnsupportedMediaType: UNSUPPORTED_MEDIA_TYPE,
    InvalidCommand: UNPROCESSABLE,  # not a valid command
    NotFound: NOT_FOUND,  # a command naming a programme or application the ledger lacks
    Refused: CONFLICT,  # a rule of the programme, or a reused command_id
    UnknownSubject: NOT_FOUND,  # a question about what the ledger does not know
    InvalidQuery: UNPROCESSABLE,  # as FastAPI answers a malformed parameter
    ConfigurationError: INTERNAL_ERROR,
    Unavailable: UNAVAILABLE,  # a store or the keys are down or busy, or writers kept winning
    ReplayStoreError: UNAVAILABLE,  # the replay store fails its own checks: not the client's
    IntegrityFailure: INTERNAL_ERROR,
    InternalError: INTERNAL_ERROR,
}
assert_covers_kinds(HTTP_STATUS, "HTTP_STATUS")
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
    """The HTTP status for an error."""
    return most_specific(error, HTTP_STATUS)


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
    elif isinstance(error, LacksRole):
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
