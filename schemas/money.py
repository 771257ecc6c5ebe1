"""Money in the contract: integer öre, never float."""

from typing import Annotated

from pydantic import Field, StrictInt

# 10^15 öre = 10 000 000 000 000 kr: above any Swedish appropriation, and far inside int64, so
# every amount (and any sum of a year's amounts) fits the replay store's fixed-width columns.
MAX_AMOUNT_ORE = 10**15
ORE_PER_SEK = 100

NonNegativeOre = Annotated[StrictInt, Field(ge=0, le=MAX_AMOUNT_ORE)]
PositiveOre = Annotated[StrictInt, Field(gt=0, le=MAX_AMOUNT_ORE)]
SignedOre = Annotated[StrictInt, Field(ge=-MAX_AMOUNT_ORE, le=MAX_AMOUNT_ORE)]


def format_sek(amount_ore: int) -> str:
    """Render öre as Swedish kronor text, e.g. ``1 350 000 000,00 kr``."""
    sign = "-" if amount_ore < 0 else ""
    kronor, ore = divmod(abs(amount_ore), ORE_PER_SEK)
    grouped = f"{kronor:,}".replace(",", " ")
    return f"{sign}{grouped},{ore:02d} kr"
