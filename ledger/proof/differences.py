"""What differs between two versions of one envelope, field by field (for forks and verify)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

CHAIN_FIELDS = frozenset({"prev_hash", "hash"})
MAX_DIFFERENCES_SHOWN = 5


def field_differences(
    left: Mapping[str, Any], right: Mapping[str, Any], names: tuple[str, str], prefix: str = ""
) -> list[str]:
    """`path: left-name L vs right-name R` for each differing leaf, chain fields last."""
    found: list[str] = []
    for key in sorted(set(left) | set(right), key=lambda k: (k in CHAIN_FIELDS, k)):
        a, b = left.get(key), right.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            found += field_differences(a, b, names, f"{prefix}{key}.")
        elif a != b:
            found.append(f"{prefix}{key}: {names[0]} {a!r} vs {names[1]} {b!r}")
    return found


def describe_differences(
    left: Mapping[str, Any], right: Mapping[str, Any], names: tuple[str, str]
) -> str:
    """The first few differences, joined; says when there are more."""
    found = field_differences(left, right, names)
    shown = "; ".join(found[:MAX_DIFFERENCES_SHOWN]) or "no field differs"
    more = len(found) - MAX_DIFFERENCES_SHOWN
    return shown + (f" (and {more} more)" if more > 0 else "")


def loads_or_empty(value: bytes | None) -> dict[str, Any]:
    """A JSON object from bytes, or {} when it is none (for explaining, never for applying)."""
    try:
        parsed = orjson.loads(value or b"")
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
