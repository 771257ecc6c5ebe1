"""The roles a token can carry, and what each may do (README: the role table)."""

from enum import StrEnum


class Role(StrEnum):
    """A role claim value the API knows; other values in a token are ignored."""

    OFFICER = "officer"  # records acts for the agency in its token
    FINANCE = "finance"  # reads balances and their exports
    AUDITOR = "auditor"  # reads everything: balances, trails, the log, the chain's status
    INTEGRATOR = "integrator"  # reads the event log and the published schemas


def known_roles(values: list[str]) -> frozenset[Role]:
    """The known roles among a token's role strings."""
    known = {role.value for role in Role}
    return frozenset(Role(value) for value in values if value in known)
