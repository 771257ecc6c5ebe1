"""`rebuild`: every projection from the local replay store (verified first) or from the topic,
built beside the live tables and swapped in atomically."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from ledger.infrastructure.kafka.reading import read_message
from ledger.infrastructure.kafka.security import KafkaEndpoint
from ledger.proof.bulk import BulkProof, prove
from ledger.proof.chain_reader import GENESIS_POINT, ChainPoint
from ledger.proof.coordinates import MessageAt
from ledger.proof.differences import describe_differences, loads_or_empty
from ledger.proof.signatures import TrustedKeys
from ledger.proof.skips import Skips
from ledger.settings import BOOTSTRAP_ENV_VAR
from projections.consumer.checkpoints import SignedCheckpoint, read_signed_checkpoints
from projections.consumer.fetch import Fetched, fetch_topic, topic_size
from projections.domain.progress import ProgressReport
from projections.replay import (
    BaseTotals,
    PartitionMark,
    ReplayStore,
    Verification,
    rebuilt_totals,
    verify_chain,
)
from projections.store.read_store import ReadStore
from schemas.chain import GENESIS_HASH
from schemas.errors import ConfigurationError, IntegrityFailure

Source = Literal["auto", "local", "kafka"]


@dataclass(frozen=True)
class KafkaSource:
    """Where the topic and its checkpoints are, and whose signatures to trust."""

    bootstrap_servers: KafkaEndpoint | str
    topic: str
    checkpoint_topic: str
    trusted_keys: TrustedKeys


@dataclass
class RebuildReport:
    """What a rebuild did and how fast."""

    source: str = ""
    events: int = 0
    complete_through: int = 0
    complete_through_hash: str | None = None
    checkpoints_checked: int = 0
    replay_bytes: int = 0
    fetch_s: float = 0.0
    compute_s: float = 0.0
    swap_s: float = 0.0
    elapsed_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def events_per_s(self) -> float:
        """Events rebuilt per second, end to end."""
        return self.events / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def bytes_per_event(self) -> float:
        """Replay store size per event on disk."""
        return self.replay_bytes / self.events if self.events else 0.0

    def summary(self) -> str:
        """One line for the terminal."""
        rate = f"{self.events_per_s:,.0f}".replace(",", " ")
        line = (
            f"rebuilt {self.events:,} events from {self.source} in {self.elapsed_s:.2f} s "
            f"({rate} events/s); {self.checkpoints_checked} checkpoints verified; "
            f"replay store {self.bytes_per_event:.1f} bytes/event"
        ).replace(",", " ")
        return line + "".join(f"; {note}" for note in self.notes)


def rebuild(
    read_store: ReadStore,
    replay: ReplayStore,
    *,
    source: Source = "auto",
    kafka: KafkaSource | None = None,
    checkpoints: Sequence[SignedCheckpoint] | None = None,
    workers: int | None = None,
    progress: ProgressReport | None = None,
    skips: Skips | None = None,
) -> RebuildReport:
    """Rebuild the read store; the replay store is verified, topped up or re-fetched as needed.

    What comes from the topic is proven first (ledger.proof.bulk): only positions that link
    from the start and that a signed checkpoint covers are kept.
    """
    started = time.perf_counter()
    report = RebuildReport()
    if source == "kafka" and kafka is None:
        raise ConfigurationError(BOOTSTRAP_ENV_VAR, None, "a rebuild from the topic needs it")
    skips = skips or Skips(read_store.skips(), (), by="", now="")
    with read_store.projector_lock(exclusive=True), replay.writing():
        if checkpoints is None:
            checkpoints = (
                read_signed_checkpoints(
                    kafka.bootstrap_servers, kafka.checkpoint_topic, kafka.trusted_keys, skips
                )
                if kafka
                else []
            )
        use_local = source == "local" or (source == "auto" and replay.event_count > 0)
        verdict = Verification()
        if use_local:
            verdict = _local_ready(
                replay, checkpoints, kafka=kafka, workers=workers, skips=skips, report=report
            )
            use_local = verdict.trusted or _refetch_instead(verdict, source, kafka, replay, report)
        if use_local:
            report.source = "the local replay store"
            report.checkpoints_checked = verdict.checked
            read_store.record_skips(skips.new)
            try:
                _compute_digesting_and_swap_in(read_store, replay, report)
            except _FilesDiffer as differ:
                use_local = _refetch_instead(differ.verdict, source, kafka, replay, report)
        if not use_local:
            assert kafka is not None
            _refetch(
                replay,
                kafka,
                checkpoints=checkpoints,
                workers=workers,
                progress=progress,
                skips=skips,
                report=report,
            )
            read_store.record_skips(skips.new)
            _compute_and_swap_in(read_store, replay, report)
    report.elapsed_s = time.perf_counter() - started
    if progress is not None:
        progress.update(report.events, report.events)
    return report


class _FilesDiffer(Exception):
    """The replay store's files do not match their digests: nothing computed from them is kept."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.verdict = Verification(problems=problems)


