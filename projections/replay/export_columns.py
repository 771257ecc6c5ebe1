"""Replay columns from a batch of an export's event table (a column source for the engine).

Everything is converted column-wise, `data` included: the batch was proven first, so each
`data` is exactly the canonical JSON the chain hashed (orjson, sorted keys, no whitespace), in
which a key such as `"amount_ore":` can only stand where that member is (a quote inside a string
is escaped). The members are read by a C scanner over the column's buffers
(projections/replay/data_members.c: the meaning of a regular expression a member, without
Arrow's regex engine), in one call a batch that walks each row's `data` once.
Which field holds a kind's money, and whether it is one year or a map of years, is the event
type's declared meaning (schemas/meaning.py, through projections.domain.kinds); the tests hold
these columns to projections.domain.facts, the projector's decoder. Events of an older schema
version go through that decoder (upcast) one by one.
"""

from __future__ import annotations

import binascii
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ledger.audit.event_table import column_buffers, column_bytes
from projections.domain.facts import current_data
from projections.domain.kinds import KIND_COUNT, MEANING_OF_KIND, EventKind, kind_of
from projections.replay.columns import Dictionaries, ReplayColumns
from projections.replay.data_members import (
    READ_NOTHING,
    READ_ONE_YEAR,
    READ_YEAR_MAP,
    row_members,
)
from projections.replay.layout import HASH_PREFIX_HEX_CHARS
from schemas.events import EVENT_SCHEMA_VERSION
from schemas.meaning import YEAR_FIELD, Span

I64 = npt.NDArray[np.int64]
# kind -> (the member holding its öre, one year with `year` | a map of years): declared once.
AMOUNT_FIELDS: Final[dict[EventKind, tuple[str, Span]]] = {
    kind: (meaning.amount_field, meaning.span)
    for kind, meaning in MEANING_OF_KIND.items()
    if meaning.amount_field is not None and meaning.span is not None
}
# The member of the kinds whose money is a map of years (read with one expression).
(YEARS_FIELD,) = {field for field, span in AMOUNT_FIELDS.values() if span is Span.YEARS}
# The members holding one year's amount, in the order the scanner takes their keys.
ONE_YEAR_FIELDS: Final = tuple(
    sorted({field for field, span in AMOUNT_FIELDS.values() if span is Span.ONE_YEAR})
)


def _reads_of_kind() -> npt.NDArray[np.uint8]:
    """What the scanner reads of a row, by its kind's code: its one year (its amount field's
    code), its map of years, or nothing beyond the recipient."""
    reads = np.full(KIND_COUNT, READ_NOTHING, dtype=np.uint8)
    for kind, (field, span) in AMOUNT_FIELDS.items():
        if span is Span.YEARS:
            reads[kind] = READ_YEAR_MAP
        else:
            reads[kind] = READ_ONE_YEAR + ONE_YEAR_FIELDS.index(field)
    return reads


READS_OF_KIND: Final = _reads_of_kind()
# Kinds that put an agency in charge, with the member that names it.
AGENCY_FIELDS: Final[dict[EventKind, str]] = {
    kind: meaning.agency_field
    for kind, meaning in MEANING_OF_KIND.items()
    if meaning.agency_field is not None
}
TIMELINE_KIND: Final = np.isin(np.arange(KIND_COUNT), [int(kind) for kind in AGENCY_FIELDS])


def _codes(column: pa.Array, code_of: Any) -> I64:
    """A string column (or a dictionary array of strings) as dictionary codes: each distinct
    value looked up once (null: 0)."""
    encoded = column if pa.types.is_dictionary(column.type) else pc.dictionary_encode(column)
    # A slot past the values' codes holds null's: a null's index is filled to point at it.
    table = np.array([*map(code_of, encoded.dictionary.to_pylist()), 0], dtype=np.int64)
    indices = encoded.indices
    if indices.null_count:
        indices = pc.fill_null(indices, len(table) - 1)
    codes: I64 = table[np.asarray(indices)]
    return codes


