"""The engine's typed columns of a Parquet export, and their proof against the hashed `data`.

A Parquet export (manifest version 2) carries, beside every envelope field, what the replay
engine reads out of `data`: `recipient`, `postings` (the (year, öre) pairs the event type's
declared meaning gives, schemas/meaning.py) and where in `data` (the byte offset of the member's
`"key":`) its amount, recipient and year stand. The offline replay then needs no JSON parsing an
event. The chain hashes `data`, not these columns, so they are proven before they are trusted:
from the columns, each row's expected member text (`"recipient":"0180"`, `"amount_ore":500`,
`"amounts_ore":{"2019":1,"2020":2}`, `"year":2019`) is built with Arrow's string kernels and
compared byte for byte with `data` at the stated offset, followed by `,` or `}`; which members
a row must have follows from its (hashed) `type`. Such a text can stand in canonical JSON only
as that member: inside a string its quotes would be escaped, and version-1 data nests no
object but year maps, whose keys are years. Rows of an older schema version (their typed
columns hold the upcast values) are compared one by one with what the export would write.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from ledger.audit.event_table import (
    EVENT_SCHEMA,
    REPEATING_COLUMNS,
    column_bytes,
    event_batch,
)
from schemas.events import EVENT_SCHEMA_VERSION, EVENT_TYPES, EventData, event_type_name
from schemas.meaning import YEAR_FIELD, Meaning, Span
from schemas.upcasting import upcast

RECIPIENT_FIELD: Final = "recipient"
POSTING_TYPE: Final = pa.struct(
    [
        pa.field(YEAR_FIELD, pa.int64(), nullable=False),
        pa.field("amount_ore", pa.int64(), nullable=False),
    ]
)
TYPED_FIELDS: Final = (
    pa.field(RECIPIENT_FIELD, pa.string(), nullable=True),
    pa.field("postings", pa.list_(pa.field("element", POSTING_TYPE, nullable=False)), False),
    # Byte offsets into `data` of a member's `"key":` (null when the row has no such member or
    # is of an older schema version).
    pa.field("amount_at", pa.int32(), nullable=True),
    pa.field("recipient_at", pa.int32(), nullable=True),
    pa.field("year_at", pa.int32(), nullable=True),
)
TYPED_NAMES: Final = tuple(field.name for field in TYPED_FIELDS)
TYPED_OFFSETS: Final = ("amount_at", "recipient_at", "year_at")
RECIPIENT_KEY: Final = f'"{RECIPIENT_FIELD}":'
YEAR_KEY: Final = f'"{YEAR_FIELD}":'
assert set(TYPED_OFFSETS) <= set(TYPED_NAMES)
# A Parquet export's events: the envelope's columns, then the typed ones.
TYPED_EVENT_SCHEMA: Final = pa.schema([*EVENT_SCHEMA, *TYPED_FIELDS])
TYPED_REPEATING_COLUMNS: Final = (*REPEATING_COLUMNS, RECIPIENT_FIELD)
MEMBER_END_BYTES: Final = (ord(","), ord("}"))


@dataclass(frozen=True, slots=True)
class Shape:
    """Which typed members an event type's data has, and the `"key":` text of each (None
    where the type has no such member)."""

    meaning: Meaning
    has_recipient: bool
    amount_key: str | None
    recipient_key: str | None
    year_key: str | None
    # The same keys as UTF-8, in the order of TYPED_OFFSETS (looked up an event at export).
    encoded_keys: tuple[bytes | None, ...]


def _shape(model: type[EventData]) -> Shape:
    meaning = model.meaning
    has_recipient = RECIPIENT_FIELD in model.model_fields
    keys = (
        None if meaning.amount_field is None else f'"{meaning.amount_field}":',
        RECIPIENT_KEY if has_recipient else None,
        YEAR_KEY if meaning.span is Span.ONE_YEAR else None,
    )
    encoded = tuple(None if key is None else key.encode() for key in keys)
    return Shape(meaning, has_recipient, *keys, encoded)


SHAPE_BY_TYPE: Final[dict[str, Shape]] = {
    event_type_name(model): _shape(model) for model in EVENT_TYPES
}
for _name, _shape_of in SHAPE_BY_TYPE.items():
    # The engine's members sort amount < recipient < year, so no typed member's text can
    # swallow another's; asserted so a new event type that breaks it fails at import.
    assert _shape_of.meaning.span is not Span.ONE_YEAR or _shape_of.amount_key is not None
    assert (_shape_of.meaning.amount_field or "") < RECIPIENT_FIELD < YEAR_FIELD, _name


def typed_values(envelope: dict[str, Any], data_text: bytes) -> dict[str, Any]:
    """One envelope's typed columns (`data_text`: its `data` as the export writes it)."""
    event_type, version = envelope["type"], envelope["schema_version"]
    shape = SHAPE_BY_TYPE[event_type]
    current = version == EVENT_SCHEMA_VERSION
    data = envelope["data"] if current else upcast(event_type, version, envelope["data"])
    offsets = [
        None if key is None or not current else data_text.find(key) for key in shape.encoded_keys
    ]
    assert -1 not in offsets, f"a typed member is not in {event_type}'s data"
    return {
        RECIPIENT_FIELD: data[RECIPIENT_FIELD] if shape.has_recipient else None,
        "postings": [
            {YEAR_FIELD: year, "amount_ore": ore} for year, ore in shape.meaning.postings(data)
        ],
        **dict(zip(TYPED_OFFSETS, offsets, strict=True)),
    }


