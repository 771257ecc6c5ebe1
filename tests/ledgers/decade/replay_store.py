"""The decade ledger as a local replay store, the way the read side fills one.

Events go through the published envelope (`chained_envelopes`: the relay's encoding and hash
chain) and the consumer's fast decode path (`Columnizer`, as `rebuild --from kafka` reads the
topic) into a replay store; checkpoints are taken every CHECKPOINT_EVERY positions as the relay
publishes them. Built once per size and seed into a cache directory (ten million events take
minutes), reused by later runs.
"""

from __future__ import annotations

import gc
import os
import pickle
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from ledger.application.envelopes import envelope_body, seal
from projections.consumer.columnizer import Columnizer
from projections.replay import ReplayStore
from schemas.chain import GENESIS_HASH
from schemas.envelope import Checkpoint
from tests.ledgers.decade.direct import SEED, decade_states

# Bump when the ledger the generator makes changes: cached stores of older versions are rebuilt.
GENERATOR_VERSION = 1
CHECKPOINT_EVERY = 1_000
# Events decoded into Python lists before they become arrays (lists cost ~10x the columns).
COLUMNIZE_BATCH = 250_000
CACHE_ENV = "GRANT_LEDGER_BENCH_CACHE"
DEFAULT_CACHE = Path(".grant-ledger") / "bench"
CHECKPOINTS_FILE = "checkpoints.pickle"
BUILT_FILE = "built.json"


@dataclass(frozen=True)
class DecadeStore:
    """A replay store of the decade ledger and the checkpoints of its chain."""

    directory: Path
    events: int
    checkpoints: list[Checkpoint]
    build_seconds: float

    def open(self) -> ReplayStore:
        """The replay store (read-only use)."""
        return ReplayStore(self.directory / "replay")


def cache_directory(events: int, seed: int = SEED) -> Path:
    """Where the store of this size and seed is kept."""
    root = Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE)
    return root / f"decade-v{GENERATOR_VERSION}-{events}-{seed}"


def decade_store(events: int, seed: int = SEED) -> DecadeStore:
    """The cached store, built first when missing (by one worker process per core)."""
    directory = cache_directory(events, seed)
    built = directory / BUILT_FILE
    if not built.exists():
        build(directory, events, seed, workers=os.cpu_count() or 1)
    meta = orjson.loads(built.read_bytes())
    checkpoints = pickle.loads((directory / CHECKPOINTS_FILE).read_bytes())
    return DecadeStore(directory, int(meta["events"]), checkpoints, float(meta["build_seconds"]))


def build(directory: Path, events: int, seed: int = SEED, *, workers: int = 1) -> None:
    """Generate the ledger into `directory` (replacing what was there)."""
    started = time.perf_counter()
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    store = ReplayStore(directory / "replay", durable=False)
    checkpoints: list[Checkpoint] = []
    with store.writing():
        columnizer = Columnizer(store.dictionaries)
        prev_hash = GENESIS_HASH
        states = decade_states(events, seed, workers=workers)
        for position, (*_, aggregate_id, version, state) in enumerate(states, start=1):
            body = envelope_body(position, aggregate_id, version, orjson.loads(state))
            envelope = seal(body, prev_hash)
            prev_hash = envelope["hash"]
            columnizer.add(orjson.dumps(envelope))
            if position % CHECKPOINT_EVERY == 0:
                checkpoints.append(_checkpoint(position, prev_hash))
            if len(columnizer) == COLUMNIZE_BATCH:
                _append(store, columnizer)
                columnizer = Columnizer(store.dictionaries)
        _append(store, columnizer)
    newest = store.manifest.max_position
    if not checkpoints or checkpoints[-1].position != newest:
        assert store.manifest.max_position_hash is not None
        checkpoints.append(_checkpoint(newest, store.manifest.max_position_hash))
    (directory / CHECKPOINTS_FILE).write_bytes(pickle.dumps(checkpoints))
    seconds = time.perf_counter() - started
    (directory / BUILT_FILE).write_bytes(
        orjson.dumps(
            {
                "events": store.event_count,
                "seed": seed,
                "workers": workers,
                "build_seconds": seconds,
            }
        )
    )


def _append(store: ReplayStore, columnizer: Columnizer) -> None:
    if len(columnizer):
        store.append(columnizer.build(), newest_hash=columnizer.newest)
    # The columnizer's `add` closes over the columnizer: a cycle, which only a full collection
    # frees, and with it a batch's lists (tens of MB) each time.
    gc.collect()


def _checkpoint(position: int, chain_hash: str) -> Checkpoint:
    return Checkpoint(
        position=position, hash=chain_hash, events=position, recorded_at=datetime.now(tz=UTC)
    )
