"""The FastAPI dependency every protected endpoint declares: a verified token with a role."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from commands.http.auth.identity import Identity
from commands.http.auth.refusals import LacksRole
from commands.http.auth.roles import Role
from commands.http.auth.verifier import TokenVerifier
from schemas.errors import InvalidQuery

# Declares the scheme in the OpenAPI document; the header itself is checked by the verifier, so
# every refusal has the same shape (auto_error would answer 403 in FastAPI's own shape).
BEARER_SCHEME = HTTPBearer(
    auto_error=False,
    bearerFormat="JWT",
    description="An OIDC access token (RS256 or ES256) from the agency's identity provider.",
)


def verifier_of(request: Request) -> TokenVerifier:
    """The app's token verifier."""
    verifier = request.app.state.verifier
    assert isinstance(verifier, TokenVerifier)
    return verifier


def requires(*roles: Role) -> Callable[..., Identity]:
    """A dependency that lets in a valid token holding any of `roles`."""
    assert roles, "an endpoint names the roles it admits"

    def identity_with_role(
        request: Request,
        _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER_SCHEME)],
    ) -> Identity:
        identity = verifier_of(request).verify(request.headers.get("authorization"))
        request.state.identity = identity  # for the denial log
        if not identity.roles.intersection(roles):
            raise LacksRole(
                "role",
                ",".join(sorted(identity.roles)) or None,
                f"this needs the role {' or '.join(role.value for role in roles)}",
            )
        _refuse_unknown_query_parameters(request)
        return identity

    identity_with_role.roles = roles  # type: ignore[attr-defined]
    return identity_with_role


def _refuse_unknown_query_parameters(request: Request) -> None:
    """A misspelt filter (`programe=`) would otherwise be ignored and the answer silently
    cover everything: a parameter the endpoint does not declare is refused by name. Checked
    after the token, so a caller without one learns nothing about the parameters."""
    route = request.scope.get("route")
    assert isinstance(route, APIRoute), route
    declared = _query_names(route.dependant)
    for name in request.query_params:
        if name not in declared:
            expected = ", ".join(sorted(declared)) or "none"
            raise InvalidQuery(name[:100], None, f"unknown query parameter; expected: {expected}")


def _query_names(dependant: Dependant) -> set[str]:
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
