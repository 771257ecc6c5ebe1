"""The replay store's manifest: row counts, column digests, dictionaries, consumed offsets.

Written whole to a temporary file and renamed over the old one, so it is the store's commit
point: column bytes past the rows it counts are a torn append and are cut off on open.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from projections.replay.layout import COLUMNS, EVENTS, POSTINGS, TIMELINE

FORMAT = "grant-ledger-replay"
FORMAT_VERSION = 1
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True, slots=True)
class PartitionMark:
    """How far a topic partition was consumed into the store."""

    next_offset: int
    max_position: int


@dataclass
class Manifest:
    """What the column files hold and where it came from."""

    generation: int = 0
    rows: dict[str, int] = field(default_factory=lambda: {EVENTS: 0, POSTINGS: 0, TIMELINE: 0})
    # CRC-32C of each column file's counted bytes, keyed "table.column".
    crc32c: dict[str, int] = field(
        default_factory=lambda: {f"{t}.{c}": 0 for t, cols in COLUMNS.items() for c in cols}
    )
    # True while events are stored in strictly increasing position order.
    position_sorted: bool = True
    max_position: int = 0
    max_position_hash: str | None = None
    dictionaries: dict[str, list[str]] = field(default_factory=dict)
    topic: str | None = None
    partitions: dict[int, PartitionMark] = field(default_factory=dict)
    # Derived as-of index (zone maps and chunk totals), when built: file names and digests.
    asof_index: dict[str, Any] | None = None

    @property
    def events(self) -> int:
        """Number of events."""
        return self.rows[EVENTS]

    @property
    def complete(self) -> bool:
        """True when the store holds exactly positions 1..max_position, in order."""
        return self.position_sorted and self.rows[EVENTS] == self.max_position

    def to_json(self) -> bytes:
        """Serialised form."""
        return orjson.dumps(
            {
                "format": FORMAT,
                "version": FORMAT_VERSION,
                "generation": self.generation,
                "rows": self.rows,
                "crc32c": self.crc32c,
                "position_sorted": self.position_sorted,
                "max_position": self.max_position,
                "max_position_hash": self.max_position_hash,
                "dictionaries": self.dictionaries,
                "topic": self.topic,
                "partitions": {
                    str(p): {"next_offset": m.next_offset, "max_position": m.max_position}
                    for p, m in sorted(self.partitions.items())
                },
                "asof_index": self.asof_index,
            },
            option=orjson.OPT_INDENT_2,
        )

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        """Parse; raises ValueError on a manifest of another format or version."""
        body = orjson.loads(raw)
        if body.get("format") != FORMAT or body.get("version") != FORMAT_VERSION:
            raise ValueError(f"not a {FORMAT} v{FORMAT_VERSION} manifest")
        return cls(
            generation=int(body["generation"]),
            rows={str(k): int(v) for k, v in body["rows"].items()},
            crc32c={str(k): int(v) for k, v in body["crc32c"].items()},
            position_sorted=bool(body["position_sorted"]),
            max_position=int(body["max_position"]),
            max_position_hash=body["max_position_hash"],
            dictionaries={str(k): list(v) for k, v in body["dictionaries"].items()},
            topic=body["topic"],
            partitions={
                int(p): PartitionMark(int(m["next_offset"]), int(m["max_position"]))
                for p, m in body["partitions"].items()
            },
            asof_index=body.get("asof_index"),
        )


def write_atomically(path: Path, payload: bytes, *, durable: bool) -> None:
    """Replace `path` with `payload`: readers see the old or the new file, never a mix."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as handle:
        handle.write(payload)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(temporary, path)
    if durable:
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
