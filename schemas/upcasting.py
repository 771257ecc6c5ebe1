"""Upcasters: read an event's `data` written under an older schema_version as the current one.

Stored events and messages on the topic are never rewritten. When an event type changes in a way
schemas.compatibility calls breaking, its schema_version goes up and an upcaster from the old
version is registered here, keyed by (type, from_version): a pure function from the old `data`
dict to the next version's. A version step without an upcaster is one the compatibility test
found compatible, so the old data already is valid new data. Empty today: every type is at v1.
"""

from collections.abc import Callable, Mapping
from typing import Any

from schemas.events import EVENT_SCHEMA_VERSION

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

UPCASTERS: dict[tuple[str, int], Upcaster] = {}


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register the decorated function as the upcaster of `event_type` from `from_version`."""

    def register(function: Upcaster) -> Upcaster:
        key = (event_type, from_version)
        if key in UPCASTERS:
            raise ValueError(f"an upcaster for {event_type} v{from_version} is already registered")
        UPCASTERS[key] = function
        return function

    return register


def upcast(
    event_type: str,
    version: int,
    data: Mapping[str, Any],
    to_version: int = EVENT_SCHEMA_VERSION,
) -> dict[str, Any]:
    """`data` of `event_type` at `version`, brought up to `to_version` one step at a time."""
    if version > to_version:
        raise ValueError(f"{event_type} v{version} is newer than v{to_version}: cannot downcast")
    current = dict(data)
    for step in range(version, to_version):
        step_upcaster = UPCASTERS.get((event_type, step))
        if step_upcaster is not None:
            current = step_upcaster(current)
    return current
