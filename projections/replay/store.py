"""The replay store on disk: append-only column files of one generation, and their manifest.

Appends write column bytes first and the manifest last (the commit point). Rewrites
(compaction into position order, a re-fetch from Kafka) write a new generation of files,
commit the manifest naming it, then delete the old generation. One writer at a time holds the
directory's lock; readers need none.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import crc32c
import numpy as np

from ledger.infrastructure.failures import describe_failure
from ledger.settings import REPLAY_DIR_ENV_VAR
from projections.replay.columns import Dictionaries, ReplayColumns
from projections.replay.layout import (
    COLUMNS,
    EVENTS,
    HASH_PREFIX_HEX_CHARS,
    TABLES,
    Array,
    ColumnTable,
    column_file,
)
from projections.replay.manifest import MANIFEST_FILE, Manifest, PartitionMark, write_atomically
from schemas.errors import IntegrityFailure, Unavailable

LOCK_FILE = "writer.lock"
# Growth step of the in-memory "position already stored" bitmap.
BITMAP_GROWTH_FACTOR = 2
READ_RETRIES = 3
# Column files digested at once when a store is verified (the CRC runs outside the GIL).
DIGEST_THREADS = 2


class ReplayStoreError(IntegrityFailure):
    """The replay store cannot be used as it is (damaged, or of another format)."""


class ReplayStoreBusy(Unavailable):
    """Another process holds the replay store's writer lock."""


