"""Errors as HTTP responses: the status says what kind, the body names field and value."""

from typing import Final

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from ledger.domain.errors import NotFound
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

UNPROCESSABLE = 422
CONFLICT = 409
NOT_FOUND = 404
SERVER_ERROR = 500
UNAVAILABLE = 503

# The one table from error kind to status; the most specific class of an error decides.
HTTP_STATUS: Final[dict[type[LedgerError], int]] = {
    InvalidCommand: UNPROCESSABLE,  # not a valid command
    NotFound: NOT_FOUND,  # a command naming a programme or application the ledger lacks
    Refused: CONFLICT,  # a rule of the programme, or a reused command_id
    UnknownSubject: NOT_FOUND,  # a question about what the ledger does not know
    InvalidQuery: UNPROCESSABLE,  # as FastAPI answers a malformed parameter
    ConfigurationError: SERVER_ERROR,
    Unavailable: UNAVAILABLE,  # the store is down or busy, or writers kept winning the race
    IntegrityFailure: SERVER_ERROR,
    InternalError: SERVER_ERROR,
}
assert_covers_kinds(HTTP_STATUS, "HTTP_STATUS")


def status_of(error: LedgerError) -> int:
    """The HTTP status for an error."""
    return most_specific(error, HTTP_STATUS)


async def ledger_error_handler(_request: Request, error: Exception) -> JSONResponse:
    """`{"ok": false, "error": {"field", "value", "message"}}`; nothing was recorded."""
    assert isinstance(error, LedgerError)
    return JSONResponse({"ok": False, "error": error.as_dict()}, status_code=status_of(error))


async def request_error_handler(_request: Request, error: Exception) -> JSONResponse:
    """A bad query parameter in the same shape as every other refusal."""
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"] if part not in ("query", "path", "body"))
    value = first.get("input")
    body = {"field": field, "value": value if isinstance(value, str | int) else None}
    return JSONResponse(
        {"ok": False, "error": {**body, "message": first["msg"]}}, status_code=UNPROCESSABLE
    )
