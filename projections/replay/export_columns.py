"""Replay columns from a batch of an export's event table (a column source for the engine).

Positions, instants, dates, hash prefixes, programmes and kinds are converted column-wise;
per event only `data` is parsed (orjson) and read by the read side's declarations of what an
event means for the balances (projections.domain.facts: postings, timeline agency), the same
ones the projector's decoder uses.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from projections.domain.facts import current_data, postings_of, timeline_agency_of
from projections.domain.kinds import EventKind, kind_of
from projections.replay.columns import Dictionaries, ReplayColumns
from projections.replay.layout import COLUMNS, EVENTS, HASH_PREFIX_HEX_CHARS, POSTINGS, TIMELINE
from schemas.events import EVENT_SCHEMA_VERSION

NO_RECIPIENT = 0


def _codes(column: pa.Array, code_of: Any) -> np.ndarray[Any, Any]:
    """A string column as dictionary codes: each distinct value looked up once."""
    encoded = pc.dictionary_encode(column)
    table = np.array([code_of(value) for value in encoded.dictionary.to_pylist()], dtype=np.int64)
    return table[np.asarray(encoded.indices, dtype=np.int64)] if len(table) else table


def batch_columns(batch: pa.RecordBatch, dictionaries: Dictionaries) -> ReplayColumns:
    """The batch's events as replay columns (in the batch's order), codes in `dictionaries`."""
    event_types = COLUMNS[EVENTS]
    positions = np.asarray(batch.column("position"), dtype=np.int64)
    recorded_at_us = np.asarray(batch.column("recorded_at").cast(pa.int64()), dtype=np.int64)
    effective_day = np.asarray(batch.column("effective_date").cast(pa.int32()), dtype=np.int64)
    prefixes = pc.utf8_slice_codeunits(batch.column("hash"), 0, HASH_PREFIX_HEX_CHARS)
    hash_prefix = np.frombuffer(bytes.fromhex("".join(prefixes.to_pylist())), dtype=">u8")
    kinds = _codes(batch.column("type"), lambda name: int(kind_of(name)))
    programmes = _codes(batch.column("programme_id"), dictionaries.programmes.code)
    recipients = np.zeros(len(positions), dtype=np.int64)
    counts = np.zeros(len(positions), dtype=np.int64)
    years: list[int] = []
    amounts: list[int] = []
    timeline_rows: list[int] = []
    timeline_agencies: list[int] = []
    recipient_code = dictionaries.recipients.code
    versions = np.asarray(batch.column("schema_version"), dtype=np.int64)
    types = batch.column("type").to_pylist()
    for row, text in enumerate(batch.column("data").to_pylist()):
        data = orjson.loads(text)
        if versions[row] != EVENT_SCHEMA_VERSION:
            envelope = {"type": types[row], "schema_version": int(versions[row]), "data": data}
            data = current_data(envelope)
        kind = EventKind(int(kinds[row]))
        recipient = data.get("recipient")
        if isinstance(recipient, str):
            recipients[row] = recipient_code(recipient)
        postings = postings_of(kind, data)
        counts[row] = len(postings)
        for year, amount in postings:
            years.append(year)
            amounts.append(amount)
        agency = timeline_agency_of(kind, data)
        if agency is not None:
            timeline_rows.append(row)
            timeline_agencies.append(dictionaries.agencies.code(agency))
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
    rows = np.array(timeline_rows, dtype=np.int64)
    timeline = {
        "position": positions[rows],
        "recorded_at_us": recorded_at_us[rows],
        "effective_day": effective_day[rows],
        "programme": programmes[rows] if len(programmes) else programmes,
        "agency": np.array(timeline_agencies, dtype=np.int64),
    }
    return ReplayColumns(
        {name: events[name].astype(dtype) for name, dtype in event_types.items()},
        {
            "year": np.array(years, dtype=COLUMNS[POSTINGS]["year"]),
            "amount_ore": np.array(amounts, dtype=COLUMNS[POSTINGS]["amount_ore"]),
        },
        {name: timeline[name].astype(dtype) for name, dtype in COLUMNS[TIMELINE].items()},
    )