def typed_event_batch(envelopes: Sequence[dict[str, Any]]) -> pa.RecordBatch:
    """Envelopes as one batch of TYPED_EVENT_SCHEMA (a Parquet export's rows)."""
    batch = event_batch(envelopes)
    rows = [
        typed_values(envelope, text.encode())
        for envelope, text in zip(envelopes, batch.column("data").to_pylist(), strict=True)
    ]
    typed = [pa.array([row[field.name] for row in rows], type=field.type) for field in TYPED_FIELDS]
    return pa.RecordBatch.from_arrays([*batch.columns, *typed], schema=TYPED_EVENT_SCHEMA)


def first_typed_mismatch(batch: pa.RecordBatch) -> int:
    """The first row whose typed columns are not its `data` (`num_rows` when none)."""
    rows = batch.num_rows
    encoded = pc.dictionary_encode(batch.column("type"))
    type_of_row = np.asarray(encoded.indices, dtype=np.int64)
    shapes = [SHAPE_BY_TYPE.get(name) for name in encoded.dictionary.to_pylist()]
    current = np.asarray(batch.column("schema_version"), dtype=np.int64) == EVENT_SCHEMA_VERSION
    known = np.array([shape is not None for shape in shapes], dtype=np.bool_)[type_of_row]
    bad = ~known
    checked = current & known

    def per_row(pick: Any) -> npt.NDArray[np.bool_]:
        return np.array([shape is not None and pick(shape) for shape in shapes], np.bool_)[
            type_of_row
        ]

    one_year = per_row(lambda s: s.meaning.span is Span.ONE_YEAR) & checked
    year_map = per_row(lambda s: s.meaning.span is Span.YEARS) & checked
    has_recipient = per_row(lambda s: s.has_recipient) & checked
    postings = batch.column("postings")
    counts = np.asarray(pc.fill_null(pc.list_value_length(postings), -1), dtype=np.int64)
    bad |= checked & (counts != np.where(one_year, 1, np.where(year_map, counts, 0)))
    bad |= counts < 0
    amount_text, year_text = _posting_texts(postings, counts, one_year & (counts == 1), year_map)
    keys = pa.array([shape.amount_key if shape else None for shape in shapes], pa.string())
    amount_key = pc.take(keys, encoded.indices)
    data = batch.column("data")
    recipient = batch.column(RECIPIENT_FIELD)
    members = (
        (
            "amount_at",
            pc.binary_join_element_wise(amount_key, amount_text, ""),
            one_year | year_map,
        ),
        (
            "recipient_at",
            pc.binary_join_element_wise(RECIPIENT_KEY + '"', recipient, '"', ""),
            has_recipient,
        ),
        ("year_at", pc.binary_join_element_wise(YEAR_KEY, year_text, ""), one_year),
    )
    for at_name, expected, present in members:
        bad |= checked & _misplaced(data, batch.column(at_name), expected, present)
    bad |= ~current & _upcast_rows_differ(batch, ~current & known)
    return int(np.argmax(bad)) if bad.any() else rows


