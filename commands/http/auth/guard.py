"""The FastAPI dependency every protected endpoint declares: a verified token with a role."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from commands.http.auth.identity import Identity
from commands.http.auth.refusals import Forbidden
from commands.http.auth.roles import Role
from commands.http.auth.verifier import TokenVerifier

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
            raise Forbidden(
                "role",
                ",".join(sorted(identity.roles)) or None,
                f"this needs the role {' or '.join(role.value for role in roles)}",
            )
        return identity

    identity_with_role.roles = roles  # type: ignore[attr-defined]
    return identity_with_role
