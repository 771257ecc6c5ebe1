"""`audit replay DIR`: the books re-derived from an export alone, after the export proves itself.

Order: the manifest's file hashes; the chain from genesis (every event's hash and link, in
worker threads for Parquet, a share of row groups each); the manifest's ends and every
checkpoint against the recomputed chain; every checkpoint's signature under a trusted key and
the record covered to its end by a signed checkpoint (ledger/audit/export_checkpoints.py:
events after the last one are refused, not replayed); only then the balances, by the
projector's hot replay engine over columns built from the verified batches. The first failure
stops it (ExportTampered at the lowest bad position, then ForgedCheckpoint, RecordNotCovered);
nothing is computed from a record that failed.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from ledger.audit.batch_proof import BatchCheck, check_batch
from ledger.audit.event_table import EVENT_SCHEMA, REPEATING_TEXT_COLUMNS
from ledger.audit.export import EXTENSIONS
from ledger.audit.export_checkpoints import proven_checkpoints, require_covered
from ledger.audit.export_reader import (
    ExportTampered,
    UnreadableLine,
    checkpoint_rows,
    file_problems,
    load_manifest,
    read_batches,
)
from ledger.proof.signatures import TrustedKeys
from projections.application.envelope_balances import column_balances
from projections.application.query import require_known, view_rows
from projections.domain.asof import AsOf
from projections.domain.filters import Filters
from projections.domain.rows import BalanceRow, View
from projections.domain.selection import Selection
from projections.replay import (
    Dictionaries,
    ReplayColumns,
    batch_columns,
    code_maps,
    concatenate,
)
from schemas.chain import GENESIS_HASH
from schemas.envelope import Checkpoint
from schemas.errors import IntegrityFailure, InvalidQuery, QueryParameter

T = TypeVar("T")


@dataclass(frozen=True)
class Part:
    """A run of the events file proven: its batches' checks, their columns (none after a
    failure), and which of the readers' dictionaries the columns' codes refer to."""

    checks: list[BatchCheck]
    columns: ReplayColumns | None
    reader: int


@dataclass(frozen=True)
class ProvenFile:
    """The events file's parts in order up to the first that failed or could not be read, each
    reader's dictionaries, and the unreadable row group that ended them (if one did)."""

    parts: list[Part]
    dictionaries: list[Dictionaries]
    unreadable: ExportTampered | None = None

    def columns(self) -> tuple[ReplayColumns, Dictionaries]:
        """Every part's columns in order, their codes in one new set of dictionaries."""
        merged = Dictionaries()
        maps = [code_maps(reader.as_lists(), merged) for reader in self.dictionaries]
        recoded = [
            p.columns.recoded_by(maps[p.reader]) for p in self.parts if p.columns is not None
        ]
        return concatenate(recoded), merged


@dataclass(frozen=True)
class ReplayedExport:
    """A verified export, as columns for the engine."""

    first_position: int
    last_position: int
    last_hash: str
    checkpoints_checked: int
    # Every checkpoint was verified under a trusted key; these signed them.
    signing_key_ids: tuple[str, ...]
    columns: ReplayColumns
    dictionaries: Dictionaries
    verify_s: float


def _check_batches(
    batches: Iterator[Any], wanted: set[int], dictionaries: Dictionaries, reader: int
) -> Part:
    checks: list[BatchCheck] = []
    parts: list[ReplayColumns] = []
    for batch in batches:
        if batch.num_rows == 0:
            continue
        check = check_batch(batch, wanted)
        checks.append(check)
        if check.failure is not None:
            return Part(checks, None, reader)
        parts.append(batch_columns(batch, dictionaries))
    return Part(checks, concatenate(parts), reader)


def _row_group_batches(handle: pq.ParquetFile, group: int) -> Iterator[Any]:
    try:
        # One thread a core: Arrow's own threads would only contend with the others.
        table = handle.read_row_group(group, use_threads=False)
    except (pa.ArrowException, OSError) as exc:
        first = handle.metadata.row_group(group).column(0).statistics.min
        raise ExportTampered(
            "position", first, f"its row group cannot be read (a changed byte?): {exc}"
        ) from None
    yield from table.to_batches()