def _posting_texts(
    postings: pa.Array,
    counts: npt.NDArray[np.int64],
    one_year: npt.NDArray[np.bool_],
    year_map: npt.NDArray[np.bool_],
) -> tuple[pa.Array, pa.Array]:
    """(each row's amount text: `500` or `{"2019":1,"2020":2}`, its year text: `2019`), null
    where the row has no such member. Only the rows of each shape are formatted."""
    offsets = np.asarray(postings.offsets, dtype=np.int64)
    offsets -= offsets[0]  # a slice's offsets start where its values do, flat starts at 0
    flat = pc.list_flatten(postings)
    years = np.asarray(pc.struct_field(flat, [0]), dtype=np.int64)
    amounts = np.asarray(pc.struct_field(flat, [1]), dtype=np.int64)
    rows = len(postings)
    if not len(years):
        none = pa.nulls(rows, pa.string())
        return pc.if_else(pa.array(year_map), "{}", none), none
    first = np.where(one_year, offsets[:-1], 0)
    one_amount = pa.array(amounts[first], mask=~one_year).cast(pa.string())
    one_year_text = pa.array(years[first], mask=~one_year).cast(pa.string())
    if not year_map.any():
        return one_amount, one_year_text
    in_map = np.repeat(year_map, np.diff(offsets))
    pairs = pc.binary_join_element_wise(
        '"',
        pa.array(years[in_map]).cast(pa.string()),
        '":',
        pa.array(amounts[in_map]).cast(pa.string()),
        "",
    )
    map_offsets = np.concatenate(([0], np.cumsum(np.where(year_map, counts, 0))))
    listed = pa.ListArray.from_arrays(pa.array(map_offsets.astype(np.int32)), pairs)
    joined = pc.binary_join_element_wise("{", pc.binary_join(listed, ","), "}", "")
    return pc.if_else(pa.array(year_map), joined, one_amount), one_year_text


def _misplaced(
    data: pa.Array, at: pa.Array, expected: pa.Array, present: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """Rows where `expected` (a member's text) does not stand in `data` at `at`, ended by `,`
    or `}`; or where the member is there though the type has none, or the other way round.

    The rows' windows `data[at : at + len(expected)]` lie in row order without overlapping, so
    they are cut out of `data`'s own buffer as one string array (a window, then the gap to the
    next, alternately) and compared with `expected` by Arrow, not byte by byte in Python.
    """
    has_text = ~np.asarray(pc.is_null(expected), dtype=np.bool_)
    has_at = ~np.asarray(pc.is_null(at), dtype=np.bool_)
    bad: npt.NDArray[np.bool_] = (has_text != present) | (has_at != present)
    data_bytes, data_offsets = column_bytes(data)
    row_start = data_offsets[:-1].astype(np.int64)
    offset = np.asarray(pc.fill_null(at, 0), dtype=np.int64)
    begin = row_start + offset
    end = begin + np.asarray(pc.fill_null(pc.binary_length(expected), 0), dtype=np.int64)
    inside = (offset >= 0) & (end < data_offsets[1:])
    compared = present & has_text & has_at & inside
    bad |= present & ~inside
    if not compared.any():
        return bad
    # Rows not compared get an empty window at their start: the offsets still only grow.
    begin, end = np.where(compared, begin, row_start), np.where(compared, end, row_start)
    bounds = np.empty(2 * len(begin) + 1, dtype=np.int32)
    bounds[0:-1:2], bounds[1:-1:2], bounds[-1] = begin, end, data_offsets[-1]
    windows = pa.StringArray.from_buffers(
        2 * len(begin), pa.py_buffer(bounds), pa.py_buffer(data_bytes)
    ).take(pa.array(np.arange(0, 2 * len(begin), 2)))
    same = np.asarray(pc.fill_null(pc.equal(windows, expected), False), dtype=np.bool_)
    ended = np.isin(data_bytes[np.minimum(end, len(data_bytes) - 1)], MEMBER_END_BYTES)
    bad |= compared & ~(same & ended)
    return bad


def _upcast_rows_differ(
    batch: pa.RecordBatch, rows: npt.NDArray[np.bool_]
) -> npt.NDArray[np.bool_]:
    """Rows of an older schema version (few) whose typed columns are not what the export
    writes for their data."""
    bad = np.zeros(batch.num_rows, dtype=np.bool_)
    for row in np.flatnonzero(rows).tolist():
        text = batch.column("data")[row].as_py()
        try:
            envelope = {
                "type": batch.column("type")[row].as_py(),
                "schema_version": batch.column("schema_version")[row].as_py(),
                "data": orjson.loads(text),
            }
            expected = typed_values(envelope, text.encode())
        except (KeyError, TypeError, ValueError):  # data the upcaster cannot read: not its data
            bad[row] = True
            continue
        bad[row] = any(batch.column(name)[row].as_py() != expected[name] for name in TYPED_NAMES)
    return bad
