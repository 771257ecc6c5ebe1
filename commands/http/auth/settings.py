"""GRANT_LEDGER_AUTH_*: how tokens are checked, read once at the entry point and passed down."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from commands.http.auth.identity import ACTOR_SEPARATOR
from ledger.domain.errors import LedgerError

JWKS_ENV_VAR = "GRANT_LEDGER_AUTH_JWKS"
ISSUER_ENV_VAR = "GRANT_LEDGER_AUTH_ISSUER"
AUDIENCE_ENV_VAR = "GRANT_LEDGER_AUTH_AUDIENCE"
ROLES_CLAIM_ENV_VAR = "GRANT_LEDGER_AUTH_ROLES_CLAIM"
AUTH_ENV_VARS = (JWKS_ENV_VAR, ISSUER_ENV_VAR, AUDIENCE_ENV_VAR, ROLES_CLAIM_ENV_VAR)

DEFAULT_AUDIENCE = "grant-ledger"
DEFAULT_ROLES_CLAIM = "roles"
# The issuer of the tokens `grant-ledger auth token` mints with the local development key.
DEV_ISSUER = "urn:grant-ledger:dev"
DEFAULT_DEV_DIR = Path(".grant-ledger") / "auth"
DEV_KEY_FILE = "signing-key.pem"
DEV_JWKS_FILE = "jwks.json"
HTTPS_PREFIX = "https://"
CLAIM_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")


@dataclass(frozen=True)
class AuthSettings:
    """Where the keys are and what a token must say (`jwks` None: the local development key)."""

    jwks: str | None
    issuer: str
    audience: str = DEFAULT_AUDIENCE
    roles_claim: str = DEFAULT_ROLES_CLAIM
    dev_dir: Path = DEFAULT_DEV_DIR

    def __post_init__(self) -> None:
        assert self.issuer and ACTOR_SEPARATOR not in self.issuer, self.issuer
        assert CLAIM_PATH.match(self.roles_claim), self.roles_claim

    @property
    def uses_dev_keys(self) -> bool:
        """True when tokens are checked against the key `grant-ledger auth init` made."""
        return self.jwks is None

    @property
    def jwks_location(self) -> str:
        """The JWKS file path or https URL actually used."""
        return self.jwks if self.jwks is not None else str(self.dev_dir / DEV_JWKS_FILE)


def auth_settings_from_env(
    environ: Mapping[str, str], dev_dir: Path = DEFAULT_DEV_DIR
) -> AuthSettings:
    """The auth settings of the environment; a setting that cannot work is refused by name."""
    jwks = environ.get(JWKS_ENV_VAR) or None
    issuer = environ.get(ISSUER_ENV_VAR) or None
    audience = environ.get(AUDIENCE_ENV_VAR) or DEFAULT_AUDIENCE
    roles_claim = environ.get(ROLES_CLAIM_ENV_VAR) or DEFAULT_ROLES_CLAIM
    if not CLAIM_PATH.match(roles_claim):
        raise LedgerError(
            ROLES_CLAIM_ENV_VAR, roles_claim, "expected a claim name or a dotted path to one"
        )
    if jwks is None:
        if issuer is not None:
            raise LedgerError(
                ISSUER_ENV_VAR,
                issuer,
                f"is set but {JWKS_ENV_VAR} is not: set both to use an OIDC provider, or "
                "neither to use the local development key (grant-ledger auth init)",
            )
        return AuthSettings(None, DEV_ISSUER, audience, roles_claim, dev_dir)
    if jwks.startswith("http://"):
        raise LedgerError(JWKS_ENV_VAR, jwks, "keys must come over https:// (or from a file)")
    if "://" in jwks and not jwks.startswith(HTTPS_PREFIX):
        raise LedgerError(JWKS_ENV_VAR, jwks, "expected a file path or an https:// URL")
    if issuer is None:
        raise LedgerError(
            ISSUER_ENV_VAR, None, f"the required `iss` of tokens checked against {jwks}"
        )
    if ACTOR_SEPARATOR in issuer:
        raise LedgerError(
            ISSUER_ENV_VAR,
            issuer,
            f"an issuer must not contain {ACTOR_SEPARATOR!r} (the recorded actor is sub@iss)",
        )
    return AuthSettings(jwks, issuer, audience, roles_claim, dev_dir)