def _parquet_parts(
    path: Path, groups: int, wanted: set[int], readers: int, meanwhile: Callable[[], T]
) -> tuple[ProvenFile, T]:
    """The row groups proven by `readers` threads, each taking the next group when it is done
    with one (the shares even out whatever else runs on the cores), and what `meanwhile`
    returns: it runs on this thread meanwhile. Groups after one that failed are not read."""
    taken = iter(range(groups))
    lock = threading.Lock()
    parts: dict[int, Part] = {}
    unreadable: dict[int, ExportTampered] = {}
    first_failed = [groups]
    dictionaries = [Dictionaries() for _ in range(readers)]

    def read(reader: int) -> None:
        # The repeating text columns stay dictionary arrays: the proof and the columns take
        # them as such, and none is decoded to a string a row.
        handle = pq.ParquetFile(path, read_dictionary=REPEATING_TEXT_COLUMNS)
        while True:
            with lock:
                group = next(taken, groups)
            if group >= first_failed[0]:
                return
            try:
                part = _check_batches(
                    _row_group_batches(handle, group), wanted, dictionaries[reader], reader
                )
            except ExportTampered as exc:
                unreadable[group] = exc
                part = None
            with lock:
                if part is None or part.columns is None:
                    first_failed[0] = min(first_failed[0], group)
                if part is not None:
                    parts[group] = part

    # Threads, not processes: Arrow's reading and the C loops release the GIL, and a thread's
    # columns need no pickling back.
    with ThreadPoolExecutor(readers, thread_name_prefix="proof") as threads:
        reading = [threads.submit(read, reader) for reader in range(readers)]
        alongside = meanwhile()
        for done in reading:
            done.result()
    # The parts in order up to the first group missing: the one that failed (its part ends in
    # its failure), or the unreadable one.
    proven: list[Part] = []
    for group in range(groups):
        if group not in parts:
            return ProvenFile(proven, dictionaries, unreadable.get(group)), alongside
        proven.append(parts[group])
    return ProvenFile(proven, dictionaries), alongside


def _parts(
    path: Path, file_format: str, wanted: set[int], workers: int, meanwhile: Callable[[], T]
) -> tuple[ProvenFile, T]:
    """The events file proven in parts (Parquet row groups shared by threads), and what
    `meanwhile` returns: it runs here while the threads prove the file."""
    if file_format != "parquet":
        alongside = meanwhile()
        dictionaries = Dictionaries()
        batches = read_batches(path, file_format, EVENT_SCHEMA)
        return ProvenFile([_check_batches(batches, wanted, dictionaries, 0)], [dictionaries]), (
            alongside
        )
    try:
        handle = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise ExportTampered(path.name, str(path), f"cannot be read as Parquet: {exc}") from None
    if not handle.schema_arrow.equals(EVENT_SCHEMA):
        raise ExportTampered(path.name, str(path), "its columns are not the export's")
    groups = handle.num_row_groups
    return _parquet_parts(path, groups, wanted, max(1, min(workers, groups)), meanwhile)


def _first_failure(
    checks: list[BatchCheck], first_position: int, first_prev_hash: str | None
) -> tuple[int, str] | None:
    expected, prev_hash = first_position, first_prev_hash
    for check in checks:
        if check.first_position != expected:
            return expected, (
                f"expected position {expected}, the record holds {check.first_position}: "
                "events removed, duplicated or reordered"
            )
        if prev_hash is not None and check.first_prev_hash != prev_hash:
            where = "genesis" if expected == 1 else f"the hash of position {expected - 1}"
            return expected, f"its prev_hash is not {where}"
        if check.failure is not None:
            return check.failure
        expected, prev_hash = check.last_position + 1, check.last_hash
    return None


def _checkpoint_failure(
    checkpoints: list[dict[str, Any]], hashes: dict[int, str], first: int, last: int
) -> tuple[int, str] | None:
    for checkpoint in sorted(checkpoints, key=lambda c: c["position"]):
        position = checkpoint["position"]
        if not first <= position <= last:
            return (
                position,
                f"a checkpoint at position {position}, outside the record {first}..{last}",
            )
        if hashes.get(position) != checkpoint["hash"]:
            return position, (
                f"the checkpoint's hash {checkpoint['hash'][:12]}… is not the chain's "
                f"{(hashes.get(position) or '')[:12]}… at that position"
            )
    return None


