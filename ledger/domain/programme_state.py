"""A Programme's whole state as bytes, and back: what a snapshot holds.

Layout: one JSON line with the programme's own attributes and its grants' application ids,
then one line per grant (its stored row, see grant_book). Each attribute the events build has one
codec below; encoding asserts the table covers every attribute of the Programme, so a new piece
of state cannot be left out of snapshots silently. Dict order survives the round trip.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import orjson

from ledger.domain.grant_book import (
    Codec,
    GrantBook,
    check_grant_codecs,
    same,
    year_dict,
    year_pairs,
)
from ledger.domain.programme import Programme
from ledger.domain.recorded import format_utc
from schemas.recipients import RecipientType

# Decided-but-not-saved bookkeeping: never part of a snapshot.
TRANSIENT_ATTRIBUTES = frozenset({"_pending", "_undo"})
GRANT_IDS_KEY = "grant_ids"
ROW_SEPARATOR = b"\n"


def _optional_codes(codes: frozenset[str] | None) -> list[str] | None:
    return None if codes is None else sorted(codes)


def _optional_frozenset(codes: list[str] | None) -> frozenset[str] | None:
    return None if codes is None else frozenset(codes)


def _timeline(timeline: list[tuple[date, str]]) -> list[list[str]]:
    return [[since.isoformat(), agency] for since, agency in timeline]


def _timeline_back(pairs: list[list[str]]) -> list[tuple[date, str]]:
    return [(date.fromisoformat(since), agency) for since, agency in pairs]


# Every Programme attribute except `grants` (stored as rows) and the transient ones.
PROGRAMME_CODECS: dict[str, Codec] = {
    "id": (same, same),
    "version": (same, same),
    "name": (same, same),
    "ordinance": (same, same),
    "first_year": (same, same),
    "last_year": (same, same),
    "recipient_types": (
        lambda types: sorted(t.value for t in types),
        lambda values: frozenset(RecipientType(v) for v in values),
    ),
    "eligible": (_optional_codes, _optional_frozenset),
    "max_years_per_decision": (same, same),
    "cost_share_cap_percent": (same, same),
    "agency": (same, same),
    "agency_timeline": (_timeline, _timeline_back),
    "latest_effective_date": (date.isoformat, date.fromisoformat),
    "last_recorded_at": (format_utc, datetime.fromisoformat),
    "appropriated_ore": (year_pairs, year_dict),
    "awarded_ore": (year_pairs, year_dict),
}


def check_state_codecs(programme: Programme) -> None:
    """Fail loudly when a Programme attribute or Grant field has no codec."""
    attributes = set(vars(programme)) - TRANSIENT_ATTRIBUTES - {"grants"}
    assert attributes == set(PROGRAMME_CODECS), (
        "Programme attributes without a snapshot codec (or codecs without an attribute): "
        f"{sorted(attributes ^ set(PROGRAMME_CODECS))}"
    )
    check_grant_codecs()


def encode_programme(programme: Programme) -> bytes:
    """The programme's saved state (nothing decided-but-unsaved may be pending)."""
    check_state_codecs(programme)
    assert not programme._pending, f"{programme.id}: unsaved events cannot be part of a snapshot"
    head: dict[str, Any] = {
        name: encode(getattr(programme, name)) for name, (encode, _) in PROGRAMME_CODECS.items()
    }
    head[GRANT_IDS_KEY] = list(programme.grants)
    return ROW_SEPARATOR.join([orjson.dumps(head), *programme.grants.rows()])


def decode_programme(payload: bytes) -> Programme:
    """The programme `encode_programme` described; grants decode when first used."""
    return decode_programme_lines(payload.split(ROW_SEPARATOR))


def decode_programme_lines(lines: list[bytes]) -> Programme:
    """`decode_programme` of a payload already split into its lines (one pass over the bytes)."""
    head = orjson.loads(lines[0])
    grant_ids = head.pop(GRANT_IDS_KEY)
    assert set(head) == set(PROGRAMME_CODECS), f"state fields {sorted(head)}"
    rows = lines[1:]
    assert len(rows) == len(grant_ids), f"{len(rows)} grant rows for {len(grant_ids)} ids"
    programme = Programme.__new__(Programme)
    for name, (_, decode) in PROGRAMME_CODECS.items():
        setattr(programme, name, decode(head[name]))
    programme.grants = GrantBook(dict(zip(grant_ids, rows, strict=True)))
    programme._pending = []
    programme._undo = []
    check_state_codecs(programme)
    return programme
