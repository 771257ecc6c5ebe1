"""How a setting is declared and read: `setting()` fields in frozen dataclass areas.

The settings themselves are declared in ledger/settings.py (and in an area beside the code that
uses it, such as KafkaSecurity in ledger/infrastructure/kafka/security.py, nested with `area()`).
Reading happens once, at the entry point; nothing here touches the process environment: `load`
is given the mapping to read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from schemas.errors import ConfigurationError

T = TypeVar("T")
Area = TypeVar("Area")
# A parser turns the variable's text into its value; a ValueError's text says what is expected.
Parse = Callable[[str], T]

SETTING: Final = "grant_ledger_setting"
AREA: Final = "grant_ledger_area"
HIDDEN: Final = "***"


@dataclass(frozen=True)
class Declaration:
    """How one setting is read: its variable, what it means, how its text is parsed."""

    variable: str
    meaning: str
    parse: Parse[Any]
    secret: bool


def setting(variable: str, default: T, parse: Parse[T], meaning: str, *, secret: bool = False) -> T:
    """Declare a setting field: the environment variable, its default, parser and meaning."""
    declared = Declaration(variable, meaning, parse, secret)
    return field(default=default, repr=not secret, metadata={SETTING: declared})


def area(area_type: type[Area]) -> Area:
    """Declare an area of `Settings` (a dataclass of settings), defaults when unset."""
    return field(default_factory=area_type, metadata={AREA: area_type})


# --------------------------------------------------------------------------- parsers


def text(raw: str) -> str:
    """Any non-empty text, as given."""
    return raw


def whole_number(minimum: int, maximum: int) -> Parse[int]:
    """A whole number within [minimum, maximum]."""

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("must be a whole number") from None
        if not minimum <= value <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}")
        return value

    return parse


def one_of(*choices: str) -> Parse[str]:
    """One of the given words."""

    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return raw

    return parse


def one_of_any_case(*choices: str) -> Parse[str]:
    """One of the given words, whatever the letter case of the text; returned as declared."""
    declared = {choice.casefold(): choice for choice in choices}

    def parse(raw: str) -> str:
        choice = declared.get(raw.casefold())
        if choice is None:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return choice

    return parse


def switch(raw: str) -> bool:
    """On (1, true, yes) or off (0, false, no)."""
    lowered = raw.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise ValueError("expected 1, true, yes or 0, false, no")


def directory(raw: str) -> Path:
    """A directory path (created when first written to)."""
    return Path(raw)


def file_path(raw: str) -> Path:
    """A file's path (read when the setting is used)."""
    return Path(raw)


# --------------------------------------------------------------------------- reading


def declarations(area_type: type[Any]) -> Iterator[tuple[str, Declaration]]:
    """(field name, declaration) of each setting of an area (nested areas not included)."""
    for each in dataclasses.fields(area_type):
        declared = each.metadata.get(SETTING)
        if declared is None:
            assert AREA in each.metadata, f"{area_type.__name__}.{each.name}: no setting()/area()"
            continue
        assert isinstance(declared, Declaration)
        yield each.name, declared


def nested_areas(area_type: type[Any]) -> Iterator[tuple[str, type[Any]]]:
    """(field name, area type) of each area inside an area (or inside the root `Settings`)."""
    for each in dataclasses.fields(area_type):
        if AREA in each.metadata:
            yield each.name, each.metadata[AREA]


def load(area_type: type[Area], environ: Mapping[str, str]) -> Area:
    """An area (and the areas inside it) from the environment; a value that does not parse is a
    ConfigurationError naming the variable."""
    values: dict[str, Any] = {
        name: load(nested, environ) for name, nested in nested_areas(area_type)
    }
    for name, declared in declarations(area_type):
        raw = environ.get(declared.variable, "")
        if raw == "":
            continue
        try:
            values[name] = declared.parse(raw)
        except ValueError as exc:
            shown = HIDDEN if declared.secret else raw
            raise ConfigurationError(declared.variable, shown, str(exc)) from None
    return area_type(**values)


def overridden(settings_area: Area, **flags: Any) -> Area:
    """The area with the flags that were given (not None, not empty) in place of its values."""
    given = {name: value for name, value in flags.items() if value is not None and value != ""}
    return dataclasses.replace(settings_area, **given)  # type: ignore[type-var]


def every_declaration(root: type[Any]) -> dict[str, Declaration]:
    """Every variable an area and the areas inside it read, with its declaration."""
    found = {declared.variable: declared for _, declared in declarations(root)}
    for _, nested in nested_areas(root):
        for variable, declared in every_declaration(nested).items():
            assert variable not in found, f"{variable} declared twice"
            found[variable] = declared
    return found


def _shown(default: Any) -> str:
    if default is None:
        return "unset"
    if isinstance(default, bool):
        return f"`{int(default)}`"
    return f"`{default}`"


def markdown_table(*area_types: type[Any]) -> str:
    """The README's table of the areas' variables (nested ones after their area's own)."""
    lines = ["| variable | meaning | default |", "|---|---|---|"]

    def rows(area_type: type[Any]) -> None:
        defaults = area_type()
        for name, declared in declarations(area_type):
            default = getattr(defaults, name)
            lines.append(f"| `{declared.variable}` | {declared.meaning} | {_shown(default)} |")
        for _, nested in nested_areas(area_type):
            rows(nested)

    for area_type in area_types:
        rows(area_type)
    return "\n".join(lines) + "\n"
