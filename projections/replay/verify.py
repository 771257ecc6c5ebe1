"""Whether a replay store can be trusted: its files match the manifest, and its events match
the hash chain at every checkpoint it covers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from projections.replay.layout import hash_prefix
from projections.replay.store import ReplayStore
from schemas.envelope import Checkpoint


@dataclass
class Verification:
    """The verdict, with reasons when the store is not trusted."""

    problems: list[str] = field(default_factory=list)
    checked: int = 0
    # The last checkpoint past the store's last position: the store is behind up to there.
    behind_to: int = 0

    @property
    def trusted(self) -> bool:
        """True when nothing contradicts the store."""
        return not self.problems


def check_chain(
    hash_prefixes: npt.NDArray[Any], checkpoints: Sequence[Checkpoint], through: int
) -> tuple[int, list[int]]:
    """Compare checkpoints at positions 1..through with rows in position order (row = position - 1).

    Returns (checkpoints compared, positions that disagree).
    """
    covered = [cp for cp in checkpoints if 0 < cp.position <= through]
    if not covered:
        return 0, []
    positions = np.array([cp.position for cp in covered], dtype=np.int64)
    expected = np.array([hash_prefix(cp.hash) for cp in covered], dtype=np.uint64)
    actual = np.asarray(hash_prefixes)[positions - 1]
    return len(covered), [int(p) for p in positions[actual != expected]]


def verify_store(store: ReplayStore, checkpoints: Sequence[Checkpoint]) -> Verification:
    """Digests, completeness (positions 1..N in order), and the hash at every checkpoint <= N."""
    problems = store.digest_problems()
    if problems:
        return Verification(problems=problems)
    return verify_chain(store, checkpoints)


def verify_chain(store: ReplayStore, checkpoints: Sequence[Checkpoint]) -> Verification:
    """`verify_store` without the files' digests, for a caller that runs them meanwhile and
    trusts nothing before they match (the rebuild digests beside its pass)."""
    verdict = Verification()
    manifest = store.manifest
    last = manifest.max_position
    if not manifest.complete:
        verdict.problems.append(
            f"holds {manifest.events} events but positions reach {last}"
            + ("" if manifest.position_sorted else " (not in position order)")
        )
        return verdict
    verdict.behind_to = max((cp.position for cp in checkpoints if cp.position > last), default=0)
    checked, wrong = check_chain(store.load().events.hash_prefix, checkpoints, last)
    verdict.checked = checked
    if last and not checked:
        verdict.problems.append(f"no checkpoint at or below position {last} to verify against")
    if wrong:
        verdict.problems.append(
            f"{len(wrong)} checkpoints disagree with the stored events, "
            f"first at position {wrong[0]}"
        )
    at_last = [cp for cp in checkpoints if cp.position == last]
    if at_last and manifest.max_position_hash not in (None, at_last[0].hash):
        verdict.problems.append(f"the hash of position {last} differs from its checkpoint")
    return verdict
