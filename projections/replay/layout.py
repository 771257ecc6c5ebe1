"""The replay store's fixed-width columns: one row per event, per (event, year) posting, per
agency-timeline entry. Little-endian raw files; the manifest says how many rows each holds.

Per event: position 8 + recorded_at_us 8 + hash_prefix 8 + effective_day 4 + recipient 4 +
programme 2 + kind 1 + posting_count 1 = 36 bytes; per posting: year 2 + amount_ore 8 = 10 bytes.
Postings follow their events' order, `posting_count` of them per event, so no per-posting
event reference is stored: an event's postings start at the running sum of the counts before it.

Each table is declared once, as a frozen dataclass of arrays whose fields carry their on-disk
dtype (field metadata); the store, the builders and the engine read names and dtypes from it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Self

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[Any]

EVENTS: Final = "events"
POSTINGS: Final = "postings"
TIMELINE: Final = "timeline"


class ColumnTable:
    """Parallel arrays of one table: equal lengths, each of its declared dtype."""

    NAME: ClassVar[str]

    def __post_init__(self) -> None:
        lengths = {len(getattr(self, name)) for name in self.dtypes()}
        assert len(lengths) <= 1, (self.NAME, lengths)
        for name, dtype in self.dtypes().items():
            array = getattr(self, name)
            assert array.dtype == dtype, (self.NAME, name, array.dtype)

    @classmethod
    def dtypes(cls) -> dict[str, np.dtype[Any]]:
        """Column name -> on-disk dtype, in declaration order."""
        return {f.name: f.metadata["dtype"] for f in dataclasses.fields(cls)}  # type: ignore[arg-type]

    @classmethod
    def of(cls, arrays: Mapping[str, Any]) -> Self:
        """From arrays by column name (each converted to its dtype; no copy when it already is)."""
        assert set(arrays) == set(cls.dtypes()), (cls.NAME, sorted(arrays))
        return cls(**{name: np.asarray(arrays[name], dtype=d) for name, d in cls.dtypes().items()})

    @classmethod
    def empty(cls) -> Self:
        """No rows."""
        return cls(**{name: np.empty(0, dtype=d) for name, d in cls.dtypes().items()})

    def arrays(self) -> dict[str, Array]:
        """Column name -> array."""
        return {name: getattr(self, name) for name in self.dtypes()}

    def rows(self, which: slice | npt.NDArray[Any]) -> Self:
        """The rows a slice, boolean mask or index array picks."""
        return type(self)(**{name: array[which] for name, array in self.arrays().items()})

    def __len__(self) -> int:
        return len(getattr(self, next(iter(self.dtypes()))))


@dataclass(frozen=True, eq=False)
class EventColumns(ColumnTable):
    """One row per event."""

    NAME: ClassVar[str] = EVENTS

    position: npt.NDArray[np.int64] = field(metadata={"dtype": np.dtype("<i8")})
    recorded_at_us: npt.NDArray[np.int64] = field(metadata={"dtype": np.dtype("<i8")})
    # The first 8 bytes of the envelope's chain hash, as a big-endian integer: enough to
    # compare the store with any checkpoint of the chain.
    hash_prefix: npt.NDArray[np.uint64] = field(metadata={"dtype": np.dtype("<u8")})
    effective_day: npt.NDArray[np.int32] = field(metadata={"dtype": np.dtype("<i4")})
    recipient: npt.NDArray[np.int32] = field(metadata={"dtype": np.dtype("<i4")})
    programme: npt.NDArray[np.uint16] = field(metadata={"dtype": np.dtype("<u2")})
    kind: npt.NDArray[np.uint8] = field(metadata={"dtype": np.dtype("u1")})
    posting_count: npt.NDArray[np.uint8] = field(metadata={"dtype": np.dtype("u1")})


@dataclass(frozen=True, eq=False)
class PostingColumns(ColumnTable):
    """One row per (event, grant-year) posting, in the events' order."""

    NAME: ClassVar[str] = POSTINGS

    year: npt.NDArray[np.int16] = field(metadata={"dtype": np.dtype("<i2")})
    amount_ore: npt.NDArray[np.int64] = field(metadata={"dtype": np.dtype("<i8")})


@dataclass(frozen=True, eq=False)
class TimelineColumns(ColumnTable):
    """One row per agency-timeline entry (ProgrammeEstablished, ProgrammeHandedOver)."""

    NAME: ClassVar[str] = TIMELINE

    position: npt.NDArray[np.int64] = field(metadata={"dtype": np.dtype("<i8")})
    recorded_at_us: npt.NDArray[np.int64] = field(metadata={"dtype": np.dtype("<i8")})
    effective_day: npt.NDArray[np.int32] = field(metadata={"dtype": np.dtype("<i4")})
    programme: npt.NDArray[np.uint16] = field(metadata={"dtype": np.dtype("<u2")})
    agency: npt.NDArray[np.uint16] = field(metadata={"dtype": np.dtype("<u2")})


TABLES: Final[dict[str, type[ColumnTable]]] = {
    table.NAME: table for table in (EventColumns, PostingColumns, TimelineColumns)
}
# Table -> column -> dtype: what the files hold.
COLUMNS: Final[dict[str, dict[str, np.dtype[Any]]]] = {
    name: table.dtypes() for name, table in TABLES.items()
}

HASH_PREFIX_HEX_CHARS: Final = 16
# Dictionary codes must fit their columns.
MAX_PROGRAMMES: Final = int(np.iinfo(np.uint16).max)
MAX_AGENCIES: Final = int(np.iinfo(np.uint16).max)
MAX_RECIPIENTS: Final = int(np.iinfo(np.int32).max)
MAX_POSTINGS_PER_EVENT: Final = int(np.iinfo(np.uint8).max)
# Recipient code 0 is "no recipient" (programme events).
NO_RECIPIENT: Final = ""

EVENT_BYTES: Final = sum(dtype.itemsize for dtype in COLUMNS[EVENTS].values())
POSTING_BYTES: Final = sum(dtype.itemsize for dtype in COLUMNS[POSTINGS].values())


def hash_prefix(chain_hash: str) -> int:
    """The stored 64-bit prefix of a hex chain hash."""
    return int(chain_hash[:HASH_PREFIX_HEX_CHARS], 16)


def column_file(table: str, column_name: str, generation: int) -> str:
    """File name of a column in a store generation."""
    return f"{table}.{column_name}.g{generation}.bin"
