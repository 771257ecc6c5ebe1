"""Official recipient codes (kommunkod, länskod, organisationsnummer) and the reference data."""

import csv
from enum import StrEnum
from functools import cache
from importlib import resources

KOMMUNKOD_DIGITS = 4
LANSKOD_DIGITS = 2
ORGANISATIONSNUMMER_DIGITS = 10


class RecipientType(StrEnum):
    """Who may receive a grant."""

    MUNICIPALITY = "municipality"
    REGION = "region"
    ORGANISATION = "organisation"


def _read_reference(file_name: str) -> list[dict[str, str]]:
    text = resources.files("schemas").joinpath("reference", file_name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def municipalities() -> dict[str, str]:
    """The 290 municipalities: kommunkod -> name."""
    return {row["kommunkod"]: row["name"] for row in _read_reference("municipalities.csv")}


@cache
def counties() -> dict[str, str]:
    """The 21 counties/regions: länskod -> name."""
    return {row["lan_code"]: row["county_name"] for row in _read_reference("counties.csv")}


@cache
def municipality_counties() -> dict[str, str]:
    """The 290 municipalities: kommunkod -> the länskod of their county."""
    return {row["kommunkod"]: row["lan_code"] for row in _read_reference("municipalities.csv")}


@cache
def eligible_sfs_2018_151() -> tuple[str, ...]:
    """The 32 municipalities in the annex of SFS 2018:151."""
    return tuple(row["kommunkod"] for row in _read_reference("eligible_sfs_2018_151.csv"))


def luhn_is_valid(digits: str) -> bool:
    """True when the digit string passes the Luhn (mod 10) check used by organisationsnummer."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def recipient_code_problem(code: str, recipient_type: RecipientType) -> str | None:
    """Why `code` is not a valid code for `recipient_type`, or None when it is."""
    if recipient_type is RecipientType.MUNICIPALITY:
        if len(code) != KOMMUNKOD_DIGITS or not code.isdigit():
            return f"a municipality is a 4-digit kommunkod, got {code!r}"
        if code not in municipalities():
            return f"unknown kommunkod {code!r} (not one of Sweden's 290 municipalities)"
        return None
    if recipient_type is RecipientType.REGION:
        if len(code) != LANSKOD_DIGITS or not code.isdigit():
            return f"a region is a 2-digit länskod, got {code!r}"
        if code not in counties():
            return f"unknown länskod {code!r} (not one of Sweden's 21 regions)"
        return None
    if len(code) != ORGANISATIONSNUMMER_DIGITS or not code.isdigit():
        return f"an organisation is a 10-digit organisationsnummer without dash, got {code!r}"
    if not luhn_is_valid(code):
        return f"organisationsnummer {code!r} fails its check digit"
    return None


def recipient_name(code: str) -> str | None:
    """The official name of a municipality or region code, when it is one."""
    return municipalities().get(code) or counties().get(code)


def recipient_display_name(code: str) -> str:
    """A name for any recipient code: the municipality or region, else the organisation number."""
    name = recipient_name(code)
    if name is not None:
        return name
    if len(code) == ORGANISATIONSNUMMER_DIGITS:
        return f"Organisation {code[:6]}-{code[6:]}"
    return code
