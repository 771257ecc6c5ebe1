"""Bearer token checks (PyJWT): every failure names the check, never echoes the token.

Order matters: the algorithm is held to RS256/ES256 before any key is chosen (so `alg: none`
and HS256 forgeries with the public key as secret never reach a verifier), the signature is
verified before any claim is looked at, and only then exp, nbf, iat, iss and aud.
"""

from collections.abc import Mapping
from typing import Any

import jwt
from pydantic import TypeAdapter, ValidationError

from commands.http.auth.identity import Identity
from commands.http.auth.key_set import ALLOWED_ALGORITHMS, KeySet
from commands.http.auth.refusals import Unauthenticated
from commands.http.auth.roles import known_roles
from commands.http.auth.settings import AuthSettings
from schemas.identifiers import AgencySlug

AUTHORIZATION = "Authorization"
BEARER = "bearer"
LEEWAY_S = 30
MAX_TOKEN_CHARS = 16 * 1024
MAX_SUBJECT_CHARS = 255  # OIDC Core: sub is at most 255 ASCII characters
REQUIRED_CLAIMS = ("exp", "iss", "aud", "sub")
AGENCY_CLAIM = "agency"
_AGENCY = TypeAdapter(AgencySlug)


class TokenVerifier:
    """Turns an Authorization header into a verified Identity, or refuses naming the check."""

    def __init__(self, settings: AuthSettings, key_set: KeySet) -> None:
        self.settings = settings
        self.key_set = key_set

    def verify(self, authorization: str | None) -> Identity:
        """The identity of a valid bearer token; Unauthenticated otherwise."""
        token = _bearer_token(authorization)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthenticated(
                "token", None, "malformed: not a signed JWT (header.payload.signature)"
            ) from None
        algorithm = header.get("alg")
        if algorithm not in ALLOWED_ALGORITHMS:
            raise Unauthenticated(
                "alg",
                algorithm if isinstance(algorithm, str) else None,
                f"only {' and '.join(ALLOWED_ALGORITHMS)} signatures are accepted",
            )
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise Unauthenticated("kid", None, "the key id must be a string")
        key = self.key_set.key_for(kid, algorithm)
        if key is None:
            raise Unauthenticated("kid", kid, f"no {algorithm} key with this id in the JWKS")
        claims = self._decode(token, key.key, algorithm)
        return self._identity(claims)

    def _decode(self, token: str, key: Any, algorithm: str) -> dict[str, Any]:
        settings = self.settings
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[algorithm],
                audience=settings.audience,
                issuer=settings.issuer,
                leeway=LEEWAY_S,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.InvalidSignatureError:
            raise Unauthenticated(
                "signature", None, "the signature does not verify with the JWKS key"
            ) from None
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("exp", None, "the token has expired") from None
        except jwt.ImmatureSignatureError as error:
            claim = "iat" if "(iat)" in str(error) else "nbf"
            raise Unauthenticated(claim, None, "the token is not valid yet") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated(
                "iss", _unverified(token, "iss"), f"expected the issuer {settings.issuer!r}"
            ) from None
        except jwt.InvalidAudienceError:
            raise Unauthenticated(
                "aud", _unverified(token, "aud"), f"expected the audience {settings.audience!r}"
            ) from None
        except jwt.MissingRequiredClaimError as error:
            raise Unauthenticated(error.claim, None, "a required claim is missing") from None
        except jwt.PyJWTError as error:
            # PyJWT's messages name the claim and never carry the token.
            raise Unauthenticated("token", None, f"invalid: {error}") from None
        return claims

    def _identity(self, claims: Mapping[str, Any]) -> Identity:
        subject = claims.get("sub")
        if (
            not isinstance(subject, str)
            or not 0 < len(subject) <= MAX_SUBJECT_CHARS
            or subject != subject.strip()
            or not subject.isprintable()
        ):
            raise Unauthenticated(
                "sub", None, f"expected 1 to {MAX_SUBJECT_CHARS} printable characters"
            )
        roles = _claim_at(claims, self.settings.roles_claim)
        if roles is None:
            roles = []
        if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
            raise Unauthenticated(
                self.settings.roles_claim, None, "the roles claim must be a list of strings"
            )
        agency = claims.get(AGENCY_CLAIM)
        if agency is not None:
            try:
                agency = _AGENCY.validate_python(agency)
            except ValidationError:
                raise Unauthenticated(
                    AGENCY_CLAIM,
                    agency if isinstance(agency, str) else None,
                    "expected an agency slug such as delmos",
                ) from None
        return Identity(subject, self.settings.issuer, known_roles(roles), agency)


def _bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated(
            AUTHORIZATION, None, "a bearer token is required: Authorization: Bearer <JWT>"
        )
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != BEARER or not token.strip():
        raise Unauthenticated(
            AUTHORIZATION, scheme[:20] or None, "expected the Bearer scheme: Bearer <JWT>"
        )
    token = token.strip()
    if len(token) > MAX_TOKEN_CHARS:
        raise Unauthenticated("token", None, f"longer than {MAX_TOKEN_CHARS} characters")
    return token


def _claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """A claim by dotted path (`realm_access.roles` for Keycloak); None when absent."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return value


def _unverified(token: str, claim: str) -> str | None:
    """A claim of a token whose signature has already verified, for naming what was wrong."""
    value = jwt.decode(token, options={"verify_signature": False}).get(claim)
    if isinstance(value, list):
        value = ",".join(str(item) for item in value)
    return value if isinstance(value, str) else None
