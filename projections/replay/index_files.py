"""The as-of index on disk: one file of raw arrays beside the columns, described by a small JSON
manifest (written last: the commit point). Loading maps the file once; arrays are views."""

from __future__ import annotations

import mmap
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from projections.replay.agency_periods import AgencyPeriods, DaySpan
from projections.replay.asof_index import AsOfIndex, ChunkZones, CumulativeSums
from projections.replay.key_spaces import PairIndex, YearSpan
from projections.replay.range_sums import KeyTables

INDEX_FORMAT_VERSION = 7
INDEX_MANIFEST = "asof-index.json"
# CumulativeSums' one field that is a number, not an array: kept in the manifest.
SPACING_FIELD = "snapshot_chunks"
ARRAY_FIELDS = [name for name in CumulativeSums.__dataclass_fields__ if name != SPACING_FIELD]
assert len(ARRAY_FIELDS) == len(CumulativeSums.__dataclass_fields__) - 1, "the spacing is a field"
ARRAY_ALIGNMENT_BYTES = 64
# Indexes kept mapped between loads (one per replay store directory, the newest few).
LOADED_INDEXES_KEPT = 8
_LOADED: OrderedDict[str, _Loaded] = OrderedDict()
_LOADED_LOCK = threading.Lock()


def _arrays(index: AsOfIndex) -> dict[str, npt.NDArray[Any]]:
    keys, zones = index.keys, index.zones
    arrays: dict[str, npt.NDArray[Any]] = {
        f"zones.{name}": getattr(zones, name) for name in ChunkZones.__dataclass_fields__
    }
    for name, cumulative in (("grant_sums", index.grants), ("period_sums", index.periods)):
        for field in ARRAY_FIELDS:
            arrays[f"{name}.{field}"] = getattr(cumulative, field)
    arrays.update(
        {
            "pairs.lookup": keys.pairs.lookup,
            "pairs.programme": keys.pairs.programme,
            "pairs.recipient": keys.pairs.recipient,
            "periods.lookup": keys.periods.lookup,
            "periods.programme": keys.periods.programme,
            "periods.first_day": keys.periods.first_day,
            "timeline_positions": index.timeline_positions,
        }
    )
    return arrays


def file_name(generation: int) -> str:
    """A new array file's name for an index of a store generation: unique, so the manifest names
    exactly the file it describes, and a reader that mapped an older file keeps reading it."""
    return f"asof.g{generation}.{uuid.uuid4().hex}.bin"


def _is_array_file(name: str) -> bool:
    """A bare file name of ours (the manifest is data: it must not lead outside the directory)."""
    return name.startswith("asof.g") and name.endswith(".bin") and "/" not in name


def save(index: AsOfIndex, directory: Path) -> None:
    """Write the arrays to a new file, then the manifest naming it (the commit point); then drop
    the files of earlier indexes (a reader still mapping one keeps its pages)."""
    directory_entries: dict[str, dict[str, Any]] = {}
    offset = 0
    path = directory / file_name(index.generation)
    assert _is_array_file(path.name), path
    with path.open("wb") as handle:
        for name, array in _arrays(index).items():
            payload = np.ascontiguousarray(array)
            padding = -offset % ARRAY_ALIGNMENT_BYTES
            handle.write(b"\0" * padding)
            offset += padding
            directory_entries[name] = {
                "dtype": payload.dtype.str,
                "shape": list(payload.shape),
                "offset": offset,
            }
            handle.write(payload.data)  # the array's own bytes, not a copy of them
            offset += payload.nbytes
    meta = {
        "version": INDEX_FORMAT_VERSION,
        "generation": index.generation,
        "events": index.events,
        "chunk_events": index.chunk_events,
        # Where the running totals are kept: read back with the index, never assumed.
        "snapshot_chunks": [index.grants.snapshot_chunks, index.periods.snapshot_chunks],
        "years": [index.keys.years.first, index.keys.years.count],
        "days": [index.keys.periods.days.first, index.keys.periods.days.count],
        "recipient_codes": index.keys.pairs.recipient_codes,
        "pairs_in_name_order": index.keys.pairs.in_name_order,
        "folded_before": {str(k): v for k, v in index.keys.periods.folded_before.items()},
        "file": path.name,
        "arrays": directory_entries,
    }
    temporary = directory / f".{INDEX_MANIFEST}.tmp"
    temporary.write_bytes(orjson.dumps(meta))
    temporary.replace(directory / INDEX_MANIFEST)
    for stale in directory.glob("asof.*"):
        if stale.name != path.name:
            stale.unlink(missing_ok=True)


