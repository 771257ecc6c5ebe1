"""Identifier formats shared by commands and events."""

from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

IDENTIFIER_MAX_CHARS = 128
TEXT_MAX_CHARS = 2_000

# Client-chosen ids (programme, application, command): printable, no whitespace, so they are safe
# as Kafka keys, file names and URL path segments.
Identifier = Annotated[
    str,
    StringConstraints(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/+-]*$", min_length=1, max_length=IDENTIFIER_MAX_CHARS
    ),
]
# An agency is a lower-case slug: tillvaxtverket, delmos, ...
AgencySlug = Annotated[
    str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]*$", min_length=2, max_length=64)
]


def ascii_digits(value: str) -> str:
    """Refuse digits of other scripts: pydantic's \\d also matches Arabic-Indic or fullwidth
    digits, which would make a second code that reads like the first (the published JSON
    Schema's \\d is ASCII already, as ECMA-262 defines it)."""
    if not value.isascii():
        raise ValueError(f"digits must be ASCII 0-9, got {value!r}")
    return value


RecipientCode = Annotated[
    str,
    StringConstraints(pattern=r"^\d{2}$|^\d{4}$|^\d{10}$"),
    AfterValidator(ascii_digits),
]
Text = Annotated[
    str, StringConstraints(min_length=1, max_length=TEXT_MAX_CHARS, strip_whitespace=True)
]
Reference = Annotated[
    str, StringConstraints(min_length=1, max_length=IDENTIFIER_MAX_CHARS, strip_whitespace=True)
]
CostSharePercent = Annotated[int, Field(ge=1, le=100, strict=True)]
MaxYearsPerDecision = Annotated[int, Field(ge=1, le=10, strict=True)]
