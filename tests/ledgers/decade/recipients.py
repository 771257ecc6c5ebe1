"""The recipients of the decade ledger: Sweden's 290 municipalities and 21 regions (official
codes from the reference data) and a few thousand organisations with valid organisationsnummer."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache

from schemas.recipients import RecipientType, counties, luhn_is_valid, municipalities

ORGANISATIONS = 3_000
# Non-profit associations' organisationsnummer start with 8 (ideella föreningar: 802...).
ORGANISATION_PREFIX = "802"
ORGANISATION_SEED = 20181201


@dataclass(frozen=True)
class Recipients:
    """Recipient codes by type, in a fixed order."""

    municipalities: tuple[str, ...]
    regions: tuple[str, ...]
    organisations: tuple[str, ...]

    def of_type(self, recipient_type: RecipientType) -> tuple[str, ...]:
        """The codes of one recipient type."""
        if recipient_type is RecipientType.MUNICIPALITY:
            return self.municipalities
        if recipient_type is RecipientType.REGION:
            return self.regions
        return self.organisations


def luhn_completed(first_nine: str) -> str:
    """The ten digits whose last one makes the Luhn check pass."""
    for check in "0123456789":
        if luhn_is_valid(first_nine + check):
            return first_nine + check
    raise AssertionError("one of ten check digits always passes")


@cache
def recipients(organisations: int = ORGANISATIONS) -> Recipients:
    """Every recipient of the ledger (deterministic)."""
    rng = random.Random(ORGANISATION_SEED)
    numbers: set[str] = set()
    while len(numbers) < organisations:
        numbers.add(luhn_completed(ORGANISATION_PREFIX + f"{rng.randrange(10**6):06d}"))
    return Recipients(
        tuple(sorted(municipalities())), tuple(sorted(counties())), tuple(sorted(numbers))
    )