def _refetch_instead(
    verdict: Verification,
    source: Source,
    kafka: KafkaSource | None,
    replay: ReplayStore,
    report: RebuildReport,
) -> bool:
    """An untrusted local store: re-fetched from the topic when one is given, else refused."""
    reason = "; ".join(verdict.problems)
    if source == "local" or kafka is None:
        raise IntegrityFailure(
            "replay store", str(replay.directory), f"cannot be trusted: {reason}"
        )
    report.notes.append(f"local replay store re-fetched ({reason})")
    return False


def _compute_digesting_and_swap_in(
    read_store: ReadStore, replay: ReplayStore, report: RebuildReport
) -> None:
    """`_compute_and_swap_in` with the column files' CRC-32C checked by a second thread during
    the pass (the CRC runs outside the GIL); the pass's results are written nowhere before every
    file matches its digest (else _FilesDiffer)."""
    with ThreadPoolExecutor(1, thread_name_prefix="digests") as digesting:
        digests = digesting.submit(replay.digest_problems)

        def files_match() -> None:
            problems = digests.result()
            if problems:
                raise _FilesDiffer(problems)

        try:
            _compute_and_swap_in(read_store, replay, report, before_writing=files_match)
        except _FilesDiffer:
            raise
        except Exception:
            # A pass over damaged columns may fail in any way: the damage is named instead.
            files_match()
            raise


def _compute_and_swap_in(
    read_store: ReadStore,
    replay: ReplayStore,
    report: RebuildReport,
    *,
    before_writing: Callable[[], None] = lambda: None,
) -> None:
    """Every projection's totals from the proven replay store, swapped into the read store whole
    (only when the store holds every position through its last one, with that one's hash)."""
    compute_started = time.perf_counter()
    with rebuilt_totals(replay, before_writing=before_writing) as totals:
        report.compute_s = time.perf_counter() - compute_started
        swap_started = time.perf_counter()
        _swap_in(read_store, replay, totals, report)
        report.swap_s = time.perf_counter() - swap_started
    report.events = replay.manifest.events
    report.replay_bytes = replay.bytes_on_disk()


def _swap_in(
    read_store: ReadStore, replay: ReplayStore, totals: BaseTotals, report: RebuildReport
) -> None:
    """The totals swapped in, once the store is shown to hold every position through its last."""
    manifest = replay.manifest
    report.complete_through = _complete_through(replay)
    through_hash = manifest.max_position_hash or (
        GENESIS_HASH if manifest.max_position == 0 else None
    )
    if report.complete_through != manifest.max_position or through_hash is None:
        raise IntegrityFailure(
            "replay store",
            str(replay.directory),
            f"holds positions 1..{report.complete_through} of {manifest.max_position} and "
            "not the hash of its last one: re-fetch it (`rebuild --from kafka`)",
        )
    report.complete_through_hash = through_hash
    read_store.replace(
        totals,
        topic=manifest.topic,
        marks=dict(manifest.partitions),
        complete_through=report.complete_through,
        source=report.source,
        complete_through_hash=through_hash,
    )


def _complete_through(replay: ReplayStore) -> int:
    """The longest run of positions 1..k the store holds (it is compacted: in position order)."""
    if replay.manifest.complete:
        return replay.manifest.max_position
    return _complete_prefix(np.asarray(replay.load().events.position))


def _complete_prefix(sorted_positions: npt.NDArray[np.int64]) -> int:
    """k such that the sorted positions start 1, 2, ..., k."""
    expected = np.arange(1, len(sorted_positions) + 1, dtype=np.int64)
    gaps = np.flatnonzero(sorted_positions != expected)
    return int(gaps[0]) if len(gaps) else len(sorted_positions)


