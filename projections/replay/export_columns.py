"""Replay columns from a batch of an export's event table (a column source for the engine).

Everything is converted column-wise, `data` included: the batch was proven first, so each
`data` is exactly the canonical JSON the chain hashed (orjson, sorted keys, no whitespace), in
which a key such as `"amount_ore":` can only stand where that member is (a quote inside a string
is escaped). The amounts are read with one regular expression per field over the whole column.
Which field holds a kind's money, and whether it is one year or a map of years, is declared in
AMOUNT_FIELDS below, checked at import against the kinds that move a measure
(projections.domain.kinds) and in the tests against projections.domain.facts, the projector's
decoder. Events of an older schema version go through that decoder (upcast) one by one.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from projections.domain.facts import current_data, postings_of, timeline_agency_of
from projections.domain.kinds import MEASURE_OF_KIND, EventKind, kind_of
from projections.replay.columns import Dictionaries, ReplayColumns
from projections.replay.layout import HASH_PREFIX_HEX_CHARS
from schemas.events import EVENT_SCHEMA_VERSION

I64 = npt.NDArray[np.int64]
YEARS_MAP: Final = "years"
# kind -> (the member holding its öre, "one year" with `year` | a map of years).
AMOUNT_FIELDS: Final[dict[EventKind, tuple[str, str]]] = {
    EventKind.APPLICATION_SUBMITTED: ("amounts_ore", YEARS_MAP),
    EventKind.GRANT_AWARDED: ("amounts_ore", YEARS_MAP),
    EventKind.GRANT_EXTENDED: ("amounts_ore", YEARS_MAP),
    EventKind.AWARD_AMENDED: ("change_ore", "one year"),
    EventKind.APPROPRIATION_AMENDED: ("change_ore", "one year"),
    EventKind.FUNDS_DISBURSED: ("amount_ore", "one year"),
    EventKind.FUNDS_RECOVERED: ("amount_ore", "one year"),
    EventKind.APPROPRIATION_SET: ("amount_ore", "one year"),
}
assert AMOUNT_FIELDS.keys() == MEASURE_OF_KIND.keys(), "every kind that moves money needs its field"
TIMELINE_KINDS: Final = frozenset(
    {EventKind.PROGRAMME_ESTABLISHED, EventKind.PROGRAMME_HANDED_OVER}
)


def _codes(column: pa.Array, code_of: Any) -> I64:
    """A string column as dictionary codes: each distinct value looked up once (null: 0)."""
    encoded = pc.dictionary_encode(column)
    table = np.array([code_of(v) for v in encoded.dictionary.to_pylist()], dtype=np.int64)
    indices = np.asarray(pc.fill_null(encoded.indices, -1), dtype=np.int64)
    if not len(table):
        return np.zeros(len(indices), dtype=np.int64)
    return np.where(indices >= 0, table[np.maximum(indices, 0)], 0)


def _member(data: pa.Array, pattern: str) -> pa.Array:
    return pc.struct_field(pc.extract_regex(data, pattern), [0])


def _integer(data: pa.Array, name: str) -> I64:
    found = _member(data, f'"{name}":(?P<v>-?[0-9]+)')
    return np.asarray(pc.fill_null(found.cast(pa.int64()), 0), dtype=np.int64)


def _postings(data: pa.Array, kinds: I64) -> tuple[I64, I64, I64]:
    """(posting count per event, years, amounts) in event order, as facts.postings_of gives."""
    counts = np.zeros(len(kinds), dtype=np.int64)
    one_year = np.zeros(len(kinds), dtype=np.bool_)
    amount = np.zeros(len(kinds), dtype=np.int64)
    for field in sorted({f for f, span in AMOUNT_FIELDS.values() if span != YEARS_MAP}):
        rows = np.isin(kinds, [k for k, (f, _) in AMOUNT_FIELDS.items() if f == field])
        if rows.any():
            amount[rows] = _integer(data.filter(pa.array(rows)), field)
            one_year |= rows
    year = _integer(data, "year")
    counts[one_year] = 1
    multi = np.isin(kinds, [k for k, (_, span) in AMOUNT_FIELDS.items() if span == YEARS_MAP])
    pairs_years, pairs_amounts = np.empty(0, np.int64), np.empty(0, np.int64)
    if multi.any():
        inner = _member(data.filter(pa.array(multi)), r'"amounts_ore":\{(?P<m>[^}]*)\}')
        lists = pc.split_pattern(inner, ",")
        lengths = np.asarray(pc.list_value_length(lists), dtype=np.int64)
        pairs = pc.extract_regex(pc.list_flatten(lists), r'^"(?P<y>[0-9]+)":(?P<a>-?[0-9]+)$')
        pairs_years = np.asarray(pc.struct_field(pairs, [0]).cast(pa.int64()), dtype=np.int64)
        pairs_amounts = np.asarray(pc.struct_field(pairs, [1]).cast(pa.int64()), dtype=np.int64)
        counts[multi] = lengths
    starts = np.cumsum(counts) - counts
    years = np.zeros(int(counts.sum()), dtype=np.int64)
    amounts = np.zeros(len(years), dtype=np.int64)
    years[starts[one_year]] = year[one_year]
    amounts[starts[one_year]] = amount[one_year]
    if len(pairs_years):
        lengths = counts[multi]
        within = np.arange(len(pairs_years)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        slots = np.repeat(starts[multi], lengths) + within
        years[slots], amounts[slots] = pairs_years, pairs_amounts
    return counts, years, amounts


def _upcast_rows(
    batch: pa.RecordBatch, rows: I64, kinds: I64, recipients: I64, dictionaries: Dictionaries
) -> dict[int, tuple[tuple[int, int], ...]]:
    """Events of an older schema version: decoded one by one through the projector's decoder."""
    postings = {}
    for row in rows.tolist():
        envelope = {
            "type": batch.column("type")[row].as_py(),
            "schema_version": batch.column("schema_version")[row].as_py(),
            "data": orjson.loads(batch.column("data")[row].as_py()),
        }
        data = current_data(envelope)
        recipient = data.get("recipient")
        recipients[row] = (
            dictionaries.recipients.code(recipient) if isinstance(recipient, str) else 0
        )
        postings[row] = postings_of(EventKind(int(kinds[row])), data)
    return postings