def load(directory: Path, generation: int) -> AsOfIndex | None:
    """The index of `generation`, memory-mapped; None when absent, stale or unreadable.

    The last few indexes loaded are kept, each with the manifest that described it and the
    identity of the file it maps: while the manifest reads the same byte for byte and the file
    is the same one at the same size, the mapping is reused, and with it the pages a question
    already touched (mapping the file afresh per question cost ~1 ms of page faults on the decade
    ledger). A rebuild writes a new file and a new manifest; a file changed under a kept mapping
    (cut short, it would fault when read) is mapped afresh, and so refused."""
    try:
        manifest = (directory / INDEX_MANIFEST).read_bytes()
    except OSError:
        return None
    key = str(directory.resolve())
    with _LOADED_LOCK:
        kept = _LOADED.get(key)
    if kept is not None and kept.manifest == manifest and kept.file == _identity(kept.path):
        with _LOADED_LOCK:
            _LOADED.move_to_end(key)
        return kept.index if kept.index.generation == generation else None
    loaded = _mapped(directory, generation, manifest)
    with _LOADED_LOCK:
        _LOADED.pop(key, None)
        if loaded is not None:
            _LOADED[key] = loaded
            while len(_LOADED) > LOADED_INDEXES_KEPT:
                _LOADED.popitem(last=False)
    return None if loaded is None else loaded.index


@dataclass(frozen=True)
class _Loaded:
    """An index as mapped: the manifest that named its file, and that file's identity then."""

    manifest: bytes
    path: Path
    file: tuple[int, int, int, int] | None
    index: AsOfIndex


def _identity(path: Path) -> tuple[int, int, int, int] | None:
    """Which file this is and how it stands: device, inode, size, modification time (None: gone)."""
    try:
        status = path.stat()
    except OSError:
        return None
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def _mapped(directory: Path, generation: int, manifest: bytes) -> _Loaded | None:
    """The index a manifest describes, memory-mapped; None when stale or unreadable."""
    try:
        meta = orjson.loads(manifest)
        if meta["version"] != INDEX_FORMAT_VERSION or meta["generation"] != generation:
            return None
        if not _is_array_file(str(meta["file"])):
            return None
        path = directory / str(meta["file"])
        with path.open("rb") as handle:
            identity = _identity(path)
            mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        arrays = {
            name: np.ndarray(
                tuple(entry["shape"]),
                dtype=np.dtype(entry["dtype"]),
                buffer=mapped,
                offset=entry["offset"],
            )
            for name, entry in meta["arrays"].items()
        }
        return _Loaded(manifest, path, identity, _index(meta, arrays))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _index(meta: dict[str, Any], arrays: dict[str, npt.NDArray[Any]]) -> AsOfIndex:
    years = YearSpan(*meta["years"])
    pairs = PairIndex(
        int(meta["recipient_codes"]),
        arrays["pairs.lookup"],
        arrays["pairs.programme"],
        arrays["pairs.recipient"],
        bool(meta["pairs_in_name_order"]),
    )
    periods = AgencyPeriods(
        DaySpan(*meta["days"]),
        arrays["periods.lookup"],
        arrays["periods.programme"],
        arrays["periods.first_day"],
        {int(k): int(v) for k, v in meta["folded_before"].items()},
    )

    grant_spacing, period_spacing = (int(spacing) for spacing in meta["snapshot_chunks"])

    def cumulative(name: str, spacing: int) -> CumulativeSums:
        if spacing <= 0:
            raise ValueError(f"{name}: snapshots every {spacing} chunks")
        fields = {field: arrays[f"{name}.{field}"] for field in ARRAY_FIELDS}
        # A question reads the row its spacing gives: a spacing that is not the one the rows
        # were kept at would answer from another boundary's totals, so the two must agree.
        rows = (len(fields["chunk_offsets"]) - 1) // spacing + 1
        if fields["snapshots"].shape != (rows, len(fields["bins"])):
            raise ValueError(f"{name}: snapshots {fields['snapshots'].shape}, not every {spacing}")
        return CumulativeSums(**fields, snapshot_chunks=spacing)

    return AsOfIndex(
        int(meta["generation"]),
        int(meta["events"]),
        int(meta["chunk_events"]),
        KeyTables(pairs, periods, years),
        ChunkZones(*(arrays[f"zones.{field}"] for field in ChunkZones.__dataclass_fields__)),
        cumulative("grant_sums", grant_spacing),
        cumulative("period_sums", period_spacing),
        arrays["timeline_positions"],
    )
