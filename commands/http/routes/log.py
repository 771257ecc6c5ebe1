"""The published log, its chain's status, and the published schemas."""

from importlib import resources
from importlib.resources.abc import Traversable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from commands.http.app_state import chain_of, ledger_of, settings_of
from commands.http.auth.guard import requires
from commands.http.auth.identity import Identity
from commands.http.auth.roles import Role
from commands.http.responses import ChainStatusBody, refusals
from ledger.application.published_log import log_page
from ledger.domain.errors import NotFound
from projections.store.location import parse_read_store_url
from schemas.envelope import EventEnvelope

router = APIRouter(tags=["log"])
MAX_PAGE_EVENTS = 10_000
DEFAULT_PAGE_EVENTS = 100
MAX_POSITION = 2**63 - 1
INTEGRATOR_OR_AUDITOR = Depends(requires(Role.INTEGRATOR, Role.AUDITOR))
AUDITOR = Depends(requires(Role.AUDITOR))
PUBLISHED = "published"
MEDIA_TYPES = {".json": "application/schema+json", ".yaml": "application/yaml"}


@router.get(
    "/v1/events",
    responses={
        200: {"model": list[EventEnvelope], "description": "Envelopes by position."},
        **refusals(401, 403, 422, 503),
    },
)
def events(
    request: Request,
    _identity: Annotated[Identity, INTEGRATOR_OR_AUDITOR],
    from_position: Annotated[int, Query(alias="from", ge=1, le=MAX_POSITION)] = 1,
    limit: Annotated[int, Query(ge=0, le=MAX_PAGE_EVENTS)] = DEFAULT_PAGE_EVENTS,
) -> list[dict[str, Any]]:
    """The published log from a position: envelopes with their chain (through the chain
    index: only the page is read)."""
    return log_page(ledger_of(request), from_position, limit)


@router.get("/v1/chain", response_model=ChainStatusBody, responses=refusals(401, 403, 503))
async def chain_status(request: Request, _identity: Annotated[Identity, AUDITOR]) -> dict[str, Any]:
    """The store's chain head, the read side's last checkpoint, and whether they agree."""
    settings = settings_of(request)
    location = parse_read_store_url(settings.read_store_url)
    return await run_in_threadpool(chain_of(request).status, location, settings.replay_dir)


@router.get("/v1/schemas", responses=refusals(401, 403))
def schema_index(_identity: Annotated[Identity, INTEGRATOR_OR_AUDITOR]) -> list[str]:
    """The published contract's files (JSON Schema per event and command, AsyncAPI)."""
    return sorted(_published_files())


@router.get(
    "/v1/schemas/{name:path}",
    responses={
        200: {
            "description": "The file as published.",
            "content": {media: {"schema": {"type": "string"}} for media in MEDIA_TYPES.values()},
        },
        **refusals(401, 403, 404),
    },
)
def schema_file(name: str, _identity: Annotated[Identity, INTEGRATOR_OR_AUDITOR]) -> Response:
    """One published file, by the name the index lists."""
    files = _published_files()
    found = files.get(name)
    if found is None:
        raise NotFound("name", name[:200], "no such published schema; GET /v1/schemas lists them")
    media_type = MEDIA_TYPES["." + name.rsplit(".", 1)[-1]]
    return Response(found.read_bytes(), media_type=media_type)


def _published_files() -> dict[str, Traversable]:
    """The published files by relative name (the package's own data: no path from the URL
    ever reaches the file system)."""
    root = resources.files("schemas").joinpath(PUBLISHED)
    found: dict[str, Traversable] = {}
    pending: list[tuple[str, Traversable]] = [("", root)]
    while pending:
        prefix, folder = pending.pop()
        for entry in folder.iterdir():
            name = f"{prefix}{entry.name}"
            if entry.is_dir():
                if entry.name != "baseline":
                    pending.append((f"{name}/", entry))
            elif "." + entry.name.rsplit(".", 1)[-1] in MEDIA_TYPES:
                found[name] = entry
    return found