def batch_columns(batch: pa.RecordBatch, dictionaries: Dictionaries) -> ReplayColumns:
    """The batch's events as replay columns (in the batch's order), codes in `dictionaries`."""
    data = batch.column("data")
    positions = np.asarray(batch.column("position"), dtype=np.int64)
    recorded_at_us = np.asarray(batch.column("recorded_at").cast(pa.int64()), dtype=np.int64)
    effective_day = np.asarray(batch.column("effective_date").cast(pa.int32()), dtype=np.int64)
    prefixes = pc.utf8_slice_codeunits(batch.column("hash"), 0, HASH_PREFIX_HEX_CHARS)
    hash_prefix = np.frombuffer(bytes.fromhex("".join(prefixes.to_pylist())), dtype=">u8")
    kinds = _codes(batch.column("type"), lambda name: int(kind_of(name)))
    programmes = _codes(batch.column("programme_id"), dictionaries.programmes.code)
    recipients = _codes(_member(data, '"recipient":"(?P<r>[^"]*)"'), dictionaries.recipients.code)
    counts, years, amounts = _postings(data, kinds)
    old = np.flatnonzero(np.asarray(batch.column("schema_version")) != EVENT_SCHEMA_VERSION)
    if len(old):
        counts, years, amounts = _with_upcast(
            counts, years, amounts, _upcast_rows(batch, old, kinds, recipients, dictionaries)
        )
    timeline_rows = np.flatnonzero(np.isin(kinds, [int(k) for k in TIMELINE_KINDS]))
    agencies = [
        dictionaries.agencies.code(
            str(timeline_agency_of(EventKind(int(kinds[row])), orjson.loads(data[row].as_py())))
        )
        for row in timeline_rows.tolist()
    ]
    events = {
        "position": positions,
        "recorded_at_us": recorded_at_us,
        "hash_prefix": hash_prefix,
        "effective_day": effective_day,
        "recipient": recipients,
        "programme": programmes,
        "kind": kinds,
        "posting_count": counts,
    }
    timeline = {
        "position": positions[timeline_rows],
        "recorded_at_us": recorded_at_us[timeline_rows],
        "effective_day": effective_day[timeline_rows],
        "programme": programmes[timeline_rows],
        "agency": np.array(agencies, dtype=np.int64),
    }
    return ReplayColumns.of_tables(events, {"year": years, "amount_ore": amounts}, timeline)


def _with_upcast(
    counts: I64, years: I64, amounts: I64, upcast: dict[int, tuple[tuple[int, int], ...]]
) -> tuple[I64, I64, I64]:
    """The postings with the upcast events' own in their place."""
    starts = np.cumsum(counts) - counts
    per_event = [
        list(zip(years[s : s + c].tolist(), amounts[s : s + c].tolist(), strict=True))
        for s, c in zip(starts.tolist(), counts.tolist(), strict=True)
    ]
    for row, postings in upcast.items():
        per_event[row] = list(postings)
    flat = [posting for postings in per_event for posting in postings]
    return (
        np.array([len(p) for p in per_event], dtype=np.int64),
        np.array([y for y, _ in flat], dtype=np.int64),
        np.array([a for _, a in flat], dtype=np.int64),
    )
