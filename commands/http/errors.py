"""Refusals as HTTP responses: the status says what kind, the body names field and value."""

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from commands.batch.parsing import CommandParseError
from ledger.application.chain_index import ChainIndexMismatch
from ledger.domain.errors import (
    CommandIdConflict,
    ConcurrencyExhausted,
    LedgerError,
    NotFound,
    RuleViolation,
    StoreUnavailable,
)

UNPROCESSABLE = 422
CONFLICT = 409
NOT_FOUND = 404
UNAVAILABLE = 503
BAD_REQUEST = 400
INTEGRITY_FAILED = 500


def status_of(error: LedgerError) -> int:
    """The HTTP status for a refusal."""
    if isinstance(error, CommandParseError):
        return UNPROCESSABLE
    if isinstance(error, NotFound):
        return NOT_FOUND
    if isinstance(error, RuleViolation | CommandIdConflict):
        return CONFLICT
    if isinstance(error, ConcurrencyExhausted | StoreUnavailable):
        return UNAVAILABLE
    if isinstance(error, ChainIndexMismatch):
        return INTEGRITY_FAILED  # the store no longer proves what it serves: not the client's
    return BAD_REQUEST


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
