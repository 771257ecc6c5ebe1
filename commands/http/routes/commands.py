"""Officers record acts: one command, a batch of JSON Lines, and what a command recorded.

The recorded actor and agency come from the verified token (commands.http.auth.identity); the
body is checked for type and size before it is read, and for identity before it is validated.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from commands.batch.parsing import decode_command_object, validate_command
from commands.batch.runner import parse_lines, run_parsed
from commands.http.app_state import ledger_of
from commands.http.auth.guard import requires
from commands.http.auth.identity import Identity, stamp_command
from commands.http.auth.refusals import Forbidden
from commands.http.auth.roles import Role
from commands.http.bodies import (
    JSON,
    MAX_BATCH_BYTES,
    MAX_COMMAND_BYTES,
    NDJSON,
    batch_lines,
    read_limited,
    require_media_type,
)
from commands.http.openapi import BATCH_BODY, COMMAND_BODY
from commands.http.responses import CommandRecordBody, LineResultBody, OutcomeBody, refusals

router = APIRouter(tags=["commands"])
CREATED = 201
OK = 200
OFFICER = Depends(requires(Role.OFFICER))
OFFICER_OR_AUDITOR = Depends(requires(Role.OFFICER, Role.AUDITOR))


@router.post(
    "/v1/commands",
    status_code=CREATED,
    response_model=OutcomeBody,
    responses={
        OK: {"model": OutcomeBody, "description": "Recorded earlier: the same outcome."},
        **refusals(401, 403, 404, 409, 413, 415, 422, 503),
    },
    openapi_extra=COMMAND_BODY,
)
async def submit_command(request: Request, identity: Annotated[Identity, OFFICER]) -> JSONResponse:
    """Record one command for the token's agency; 201 new, 200 when already recorded."""
    require_media_type(request, JSON)
    body = await read_limited(request, MAX_COMMAND_BYTES)
    command = validate_command(stamp_command(decode_command_object(body), identity))
    # The write blocks (database, lock, retries): off the event loop, in the threadpool.
    outcome = await run_in_threadpool(ledger_of(request).execute, command)
    return JSONResponse(
        {"ok": True, **outcome.as_dict()}, status_code=OK if outcome.duplicate else CREATED
    )


@router.post(
    "/v1/commands/batch",
    response_model=list[LineResultBody],
    responses=refusals(401, 403, 413, 415, 503),
    openapi_extra=BATCH_BODY,
)
async def submit_batch(
    request: Request, identity: Annotated[Identity, OFFICER]
) -> list[dict[str, Any]]:
    """Record JSON Lines, one transaction and one result a line (as `submit --format json`).

    A line that acts for another actor or agency refuses the whole batch (403) before any
    line is recorded.
    """
    require_media_type(request, NDJSON)
    lines = batch_lines(await read_limited(request, MAX_BATCH_BYTES))

    def as_token_holder(line: int, obj: dict[str, Any]) -> dict[str, Any]:
        try:
            return stamp_command(obj, identity)
        except Forbidden as refusal:
            raise Forbidden(
                refusal.field,
                refusal.value,
                f"line {line}: {refusal.message}; nothing in the batch was recorded",
            ) from None

    parsed = await run_in_threadpool(lambda: list(parse_lines(lines, as_token_holder)))
    ledger = ledger_of(request)
    return await run_in_threadpool(
        lambda: [result.as_dict() for result in run_parsed(ledger, parsed)]
    )


@router.get(
    "/v1/commands/{command_id}",
    response_model=CommandRecordBody,
    responses=refusals(401, 403, 404, 422, 503),
)
def recorded_command(
    request: Request, command_id: str, identity: Annotated[Identity, OFFICER_OR_AUDITOR]
) -> dict[str, Any]:
    """What a command recorded; an officer sees its own agency's commands."""
    outcome, event = ledger_of(request).recorded_command(command_id)
    if Role.AUDITOR not in identity.roles and event.agency != identity.agency:
        raise Forbidden(
            "agency", event.agency, "an officer reads the outcomes of its own agency's commands"
        )
    record = outcome.as_dict()
    del record["duplicate"]
    return {
        "ok": True,
        **record,
        "actor": event.actor,
        "agency": event.agency,
        "recorded_at": event.model_dump(mode="json")["timestamp"],
        "effective_date": event.effective_date.isoformat(),
    }
