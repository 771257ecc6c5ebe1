"""What the app holds for its requests: the settings, the ledger, the token verifier, the chain."""

from fastapi import Request

from commands.http.chain_status import ChainWatch
from commands.http.settings import ServiceSettings
from ledger.application.grant_ledger import GrantLedger


def settings_of(request: Request) -> ServiceSettings:
    """The service's settings."""
    settings = request.app.state.settings
    assert isinstance(settings, ServiceSettings)
    return settings


def ledger_of(request: Request) -> GrantLedger:
    """The ledger application (opened when the app started)."""
    ledger = request.app.state.ledger
    assert isinstance(ledger, GrantLedger)
    return ledger


def chain_of(request: Request) -> ChainWatch:
    """The store's chain, recomputed incrementally."""
    chain = request.app.state.chain
    assert isinstance(chain, ChainWatch)
    return chain
