"""Liveness, open to all: which kinds of store and of key are in use, never their secrets."""

from fastapi import APIRouter, Request

from commands.http.app_state import ledger_of, settings_of
from commands.http.responses import HealthBody
from projections.store.location import parse_read_store_url

router = APIRouter(tags=["health"])


@router.get("/v1/health", response_model=HealthBody)
def health(request: Request) -> HealthBody:
    """The service is up; the kinds of its event store, read store and token keys."""
    settings = settings_of(request)
    return HealthBody(
        ok=True,
        store=ledger_of(request).store.kind,
        read_store=parse_read_store_url(settings.read_store_url).kind,
        auth="local-dev-key" if settings.auth.uses_dev_keys else "oidc",
    )
