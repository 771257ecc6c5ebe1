"""The chain's status for auditors: what this service can prove, and what it cannot yet.

The store head is the hash chain recomputed from genesis over the event store (the system of
record), walked incrementally: each request hashes only the events recorded since the last
one. The read side's last checkpoint is the position and full hash of the newest event the
projector wrote into the local replay store (its manifest). "Verified" means that hash equals
the store's recomputed hash at that position: the balances were projected from the very chain
the store holds, without a fork or an altered event in between. It is not a signed checkpoint:
the relay's checkpoints on Kafka are not signed yet, and this service does not read Kafka.
"""

import threading
from pathlib import Path
from typing import Any

from ledger.application.grant_ledger import GrantLedger
from ledger.audit.verification import StoreChain
from projections.replay import ReplayStore
from projections.store.location import ReadStoreLocation
from projections.store.read_store import ReadStore

SIGNED_CHECKPOINTS_NOTE = (
    "signed checkpoints are not published yet; this status proves the read side applied the "
    "store's own chain, not who vouched for it"
)


class ChainWatch:
    """The store's chain, kept between requests (one walk at a time)."""

    def __init__(self, ledger: GrantLedger) -> None:
        self._chain = StoreChain(ledger)
        self._lock = threading.Lock()

    def head(self) -> tuple[int, str | None]:
        """(events in the store, hash of the last one), recomputing only what is new."""
        with self._lock:
            events = self._chain.compute()
            return events, self._chain.hash_at(events)

    def hash_at(self, position: int) -> str | None:
        """The store's hash at a position already walked."""
        with self._lock:
            return self._chain.hash_at(position)

    def status(self, read_store: ReadStoreLocation, replay_dir: Path) -> dict[str, Any]:
        """The JSON the auditor's page shows."""
        events, head_hash = self.head()
        manifest = ReplayStore(replay_dir).manifest
        with ReadStore(read_store) as store:
            balances_position = store.applied_position()
        checkpoint = None
        verified: bool | None = None
        if manifest.max_position > 0:
            checkpoint = {
                "position": manifest.max_position,
                "hash": manifest.max_position_hash,
                "source": "the projector's replay store (newest applied event)",
            }
            store_hash = self.hash_at(manifest.max_position)
            if manifest.max_position > events or (
                manifest.max_position_hash is not None and store_hash != manifest.max_position_hash
            ):
                verified = False
            elif manifest.max_position_hash is not None:
                verified = True
        return {
            "store_head": {"position": events, "hash": head_hash},
            "last_checkpoint": checkpoint,
            "verified": verified,
            "explanation": _explain(verified, checkpoint, events),
            "balances_position": balances_position,
            "signed": False,
            "note": SIGNED_CHECKPOINTS_NOTE,
        }


def _explain(verified: bool | None, checkpoint: dict[str, Any] | None, events: int) -> str:
    if checkpoint is None:
        return "the read side has applied no event yet: nothing to hold against the store"
    position = checkpoint["position"]
    if verified is None:
        return f"the read side holds position {position} without its hash: cannot be checked"
    if verified:
        return (
            f"the read side's hash at position {position} equals the chain recomputed from "
            f"genesis over the event store ({events} events)"
        )
    if position > events:
        return f"the read side claims position {position} but the store holds only {events}"
    return (
        f"the read side's hash at position {position} differs from the store's chain: "
        "a fork or an altered event; rebuild from the store's topic and investigate"
    )
