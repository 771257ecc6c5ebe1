"""The documented bodies of the API's answers (OpenAPI), beside the refusals' ErrorBody."""

from typing import Any

from pydantic import BaseModel, Field

from commands.http.errors import ErrorBody

REFUSAL_DESCRIPTIONS: dict[int, str] = {
    401: "No valid bearer token; `field` names the check that failed (WWW-Authenticate too).",
    403: "A valid token without the role needed, or acting for someone else; nothing recorded.",
    404: "An unknown programme, application, recipient or command.",
    409: "A programme rule refuses the command, or its command_id is used for another one.",
    413: "The body is over the limit (1 MiB a command, 64 MiB or 100 000 lines a batch).",
    415: "The body is not of the media type the endpoint takes.",
    422: "The input is not valid: the field and the value are named.",
    503: "The store or the read side cannot answer now; nothing was recorded.",
}
POSITION_HEADER = "X-Ledger-Position"


def refusals(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` entries for the refusals an operation can answer with."""
    return {
        status: {"model": ErrorBody, "description": REFUSAL_DESCRIPTIONS[status]}
        for status in statuses
    }


class RecordedBody(BaseModel):
    """A recorded command: the event it recorded and where in the log."""

    ok: bool = True
    command_id: str
    programme_id: str
    aggregate_version: int
    event_type: str
    position: int


class OutcomeBody(RecordedBody):
    """The answer to a command just posted."""

    duplicate: bool = Field(description="True when the command was recorded earlier.")
    write_conflicts: int = Field(
        0,
        description="Write races this command lost to other writers of its programme; each "
        "time it was decided again on their events (0 when nothing raced it).",
    )


class LineResultBody(BaseModel):
    """One batch line's result: recorded (`position`), or refused (`error`)."""

    line: int
    ok: bool
    position: int | None = None
    type: str | None = None
    aggregate_id: str | None = None
    aggregate_version: int | None = None
    duplicate: bool | None = None
    error: dict[str, Any] | None = None


class CommandRecordBody(RecordedBody):
    """What a recorded command produced, with who recorded it and when."""

    actor: str
    agency: str
    recorded_at: str
    effective_date: str


class HealthBody(BaseModel):
    """Liveness; which kinds of store are in use (never their addresses or passwords)."""

    ok: bool
    store: str
    read_store: str
    auth: str = Field(description="`oidc` or `local-dev-key`.")


class ChainPoint(BaseModel):
    """A position of the chain and its hash."""

    position: int
    hash: str | None


class CheckpointBody(ChainPoint):
    """The read side's last recorded point of the chain."""

    source: str


class ChainStatusBody(BaseModel):
    """The chain's status as this service can prove it (see `explanation` and `note`)."""

    store_head: ChainPoint
    last_checkpoint: CheckpointBody | None
    verified: bool | None
    explanation: str
    balances_position: int
    signed: bool
    note: str
