"""Why a request was not let in: each names the check (field) that failed, never the token.

A request refused at the door is of the kind `Refused` (nothing was recorded or read); keys that
cannot be read make every check impossible for now: `Unavailable`.
"""

from schemas.errors import Refused, Unavailable


class Unauthenticated(Refused):
    """No valid bearer token: missing, malformed, expired, wrongly signed, wrong issuer... (401)."""


class Forbidden(Refused):
    """A valid token that may not do this: a role it lacks, an agency it does not act for (403)."""


class LacksRole(Forbidden):
    """A valid token without any role the door admits (403, `insufficient_scope`)."""


class KeysUnavailable(Unavailable):
    """The JWKS could not be read, so no token can be checked now (503)."""