def _record_failure(
    checks: list[BatchCheck],
    manifest: dict[str, Any],
    checkpoints: list[dict[str, Any]],
    first: int,
    first_prev: str | None,
) -> tuple[int, str] | None:
    """The first failure of the chain, the manifest's ends or a checkpoint against the chain."""
    failure = _first_failure(checks, first, first_prev)
    if failure is None and not checks:
        return first, "the record holds no events"
    if failure is not None:
        return failure
    last, last_hash = checks[-1].last_position, checks[-1].last_hash
    if last != manifest["last_position"] or manifest["events"] != last - first + 1:
        return (
            last + 1,
            f"the manifest says the record ends at {manifest['last_position']}, "
            f"it ends at {last}: events removed or added at the end",
        )
    if manifest.get("last_hash") not in (None, last_hash):
        return last, "the manifest's last hash is not the chain's"
    hashes = {p: h for check in checks for p, h in check.hashes_at.items()}
    return _checkpoint_failure(checkpoints, hashes, first, last)


def verify_export(
    directory: Path, trusted: TrustedKeys, *, workers: int | None = None
) -> ReplayedExport:
    """Prove the export (see the module docstring); ExportTampered names the first failure of
    the chain, ForgedCheckpoint the first checkpoint no trusted key signed, RecordNotCovered
    events after the last signed checkpoint."""
    started = time.perf_counter()
    manifest = load_manifest(directory)
    file_format = manifest["format"]
    extension = EXTENSIONS[file_format]
    try:
        checkpoints = checkpoint_rows(directory / f"checkpoints.{extension}", file_format)
    except (ExportTampered, OSError, ValueError) as exc:
        raise ExportTampered("checkpoints", f"checkpoints.{extension}", str(exc)) from None
    first = int(manifest["first_position"])
    first_prev = GENESIS_HASH if first == 1 else manifest.get("first_prev_hash")
    wanted = {int(c["position"]) for c in checkpoints}
    events_path = directory / f"events.{extension}"
    if not events_path.is_file():
        raise ExportTampered("file", events_path.name, "is missing")

    def alongside() -> tuple[list[str], list[Checkpoint] | IntegrityFailure]:
        # The files' SHA-256 and the checkpoints' signatures are taken while the threads prove
        # the chain; what they find is reported after the chain's own failures, as before.
        damaged = file_problems(directory, manifest)
        try:
            return damaged, proven_checkpoints(checkpoints, trusted)
        except IntegrityFailure as failure:
            return damaged, failure

    try:
        proven_file, (damaged, proven) = _parts(
            events_path, file_format, wanted, workers or os.cpu_count() or 1, alongside
        )
    except UnreadableLine as exc:
        line = int(exc.value)
        raise ExportTampered("position", first + line - 1, f"line {line} {exc.message}") from None
    checks = [check for part in proven_file.parts for check in part.checks]
    if proven_file.unreadable is not None and _first_failure(checks, first, first_prev) is None:
        raise proven_file.unreadable
    failure = _record_failure(checks, manifest, checkpoints, first, first_prev)
    if failure is not None:
        raise ExportTampered("position", failure[0], failure[1])
    if isinstance(proven, IntegrityFailure):
        raise proven
    last, last_hash = checks[-1].last_position, checks[-1].last_hash
    require_covered(proven, last)
    if damaged:
        raise ExportTampered(
            "file",
            "; ".join(damaged),
            "every event still chains: the change lies outside the events' content, "
            "but the files are not the ones exported",
        )
    columns, dictionaries = proven_file.columns()
    return ReplayedExport(
        first,
        last,
        last_hash,
        len(checkpoints),
        tuple(sorted({checkpoint.key_id or "" for checkpoint in proven})),
        columns,
        dictionaries,
        time.perf_counter() - started,
    )


def export_balances(
    replayed: ReplayedExport, view: View, filters: Filters, as_of: AsOf, *, today: date
) -> Sequence[BalanceRow]:
    """One view of the verified record's balances, as `balances` gives them (the same filters
    and derived views, the same engine)."""
    filters.check_for(view)
    if replayed.first_position != 1:
        raise InvalidQuery(
            QueryParameter.EXPORT_DIRECTORY,
            f"positions {replayed.first_position}..{replayed.last_position}",
            "balances need the record from position 1 (an export that starts there)",
        )
    if as_of.at_position is not None and as_of.at_position > replayed.last_position:
        raise InvalidQuery(
            QueryParameter.AT_POSITION,
            as_of.at_position,
            f"the export ends at {replayed.last_position}",
        )
    dictionaries = replayed.dictionaries
    require_known(dictionaries, filters, "export")

    def fetch(stored_view: View, selection: Selection) -> list[BalanceRow]:
        selection.check_for(stored_view)
        balances = column_balances(
            replayed.columns, dictionaries, today=today, as_of=as_of, selection=selection
        )
        return list(balances.view(stored_view))

    return view_rows(fetch, view, filters)
