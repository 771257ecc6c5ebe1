"""Turn one line of JSON into a validated command, or a refusal naming the field and value."""

import json
from typing import Any

import orjson
from pydantic import ValidationError

from ledger.domain.errors import LedgerError
from schemas.commands import COMMAND_ADAPTER, CommandBase


class CommandParseError(LedgerError):
    """The line is not a valid command."""


def _field_path(loc: tuple[int | str, ...]) -> str:
    # Drop the discriminator step pydantic adds for tagged unions ("AwardGrant.amounts_ore").
    parts = [str(p) for p in loc]
    if parts and parts[0][:1].isupper():
        parts = parts[1:]
    return ".".join(parts) or "(command)"


def parse_command(raw: bytes | str) -> CommandBase:
    """Validate one JSON command; raise CommandParseError with field, value and reason."""
    return validate_command(decode_command_object(raw))


class _DuplicateKey(ValueError):
    """A JSON object names one key twice."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(key)
        obj[key] = value
    return obj


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def decode_command_object(raw: bytes | str) -> dict[str, Any]:
    """The JSON object of one line (not yet validated as a command).

    A key given twice anywhere is refused, naming it: JSON leaves duplicates undefined, and
    readers differ (orjson and Python keep the last value, others the first), so one command
    could mean two things.
    """
    try:
        orjson.loads(raw)  # the reference for what valid JSON is (and its error messages)
        obj: Any = json.loads(
            raw, object_pairs_hook=_object_without_duplicates, parse_constant=_no_constants
        )
    except orjson.JSONDecodeError as exc:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        raise CommandParseError("(line)", text.strip()[:80], f"not valid JSON: {exc}") from None
    except _DuplicateKey as duplicate:
        raise CommandParseError(
            duplicate.key,
            None,
            "this key appears twice in one object: a command must mean one thing, so a "
            "duplicate key is refused",
        ) from None
    if not isinstance(obj, dict):
        raise CommandParseError("(line)", str(obj)[:80], "a command is a JSON object")
    return obj


def validate_command(obj: dict[str, Any]) -> CommandBase:
    """A decoded object as a command, or CommandParseError naming the first bad field."""
    try:
        command = COMMAND_ADAPTER.validate_python(obj)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = _field_path(tuple(first["loc"]))
        value = first.get("input")
        if first["type"] == "missing":
            value = None
        elif first["type"] in ("union_tag_invalid", "union_tag_not_found"):
            field, value = "type", obj.get("type")
        message = first["msg"]
        if first["type"] == "union_tag_invalid":
            message = f"unknown command type; expected one of {first['ctx']['expected_tags']}"
        if isinstance(value, dict | list):
            # json, not orjson: the decoder keeps integers beyond 64 bits, which orjson refuses.
            value = json.dumps(value, ensure_ascii=False)[:80]
        raise CommandParseError(field, value, message) from None
    assert isinstance(command, CommandBase)
    return command