def _key(name: str) -> bytes:
    return f'"{name}":'.encode()


MEMBER_KEYS: Final = (
    _key("recipient"),
    _key(YEARS_FIELD),
    _key(YEAR_FIELD),
    tuple(_key(field) for field in ONE_YEAR_FIELDS),
)


def _members(data: pa.Array, reads: npt.NDArray[np.uint8]) -> tuple[I64, I64, I64, pa.Array]:
    """(posting count per event, years, amounts) in event order, as the decoder's postings,
    and each row's `recipient` string (null where it has none): one walk over each `data`."""
    counts, years, amounts, offsets, found, strings = row_members(
        column_buffers(data), reads, *MEMBER_KEYS
    )
    validity = np.packbits(np.frombuffer(found, np.bool_), bitorder="little")
    recipients = pa.StringArray.from_buffers(
        len(data), pa.py_buffer(offsets), pa.py_buffer(strings), pa.py_buffer(validity)
    )
    return (
        np.frombuffer(counts, np.int64),
        np.frombuffer(years, np.int64),
        np.frombuffer(amounts, np.int64),
        recipients,
    )


def _hash_prefixes(hashes: pa.Array) -> npt.NDArray[np.uint64]:
    """The first 8 bytes of each hex hash as a big-endian integer (the replay store's prefix)."""
    buffer, offsets = column_bytes(hashes)
    if not len(hashes):
        return np.zeros(0, dtype=">u8")
    widths = np.diff(offsets)
    assert (widths >= HASH_PREFIX_HEX_CHARS).all(), "the proof let through a hash too short"
    if (widths == widths[0]).all():
        # Every hash its 64 digits (as the proof holds them): the prefixes are a strided slice.
        rows = buffer[offsets[0] : offsets[-1]].reshape(len(hashes), int(widths[0]))
        digits = rows[:, :HASH_PREFIX_HEX_CHARS]
    else:
        digits = buffer[offsets[:-1, None].astype(np.int64) + np.arange(HASH_PREFIX_HEX_CHARS)]
    try:
        raw = binascii.unhexlify(np.ascontiguousarray(digits).tobytes())
    except binascii.Error:
        raise AssertionError("the proof let through a hash that is not hex") from None
    return np.frombuffer(raw, dtype=">u8")


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
        postings[row] = MEANING_OF_KIND[EventKind(int(kinds[row]))].postings(data)
    return postings


def batch_columns(batch: pa.RecordBatch, dictionaries: Dictionaries) -> ReplayColumns:
    """The batch's events as replay columns (in the batch's order), codes in `dictionaries`."""
    data = batch.column("data")
    positions = np.asarray(batch.column("position"), dtype=np.int64)
    recorded_at_us = np.asarray(batch.column("recorded_at").cast(pa.int64()), dtype=np.int64)
    effective_day = np.asarray(batch.column("effective_date").cast(pa.int32()), dtype=np.int64)
    hash_prefix = _hash_prefixes(batch.column("hash"))
    kinds = _codes(batch.column("type"), lambda name: int(kind_of(name)))
    programmes = _codes(batch.column("programme_id"), dictionaries.programmes.code)
    current = np.asarray(batch.column("schema_version")) == EVENT_SCHEMA_VERSION
    reads = READS_OF_KIND[kinds]
    # An older schema version's map of years is read by the decoder's upcast instead.
    reads[~current & (reads == READ_YEAR_MAP)] = READ_NOTHING
    counts, years, amounts, recipient_names = _members(data, reads)
    recipients = _codes(recipient_names, dictionaries.recipients.code)
    old = np.flatnonzero(~current)
    if len(old):
        counts, years, amounts = _with_upcast(
            counts, years, amounts, _upcast_rows(batch, old, kinds, recipients, dictionaries)
        )
    timeline_rows = np.flatnonzero(TIMELINE_KIND[kinds])
    agencies = [
        dictionaries.agencies.code(
            orjson.loads(data[row].as_py())[AGENCY_FIELDS[EventKind(int(kinds[row]))]]
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
