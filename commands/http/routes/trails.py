"""A grant's and a recipient's trail: every event in order, with both dates and the chain."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from commands.http.app_state import ledger_of
from commands.http.auth.guard import requires
from commands.http.auth.identity import Identity
from commands.http.auth.roles import Role
from commands.http.responses import refusals
from ledger.application.published_log import trail
from schemas.envelope import EventEnvelope

router = APIRouter(tags=["trails"])
OFFICER_OR_AUDITOR = Depends(requires(Role.OFFICER, Role.AUDITOR))
TRAIL_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": list[EventEnvelope], "description": "The events, in log order."},
    **refusals(401, 403, 404, 422, 503),
}


@router.get("/v1/applications/{application_id}/history", responses=TRAIL_RESPONSES)
def application_history(
    request: Request, application_id: str, _identity: Annotated[Identity, OFFICER_OR_AUDITOR]
) -> list[dict[str, Any]]:
    """A grant's full trail, in order."""
    return trail(ledger_of(request), application_id=application_id)


@router.get("/v1/recipients/{recipient}/history", responses=TRAIL_RESPONSES)
def recipient_history(
    request: Request, recipient: str, _identity: Annotated[Identity, OFFICER_OR_AUDITOR]
) -> list[dict[str, Any]]:
    """Everything about one recipient, in order."""
    return trail(ledger_of(request), recipient=recipient)
