"""`rebuild`: every projection from the local replay store (verified first) or from the topic,
built beside the live tables and swapped in atomically."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt

from ledger.domain.errors import LedgerError
from ledger.infrastructure.kafka.security import KafkaEndpoint
from projections.application.progress import Progress
from projections.consumer.checkpoints import read_checkpoints
from projections.consumer.fetch import DEFAULT_IDLE_MS, Fetched, fetch_topic, topic_size
from projections.replay import (
    ReplayStore,
    Verification,
    check_chain,
    rebuild_totals,
    verify_store,
)
from projections.store.read_store import ReadStore
from schemas.envelope import Checkpoint

Source = Literal["auto", "local", "kafka"]


@dataclass(frozen=True)
class KafkaSource:
    """Where the topic and its checkpoints are."""

    bootstrap_servers: KafkaEndpoint | str
    topic: str
    checkpoint_topic: str


@dataclass
class RebuildReport:
    """What a rebuild did and how fast."""

    source: str = ""
    events: int = 0
    complete_through: int = 0
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
    checkpoints: Sequence[Checkpoint] | None = None,
    workers: int | None = None,
    idle_ms: int = DEFAULT_IDLE_MS,
    progress: Progress | None = None,
) -> RebuildReport:
    """Rebuild the read store; the replay store is verified, topped up or re-fetched as needed."""
    started = time.perf_counter()
    report = RebuildReport()
    if source == "kafka" and kafka is None:
        raise LedgerError("--from", "kafka", "needs a Kafka broker (KAFKA_BOOTSTRAP_SERVERS)")
    with read_store.projector_lock(exclusive=True), replay.writing():
        if checkpoints is None:
            checkpoints = (
                read_checkpoints(kafka.bootstrap_servers, kafka.checkpoint_topic) if kafka else []
            )
        use_local = source == "local" or (source == "auto" and replay.event_count > 0)
        if use_local:
            verdict = _local_ready(
                replay, checkpoints, kafka=kafka, workers=workers, idle_ms=idle_ms, report=report
            )
            if not verdict.trusted:
                reason = "; ".join(verdict.problems)
                if source == "local" or kafka is None:
                    raise LedgerError(
                        "--from", "local", f"the replay store cannot be trusted: {reason}"
                    )
                report.notes.append(f"local replay store re-fetched ({reason})")
                use_local = False
            else:
                report.source = "the local replay store"
                report.checkpoints_checked = verdict.checked
        if not use_local:
            assert kafka is not None
            _refetch(
                replay,
                kafka,
                checkpoints=checkpoints,
                workers=workers,
                idle_ms=idle_ms,
                progress=progress,
                report=report,
            )
        compute_started = time.perf_counter()
        manifest = replay.manifest
        totals = rebuild_totals(replay)
        report.compute_s = time.perf_counter() - compute_started
        swap_started = time.perf_counter()
        report.complete_through = _complete_through(replay)
        read_store.replace(
            totals,
            topic=manifest.topic,
            marks=dict(manifest.partitions),
            complete_through=report.complete_through,
            source=report.source,
        )
        report.swap_s = time.perf_counter() - swap_started
        report.events = manifest.events
        report.replay_bytes = replay.bytes_on_disk()
    report.elapsed_s = time.perf_counter() - started
    if progress is not None:
        progress.update(report.events, report.events)
    return report


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
    checkpoints: Sequence[Checkpoint],
    *,
    kafka: KafkaSource | None,
    workers: int | None,
    idle_ms: int,
    report: RebuildReport,
) -> Verification:
    """Compact, verify, and top up from the topic when checkpoints show the store is behind."""
    replay.compact()
    verdict = verify_store(replay, checkpoints)
    if verdict.trusted and verdict.behind_to > replay.manifest.max_position and kafka is not None:
        manifest = replay.manifest
        if manifest.topic == kafka.topic and manifest.partitions:
            fetch_started = time.perf_counter()
            fetched = fetch_topic(
                kafka.bootstrap_servers,
                kafka.topic,
                start_offsets={p: m.next_offset for p, m in manifest.partitions.items()},
                idle_ms=idle_ms,
                workers=workers,
            )
            _append_fetched(replay, fetched, kafka.topic)
            report.fetch_s += time.perf_counter() - fetch_started
            report.notes.append(f"topped up {fetched.messages} events from {kafka.topic}")
            replay.compact()
            verdict = verify_store(replay, checkpoints)
        else:
            verdict.problems.append("behind the checkpoints, and without offsets to continue from")
    return verdict


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
    checkpoints: Sequence[Checkpoint],
    workers: int | None,
    idle_ms: int,
    progress: Progress | None,
    report: RebuildReport,
) -> None:
    """Replace the replay store with everything on the topic, verified against its checkpoints."""
    fetch_started = time.perf_counter()
    if progress is not None:
        progress.total = topic_size(kafka.bootstrap_servers, kafka.topic)
    fetched = fetch_topic(
        kafka.bootstrap_servers,
        kafka.topic,
        idle_ms=idle_ms,
        workers=workers,
        progress=None if progress is None else progress.update,
    )
    columns = fetched.columns.in_position_order()
    positions = np.asarray(columns.events.position)
    if not columns.is_position_sorted():
        # The same position twice on the topic (a re-published event): keep one.
        keep = np.ones(len(positions), dtype=np.bool_)
        keep[1:] = positions[1:] != positions[:-1]
        columns = columns.select_events(keep)
        report.notes.append(f"{int((~keep).sum())} duplicate positions skipped")
    newest = fetched.newest
    max_position = int(columns.events.position[-1]) if columns.event_count else 0
    hash_at_max = newest[1] if newest is not None and newest[0] == max_position else None
    complete_prefix = _complete_prefix(np.asarray(columns.events.position))
    checked, wrong = check_chain(columns.events.hash_prefix, checkpoints, complete_prefix)
    if wrong:
        raise LedgerError(
            "topic",
            kafka.topic,
            f"{len(wrong)} events disagree with its checkpoints, first at position {wrong[0]}",
        )
    replay.rewrite(
        columns,
        dictionaries=fetched.dictionaries,
        max_position_hash=hash_at_max,
        topic=kafka.topic,
        partitions=fetched.marks,
    )
    report.fetch_s = time.perf_counter() - fetch_started
    report.source = f"topic {kafka.topic}"
    report.checkpoints_checked = checked
