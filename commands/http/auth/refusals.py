"""Why a request was not let in: each names the check (field) that failed, never the token."""

from ledger.domain.errors import LedgerError


class Unauthenticated(LedgerError):
    """No valid bearer token: missing, malformed, expired, wrongly signed, wrong issuer... (401)."""


class Forbidden(LedgerError):
    """A valid token that may not do this: a role it lacks, an agency it does not act for (403)."""


class KeysUnavailable(LedgerError):
    """The JWKS could not be read, so no token can be checked now (503)."""