class ReplayStore:
    """A directory of column files and a manifest."""

    def __init__(self, directory: Path, *, durable: bool = True) -> None:
        self.directory = directory
        self.durable = durable
        self.manifest = self._read_manifest()
        self.dictionaries = Dictionaries.from_lists(
            self.manifest.dictionaries.get("programmes", []),
            self.manifest.dictionaries.get("recipients", [""]),
            self.manifest.dictionaries.get("agencies", []),
        )
        self._stored: np.ndarray[Any, np.dtype[np.bool_]] | None = None
        self._lock_handle: Any = None
        self._maps: dict[tuple[str, int], Array] = {}

    # ----------------------------------------------------------------- opening

    def _read_manifest(self) -> Manifest:
        path = self.directory / MANIFEST_FILE
        if not path.exists():
            return Manifest()
        try:
            return Manifest.from_json(path.read_bytes())
        except (ValueError, KeyError, TypeError) as exc:
            raise ReplayStoreError(
                "replay store", str(self.directory), f"unreadable manifest: {exc}"
            ) from None

    def path_of(self, table: str, column: str, generation: int | None = None) -> Path:
        """The file of a column (current generation by default)."""
        return self.directory / column_file(
            table, column, self.manifest.generation if generation is None else generation
        )

    @contextlib.contextmanager
    def writing(self) -> Iterator[ReplayStore]:
        """Hold the writer lock; cut torn appends back to what the manifest counts."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            handle = (self.directory / LOCK_FILE).open("a+")
        except OSError as exc:
            raise Unavailable(
                REPLAY_DIR_ENV_VAR,
                str(self.directory),
                f"cannot be written: {describe_failure(exc)}",
            ) from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise ReplayStoreBusy(
                "replay store", str(self.directory), "another process is writing to it"
            ) from None
        self._lock_handle = handle
        try:
            self.manifest = self._read_manifest()
            self._truncate_torn_tails()
            yield self
        finally:
            self._lock_handle = None
            handle.close()

    def _truncate_torn_tails(self) -> None:
        for table, columns in COLUMNS.items():
            for column, dtype in columns.items():
                path = self.path_of(table, column)
                expected = self.manifest.rows[table] * dtype.itemsize
                size = path.stat().st_size if path.exists() else 0
                if size < expected:
                    raise ReplayStoreError(
                        "replay store",
                        str(path),
                        f"holds {size} bytes, the manifest counts {expected}: re-fetch it",
                    )
                if size > expected:
                    os.truncate(path, expected)

    # ----------------------------------------------------------------- reading

    def load(self) -> ReplayColumns:
        """The stored rows, memory-mapped read-only (no copy)."""
        for attempt in range(READ_RETRIES):
            try:
                return self._load()
            except FileNotFoundError:
                # A rewrite committed a new generation between our manifest read and open.
                if attempt == READ_RETRIES - 1:
                    raise
                self.manifest = self._read_manifest()
        raise AssertionError("unreachable")

    def _load(self) -> ReplayColumns:
        tables: list[ColumnTable] = []
        for name, table in TABLES.items():
            rows = self.manifest.rows[name]
            tables.append(
                table(
                    **{
                        column: self._mapped(name, column, dtype, rows)
                        for column, dtype in table.dtypes().items()
                    }
                )
            )
        events, postings, timeline = tables
        return ReplayColumns(events, postings, timeline)  # type: ignore[arg-type]

    def _mapped(self, table: str, column: str, dtype: np.dtype[Any], rows: int) -> Array:
        """A column file's first `rows` rows, mapped read-only; one map per file and length, so
        verifying and replaying a store touch its pages once."""
        if rows == 0:
            return np.empty(0, dtype=dtype)
        path = self.path_of(table, column)
        key = (path.name, rows)
        mapped = self._maps.get(key)
        if mapped is None:
            # A plain ndarray view: np.memmap's subclass hooks would run on every slice and
            # result, which costs more than the arithmetic on small chunks.
            mapped = np.memmap(path, dtype=dtype, mode="r", shape=(rows,)).view(np.ndarray)
            self._maps = {k: v for k, v in self._maps.items() if k[0] != path.name}
            self._maps[key] = mapped
        return mapped

    def digest_problems(self) -> list[str]:
        """Column files whose bytes do not match the manifest's CRC-32C (empty: all match)."""
        problems = []
        to_digest: list[tuple[str, Path, Array]] = []
        for table, columns in COLUMNS.items():
            rows = self.manifest.rows[table]
            for column, dtype in columns.items():
                path = self.path_of(table, column)
                if rows and (not path.exists() or path.stat().st_size < rows * dtype.itemsize):
                    problems.append(f"{path.name}: shorter than the {rows} rows counted")
                    continue
                to_digest.append(
                    (f"{table}.{column}", path, self._mapped(table, column, dtype, rows))
                )
        # The CRC releases the GIL on large buffers: files are digested DIGEST_THREADS at a time.
        with ThreadPoolExecutor(DIGEST_THREADS) as pool:
            digests: list[int] = list(pool.map(lambda item: crc32c.crc32c(item[2].data), to_digest))
        for (key, path, _), actual in zip(to_digest, digests, strict=True):
            expected = self.manifest.crc32c.get(key)
            if actual != expected:
                problems.append(f"{path.name}: CRC-32C {actual} != manifest {expected}")
        return problems

    def hash_prefix_at(self, position: int) -> str | None:
        """The stored hash prefix (hex) of a position, when the store holds 1..N in order."""
        manifest = self.manifest
        if not manifest.complete or not 1 <= position <= manifest.max_position:
            return None
        prefix = int(self.load().events.hash_prefix[position - 1])
        return f"{prefix:0{HASH_PREFIX_HEX_CHARS}x}"

    # ----------------------------------------------------------------- dedup

    def stored_mask(
        self, positions: np.ndarray[Any, np.dtype[np.int64]]
    ) -> np.ndarray[Any, np.dtype[np.bool_]]:
        """True where a position is already in the store."""
        stored = self._stored_bitmap()
        inside = positions < len(stored)
        result = np.zeros(len(positions), dtype=np.bool_)
        result[inside] = stored[positions[inside]]
        return result

    def _stored_bitmap(self) -> np.ndarray[Any, np.dtype[np.bool_]]:
        if self._stored is None:
            positions = self.load().events.position
            size = int(positions.max()) + 1 if len(positions) else 1
            self._stored = np.zeros(size, dtype=np.bool_)
            self._stored[positions] = True
        return self._stored

    def _mark_stored(self, positions: np.ndarray[Any, np.dtype[np.int64]]) -> None:
        stored = self._stored_bitmap()
        needed = int(positions.max()) + 1
        if needed > len(stored):
            grown = np.zeros(max(needed, len(stored) * BITMAP_GROWTH_FACTOR), dtype=np.bool_)
            grown[: len(stored)] = stored
            self._stored = stored = grown
        stored[positions] = True

    # ----------------------------------------------------------------- writing

    def _require_lock(self) -> None:
        assert self._lock_handle is not None, "write inside `with store.writing():`"

    def append(
        self,
        columns: ReplayColumns,
        *,
        newest_hash: tuple[int, str] | None,
        topic: str | None = None,
        partitions: Mapping[int, PartitionMark] | None = None,
    ) -> int:
        """Add the events not stored yet; returns how many were new. Commits the manifest."""
        self._require_lock()
        positions = columns.events.position
        if len(positions):
            fresh = ~self.stored_mask(positions)
            # Within a batch a position may repeat (a re-delivered message): keep the first.
            _, first = np.unique(positions, return_index=True)
            once = np.zeros(len(positions), dtype=np.bool_)
            once[first] = True
            columns = columns.select_events(fresh & once).in_position_order()
        manifest = self.manifest
        added = columns.event_count
        if added:
            new_positions = columns.events.position
            if int(new_positions[0]) <= manifest.max_position:
                manifest.position_sorted = False
            for table in columns.tables():
                for column, array in table.arrays().items():
                    if len(array) == 0:
                        continue
                    payload = np.ascontiguousarray(array).tobytes()
                    with self.path_of(table.NAME, column).open("ab") as handle:
                        handle.write(payload)
                        if self.durable:
                            handle.flush()
                            os.fsync(handle.fileno())
                    key = f"{table.NAME}.{column}"
                    manifest.crc32c[key] = crc32c.crc32c(payload, manifest.crc32c[key])
                manifest.rows[table.NAME] += len(table)
            self._mark_stored(new_positions)
            top = int(new_positions[-1])
            if top > manifest.max_position:
                manifest.max_position, manifest.max_position_hash = top, None
        if newest_hash is not None and newest_hash[0] == manifest.max_position:
            manifest.max_position_hash = newest_hash[1]
        if topic is not None:
            self._merge_partitions(topic, partitions or {})
        manifest.dictionaries = self.dictionaries.as_lists()
        write_atomically(self.directory / MANIFEST_FILE, manifest.to_json(), durable=self.durable)
        return added

    def _merge_partitions(self, topic: str, partitions: Mapping[int, PartitionMark]) -> None:
        manifest = self.manifest
        if manifest.topic not in (None, topic):
            # Offsets of another topic mean nothing here.
            manifest.partitions = {}
        manifest.topic = topic
        for partition, mark in partitions.items():
            old = manifest.partitions.get(partition)
            if old is None:
                manifest.partitions[partition] = mark
            else:
                manifest.partitions[partition] = PartitionMark(
                    max(old.next_offset, mark.next_offset), max(old.max_position, mark.max_position)
                )

    def rewrite(
        self,
        columns: ReplayColumns,
        *,
        dictionaries: Dictionaries,
        max_position_hash: str | None,
        topic: str | None,
        partitions: Mapping[int, PartitionMark],
    ) -> None:
        """Replace the whole content with `columns` (a new generation), atomically."""
        self._require_lock()
        old = self.manifest
        new = Manifest(generation=old.generation + 1)
        positions = columns.events.position
        increasing = columns.is_position_sorted()
        # Strictly increasing implies unique; otherwise check the slow way.
        assert increasing or len(np.unique(positions)) == len(positions), (
            "a position is stored once"
        )
        for table in columns.tables():
            for column, array in table.arrays().items():
                payload = np.ascontiguousarray(array)
                path = self.path_of(table.NAME, column, new.generation)
                with path.open("wb") as handle:
                    payload.tofile(handle)
                    if self.durable:
                        handle.flush()
                        os.fsync(handle.fileno())
                key = f"{table.NAME}.{column}"
                new.crc32c[key] = crc32c.crc32c(payload.data) if len(payload) else 0
            new.rows[table.NAME] = len(table)
        new.position_sorted = increasing
        new.max_position = int(positions.max()) if len(positions) else 0
        new.max_position_hash = max_position_hash
        new.dictionaries = dictionaries.as_lists()
        new.topic = topic
        new.partitions = dict(partitions)
        write_atomically(self.directory / MANIFEST_FILE, new.to_json(), durable=self.durable)
        self.manifest = new
        self.dictionaries = dictionaries
        self._stored = None
        self._maps = {}  # of the old generation's files, deleted below
        for name, stored_columns in COLUMNS.items():
            for column in stored_columns:
                self.path_of(name, column, old.generation).unlink(missing_ok=True)

    def compact(self) -> bool:
        """Sort the events into position order when appends left them out of it."""
        self._require_lock()
        if self.manifest.position_sorted:
            return False
        # Sorting copies the rows out of the memory maps before the old files are deleted.
        columns = self.load().in_position_order()
        self.rewrite(
            columns,
            dictionaries=self.dictionaries,
            max_position_hash=self.manifest.max_position_hash,
            topic=self.manifest.topic,
            partitions=self.manifest.partitions,
        )
        return True

    @property
    def event_count(self) -> int:
        """Stored events."""
        return self.manifest.rows[EVENTS]

    def bytes_on_disk(self) -> int:
        """Bytes of the current generation: column files, derived files beside them (the as-of
        index), and the manifests."""
        generation_mark = f".g{self.manifest.generation}."
        return sum(
            path.stat().st_size
            for path in self.directory.iterdir()
            if path.is_file() and (generation_mark in path.name or path.suffix == ".json")
        )
