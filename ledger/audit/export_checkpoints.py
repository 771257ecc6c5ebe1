"""An export's checkpoints proved the ledger's: each signed by a trusted key, the record covered.

A checkpoint row carries every field the relay signed (CHECKPOINT_SCHEMA, typed in every
format) plus the export's own `source`, which is not signed. The signed body is rebuilt from
the row (`recorded_at` as the relay wrote it: UTC, six decimals, `Z`) and verified by the same
TrustedKeys rules as the live readers'. The record is proven only up to its last signed
checkpoint: events after it are refused (RecordNotCovered), never replayed on trust.
"""

from __future__ import annotations

from typing import Any, Final

from ledger.audit.event_table import CHECKPOINT_SCHEMA
from ledger.audit.export_sources import SOURCE_STORE
from ledger.domain.recorded import format_utc
from ledger.proof.signatures import TrustedKeys
from schemas.checkpoint_signature import SIGNATURE_FIELD
from schemas.envelope import Checkpoint
from schemas.errors import IntegrityFailure

SIGNED_FIELDS: Final = tuple(Checkpoint.model_fields)
assert set(SIGNED_FIELDS) <= set(CHECKPOINT_SCHEMA.names), (
    "an exported checkpoint row carries every field the relay signs"
)


class RecordNotCovered(IntegrityFailure):
    """Exported events after the last signed checkpoint: nothing proves them the ledger's."""


class StoreExportUnsigned(IntegrityFailure):
    """An export made from the event store: its checkpoints are the export's own, unsigned."""


def signed_body(row: dict[str, Any]) -> dict[str, Any]:
    """An exported checkpoint row as the relay signed it (without the export's `source`)."""
    body = {name: row.get(name) for name in SIGNED_FIELDS}
    recorded_at = body["recorded_at"]
    if recorded_at is not None:
        body["recorded_at"] = format_utc(recorded_at)
    return body


def proven_checkpoints(rows: list[dict[str, Any]], trusted: TrustedKeys) -> list[Checkpoint]:
    """The rows in position order, each once its signature verifies under a trusted key;
    ForgedCheckpoint (or PoisonMessage) names the first that does not."""
    ordered = sorted(rows, key=lambda row: int(row["position"]))
    for row in ordered:
        if row.get("source") == SOURCE_STORE and row.get(SIGNATURE_FIELD) is None:
            # Not a forgery, but no proof either: say how to get an export that proves itself.
            raise StoreExportUnsigned(
                "checkpoint",
                f"position {row['position']}",
                "was computed by an export from the event store, not signed by the ledger, so "
                "it proves nothing the event store itself doesn't; export with `--source kafka` "
                "to carry the relay's signed checkpoints",
            )
    return [
        trusted.verified_body(signed_body(row), f"position {row['position']}") for row in ordered
    ]


def require_covered(checkpoints: list[Checkpoint], last_position: int) -> int:
    """The last position a signed checkpoint proves; RecordNotCovered when the record runs on."""
    covered_position = max((checkpoint.position for checkpoint in checkpoints), default=0)
    if covered_position < last_position:
        proven = (
            f"the last signed checkpoint is at {covered_position}; export up to it "
            f"(`export events --to-position {covered_position}`) once the relay has signed "
            "the rest"
            if covered_position
            else "the export holds no signed checkpoint"
        )
        raise RecordNotCovered(
            "position",
            covered_position + 1,
            f"positions {covered_position + 1}..{last_position} are not covered by a signed "
            f"checkpoint, so nothing proves them the ledger's: {proven}",
        )
    return covered_position
