"""Refusals as HTTP responses: the status says what kind, the body names field and value."""

from fastapi import Request
from fastapi.responses import JSONResponse

from commands.batch.parsing import CommandParseError
from ledger.domain.errors import (
    CommandIdConflict,
    ConcurrencyExhausted,
    LedgerError,
    NotFound,
    RuleViolation,
)

UNPROCESSABLE = 422
CONFLICT = 409
NOT_FOUND = 404
UNAVAILABLE = 503
BAD_REQUEST = 400


def status_of(error: LedgerError) -> int:
    """The HTTP status for a refusal."""
    if isinstance(error, CommandParseError):
        return UNPROCESSABLE
    if isinstance(error, NotFound):
        return NOT_FOUND
    if isinstance(error, RuleViolation | CommandIdConflict):
        return CONFLICT
    if isinstance(error, ConcurrencyExhausted):
        return UNAVAILABLE
    return BAD_REQUEST


async def ledger_error_handler(_request: Request, error: Exception) -> JSONResponse:
    """`{"ok": false, "error": {"field", "value", "message"}}`; nothing was recorded."""
    assert isinstance(error, LedgerError)
    return JSONResponse({"ok": False, "error": error.as_dict()}, status_code=status_of(error))
