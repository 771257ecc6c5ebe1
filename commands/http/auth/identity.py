"""Who a verified token speaks for, and how a command is recorded for them.

The recorded actor is the token's subject qualified by its issuer, `<sub>@<iss>`: OIDC makes
only the pair (iss, sub) a stable identity, and keeping it in the envelope's existing `actor`
field leaves the published schemas (and the hash chain's canonical bytes) exactly as they are.
Issuers never contain `@` (the settings refuse one that does), so the last `@` splits the two.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from commands.http.auth.refusals import Forbidden
from commands.http.auth.roles import Role

ACTOR_SEPARATOR = "@"


@dataclass(frozen=True, slots=True)
class Identity:
    """A verified token's subject, issuer, known roles and agency (an officer's)."""

    subject: str
    issuer: str
    roles: frozenset[Role]
    agency: str | None

    def __post_init__(self) -> None:
        assert self.subject, "a verified token has a subject"
        assert ACTOR_SEPARATOR not in self.issuer, self.issuer

    @property
    def actor(self) -> str:
        """The actor recorded on the events this identity's commands produce."""
        return f"{self.subject}{ACTOR_SEPARATOR}{self.issuer}"


def split_actor(actor: str) -> tuple[str, str] | None:
    """(subject, issuer) of an actor recorded over HTTP; None for an operator's plain actor."""
    subject, separator, issuer = actor.rpartition(ACTOR_SEPARATOR)
    if not separator or not subject or not issuer:
        return None
    return subject, issuer


def stamp_command(body: Mapping[str, Any], identity: Identity) -> dict[str, Any]:
    """The command body with the token's actor and agency; a body that claims anyone else is
    refused naming the field (before anything is validated or recorded)."""
    if identity.agency is None:
        raise Forbidden(
            "agency", None, "the token carries no agency claim: an officer acts for its agency"
        )
    claimed_actor = body.get("actor")
    if "actor" in body and claimed_actor not in (identity.subject, identity.actor):
        raise Forbidden(
            "actor",
            claimed_actor,
            f"commands are recorded for the token's subject {identity.subject!r}; "
            "leave `actor` out or give that subject",
        )
    claimed_agency = body.get("agency")
    if "agency" in body and claimed_agency != identity.agency:
        raise Forbidden(
            "agency",
            claimed_agency,
            f"the token acts for {identity.agency!r}; an officer cannot act for another agency",
        )
    return {**body, "actor": identity.actor, "agency": identity.agency}
