"""The reader's proof for a whole topic at once (`rebuild --from kafka`): the same rules as
ChainReader, over numpy columns instead of one arrival at a time.

Given every message read (position, hash, prev_hash, partition, offset, in arrival order) and the
signed checkpoints: one copy of each position is kept (identical copies dropped, different ones
are a fork), positions from the start link hash to hash in position order, and only positions up
to the highest signed checkpoint on that chain are kept. Everything else is reported, never
applied.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from ledger.proof.chain_reader import ChainPoint
from ledger.proof.coordinates import MessageAt
from ledger.proof.errors import ChainBroken, ForgedCheckpoint, ForkDetected, PositionMissing
from schemas.envelope import Checkpoint

HASH_BYTES = 32
HASH_DTYPE = np.dtype(f"S{HASH_BYTES}")
HASH_PREFIX_SHOWN = 12

# Explains two messages at one position: what differs (the caller reads them again).
Explain = Callable[[MessageAt, MessageAt], str]


@dataclass(frozen=True)
class ChainColumns:
    """What the proof needs of each message read, in arrival order."""

    topic: str
    position: npt.NDArray[np.int64]
    hash: npt.NDArray[Any]  # S32: the 32 raw bytes
    prev_hash: npt.NDArray[Any]
    partition: npt.NDArray[np.int32]
    offset: npt.NDArray[np.int64]

    def at(self, row: int) -> MessageAt:
        """Where the message of a row was."""
        return MessageAt(self.topic, int(self.partition[row]), int(self.offset[row]))


@dataclass(frozen=True)
class BulkProof:
    """What may be applied: rows (arrival order) of positions start+1..through, one each."""

    keep: npt.NDArray[np.bool_]
    through: ChainPoint
    duplicates: int
    not_covered: int
    checkpoints_matched: int


def hashes_of(hex_hashes: Sequence[str]) -> npt.NDArray[Any]:
    """Hex chain hashes as S32 raw bytes."""
    if not hex_hashes:
        return np.empty(0, dtype=HASH_DTYPE)
    return np.frombuffer(bytes.fromhex("".join(hex_hashes)), dtype=HASH_DTYPE)


def _hex(raw: bytes) -> str:
    return raw.ljust(HASH_BYTES, b"\0").hex()


def _short(raw: bytes) -> str:
    return _hex(raw)[:HASH_PREFIX_SHOWN] + "…"


def prove(
    columns: ChainColumns,
    start: ChainPoint,
    checkpoints: Sequence[tuple[Checkpoint, MessageAt]],
    explain: Explain,
) -> BulkProof:
    """Keep what the chain from `start` and the signed checkpoints prove (see the module doc)."""
    position = columns.position
    order = np.argsort(position, kind="stable")
    ordered = position[order]
    after_start = ordered > start.position
    order, ordered = order[after_start], ordered[after_start]
    same = ordered[1:] == ordered[:-1]
    if same.any():
        _refuse_forks(columns, order, same, explain)
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = ~same
    unique_rows = order[first]
    unique_positions = ordered[first]
    duplicates = int(len(order) - len(unique_rows)) + int((~after_start).sum())
    expected = np.arange(start.position + 1, start.position + 1 + len(unique_positions))
    gaps = np.flatnonzero(unique_positions != expected)
    linked = int(gaps[0]) if len(gaps) else len(unique_positions)
    rows = unique_rows[:linked]
    _check_links(columns, rows, start)
    through, matched = _signed_through(columns, rows, start, checkpoints)
    covered = through.position - start.position
    keep = np.zeros(len(position), dtype=np.bool_)
    keep[rows[:covered]] = True
    return BulkProof(keep, through, duplicates, len(unique_rows) - covered, matched)


def _refuse_forks(
    columns: ChainColumns,
    order: npt.NDArray[np.int64],
    same: npt.NDArray[np.bool_],
    explain: Explain,
) -> None:
    for index in np.flatnonzero(same).tolist():
        a, b = int(order[index]), int(order[index + 1])
        if columns.hash[a] != columns.hash[b]:
            first, second = columns.at(a), columns.at(b)
            raise ForkDetected(
                "position",
                int(columns.position[a]),
                f"two different messages claim it: {first} (hash {_short(columns.hash[a])}) and "
                f"{second} (hash {_short(columns.hash[b])}); {explain(first, second)}. No reader "
                "picks one: find the foreign one (`grant-ledger verify`) and skip it with --skip "
                'TOPIC:PARTITION:OFFSET --reason "…"',
            )


def _check_links(columns: ChainColumns, rows: npt.NDArray[np.int64], start: ChainPoint) -> None:
    if not len(rows):
        return
    expected_prev = np.empty(len(rows), dtype=HASH_DTYPE)
    expected_prev[0] = bytes.fromhex(start.hash)
    expected_prev[1:] = columns.hash[rows[:-1]]
    broken = np.flatnonzero(columns.prev_hash[rows] != expected_prev)
    if len(broken):
        index = int(broken[0])
        row = int(rows[index])
        at = columns.at(row)
        raise ChainBroken(
            "position",
            int(columns.position[row]),
            f"{at} does not link to position {int(columns.position[row]) - 1}: its prev_hash "
            f"{_short(columns.prev_hash[row])} differs from that position's hash "
            f"{_short(expected_prev[index])} (a forged or foreign message; skip it with --skip "
            f'{at} --reason "…" once verified)',
        )


def _signed_through(
    columns: ChainColumns,
    rows: npt.NDArray[np.int64],
    start: ChainPoint,
    checkpoints: Sequence[tuple[Checkpoint, MessageAt]],
) -> tuple[ChainPoint, int]:
    """The highest signed checkpoint on the linked chain; loud when one contradicts it."""
    linked_through = start.position + len(rows)
    through, matched = start, 0
    for checkpoint, at in checkpoints:
        if checkpoint.position <= start.position:
            continue
        if checkpoint.position > linked_through:
            raise PositionMissing(
                "position",
                linked_through + 1,
                f"is covered by the signed checkpoint at {checkpoint.position} ({at}) but is not "
                f"on {columns.topic}, which was read to its end",
            )
        on_chain = _hex(columns.hash[rows[checkpoint.position - start.position - 1]])
        if on_chain != checkpoint.hash:
            raise ForgedCheckpoint(
                "checkpoint",
                str(at),
                f"is validly signed but says position {checkpoint.position} has hash "
                f"{checkpoint.hash[:HASH_PREFIX_SHOWN]}…, while the chain read from the topic has "
                f"{on_chain[:HASH_PREFIX_SHOWN]}…: the topic and the signer disagree",
            )
        matched += 1
        if checkpoint.position > through.position:
            through = ChainPoint(checkpoint.position, checkpoint.hash)
    return through, matched
