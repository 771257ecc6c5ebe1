"""A programme's grants by application id; grants read from a snapshot decode when first used.

A programme of a million events holds tens of thousands of grants, and one command touches one
of them: decoding every grant of a snapshot would make a cold command cost grow with the
programme's size. The book keeps each snapshot grant as its stored row (JSON bytes) until a
command reads it, and writes untouched rows back into the next snapshot as they are.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import orjson

from ledger.domain.grant import Grant, GrantStatus

Codec = tuple[Callable[[Any], Any], Callable[[Any], Any]]


def same(value: Any) -> Any:
    """Values JSON already holds as they are."""
    return value


def year_pairs(amounts: dict[int, int]) -> list[list[int]]:
    """Per-year amounts as [[year, öre], ...] (JSON object keys would be strings)."""
    return [[year, amount] for year, amount in amounts.items()]


def year_dict(pairs: list[list[int]]) -> dict[int, int]:
    """[[year, öre], ...] back to per-year amounts, in the same order."""
    return {int(year): int(amount) for year, amount in pairs}


# One codec per Grant field, in the order of a stored row; `check_grant_codecs` proves the table
# covers the dataclass exactly.
GRANT_CODECS: dict[str, Codec] = {
    "application_id": (same, same),
    "recipient": (same, same),
    "recipient_type": (same, same),
    "requested_ore": (year_pairs, year_dict),
    "total_cost_ore": (same, same),
    "status": (lambda status: status.value, GrantStatus),
    "awarded_ore": (year_pairs, year_dict),
    "disbursed_ore": (year_pairs, year_dict),
    "recovered_ore": (year_pairs, year_dict),
    "conditions": (list, list),
}
GRANT_FIELDS = tuple(GRANT_CODECS)
_CODECS = tuple(GRANT_CODECS.items())
_DECODERS = tuple(decode for _, decode in GRANT_CODECS.values())


def check_grant_codecs() -> None:
    """Fail loudly when a Grant field has no codec (or a codec no field)."""
    fields = tuple(field.name for field in dataclasses.fields(Grant))
    assert fields == GRANT_FIELDS, f"Grant fields {fields} != snapshot row fields {GRANT_FIELDS}"


def grant_row(grant: Grant) -> bytes:
    """One grant as its stored row: a JSON array in GRANT_FIELDS order, without newlines."""
    return orjson.dumps([encode(getattr(grant, name)) for name, (encode, _) in _CODECS])


def grant_from_row(row: bytes) -> Grant:
    """A stored row back to its grant."""
    values = orjson.loads(row)
    assert isinstance(values, list) and len(values) == len(_DECODERS), f"bad grant row {row[:80]!r}"
    return Grant(*(decode(value) for decode, value in zip(_DECODERS, values, strict=True)))


class GrantBook(MutableMapping[str, Grant]):
    """Grants by application id, in the order they were submitted."""

    __slots__ = ("_entries",)

    def __init__(self, rows: dict[str, bytes] | None = None) -> None:
        """An empty book, or one over stored rows (the book takes the dict over, uncopied)."""
        # A value is a Grant once read, or its stored row until then.
        self._entries: dict[str, Grant | bytes] = {}
        if rows:
            # The values widen from bytes to Grant | bytes as grants are read.
            self._entries = rows  # type: ignore[assignment]

    def __getitem__(self, application_id: str) -> Grant:
        entry = self._entries[application_id]
        if isinstance(entry, bytes):
            entry = grant_from_row(entry)
            assert entry.application_id == application_id, (application_id, entry.application_id)
            self._entries[application_id] = entry
        return entry

    def __setitem__(self, application_id: str, grant: Grant) -> None:
        assert grant.application_id == application_id, (application_id, grant.application_id)
        self._entries[application_id] = grant

    def __delitem__(self, application_id: str) -> None:
        del self._entries[application_id]

    def __contains__(self, application_id: object) -> bool:
        return application_id in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"GrantBook({len(self._entries)} grants)"

    def rows(self) -> Iterator[bytes]:
        """Every grant as its stored row, re-encoding only the grants read since loading."""
        for entry in self._entries.values():
            yield entry if isinstance(entry, bytes) else grant_row(entry)