def _local_ready(
    replay: ReplayStore,
    checkpoints: Sequence[SignedCheckpoint],
    *,
    kafka: KafkaSource | None,
    workers: int | None,
    skips: Skips,
    report: RebuildReport,
) -> Verification:
    """Compact, verify against the chain, and top up from the topic when checkpoints show the
    store is behind. The files' digests are the pass's to check (a top-up checks them first)."""
    replay.compact()
    signed = [checkpoint for checkpoint, _ in checkpoints]
    verdict = verify_chain(replay, signed)
    if not verdict.trusted:
        # Damaged files are the likelier cause of a disagreement: named first.
        verdict.problems[:0] = replay.digest_problems()
    if verdict.trusted and verdict.behind_to > replay.manifest.max_position and kafka is not None:
        manifest = replay.manifest
        verdict.problems.extend(replay.digest_problems())
        if not verdict.trusted:
            return verdict
        if manifest.topic == kafka.topic and manifest.partitions and manifest.max_position_hash:
            fetch_started = time.perf_counter()
            fetched = fetch_topic(
                kafka.bootstrap_servers,
                kafka.topic,
                start_offsets={p: m.next_offset for p, m in manifest.partitions.items()},
                workers=workers,
                skips=skips,
            )
            start = ChainPoint(manifest.max_position, manifest.max_position_hash)
            proof = _prove(fetched, start, checkpoints, kafka)
            kept = _kept(fetched, proof)
            _append_fetched(replay, kept, kafka.topic)
            report.fetch_s += time.perf_counter() - fetch_started
            report.notes.append(f"topped up {int(proof.keep.sum())} events from {kafka.topic}")
            _note_uncovered(report, proof)
            replay.compact()
            verdict = verify_chain(replay, signed)
        else:
            verdict.problems.append("behind the checkpoints, and without offsets to continue from")
    return verdict


def _prove(
    fetched: Fetched, start: ChainPoint, checkpoints: Sequence[SignedCheckpoint], kafka: KafkaSource
) -> BulkProof:
    """The fetched messages, proven from `start` (forks explained by reading both again)."""

    def explain(first: MessageAt, second: MessageAt) -> str:
        values = [
            read_message(kafka.bootstrap_servers, at.topic, at.partition, at.offset)
            for at in (first, second)
        ]
        return describe_differences(
            loads_or_empty(values[0]), loads_or_empty(values[1]), (first.short, second.short)
        )

    return prove(fetched.chain, start, checkpoints, explain)


def _kept(fetched: Fetched, proof: BulkProof) -> Fetched:
    """The fetch with only the proven events, and resume marks before anything not kept."""
    columns = fetched.columns.select_events(proof.keep)
    marks = dict(fetched.marks)
    chain = fetched.chain
    dropped = ~proof.keep & (chain.position > proof.through.position)
    for partition, offset in zip(
        chain.partition[dropped].tolist(), chain.offset[dropped].tolist(), strict=True
    ):
        mark = marks[partition]
        marks[partition] = PartitionMark(min(mark.next_offset, offset), mark.max_position)
    newest = (proof.through.position, proof.through.hash) if proof.through.position else None
    return dataclasses.replace(fetched, columns=columns, marks=marks, newest=newest)


def _note_uncovered(report: RebuildReport, proof: BulkProof) -> None:
    if proof.duplicates:
        report.notes.append(f"{proof.duplicates} identical copies of events dropped")
    if proof.not_covered:
        report.notes.append(
            f"{proof.not_covered} events after position {proof.through.position} are not "
            "covered by a signed checkpoint yet: not applied"
        )


def _append_fetched(replay: ReplayStore, fetched: Fetched, topic: str) -> None:
    """Append fetched columns, recoded into the store's dictionaries."""
    replay.append(
        fetched.columns.recoded(fetched.dictionaries.as_lists(), replay.dictionaries),
        newest_hash=fetched.newest,
        topic=topic,
        partitions=fetched.marks,
    )


def _refetch(
    replay: ReplayStore,
    kafka: KafkaSource,
    *,
    checkpoints: Sequence[SignedCheckpoint],
    workers: int | None,
    progress: ProgressReport | None,
    skips: Skips,
    report: RebuildReport,
) -> None:
    """Replace the replay store with what the topic proves: every position from 1 that links
    and that a signed checkpoint covers."""
    fetch_started = time.perf_counter()
    if progress is not None:
        progress.update(0, topic_size(kafka.bootstrap_servers, kafka.topic))
    fetched = fetch_topic(
        kafka.bootstrap_servers,
        kafka.topic,
        workers=workers,
        progress=None if progress is None else progress.update,
        skips=skips,
    )
    proof = _prove(fetched, GENESIS_POINT, checkpoints, kafka)
    kept = _kept(fetched, proof)
    _note_uncovered(report, proof)
    columns = kept.columns.in_position_order()
    replay.rewrite(
        columns,
        dictionaries=kept.dictionaries,
        max_position_hash=proof.through.hash if proof.through.position else None,
        topic=kafka.topic,
        partitions=kept.marks,
    )
    report.fetch_s = time.perf_counter() - fetch_started
    report.source = f"topic {kafka.topic}"
    report.checkpoints_checked = proof.checkpoints_matched
