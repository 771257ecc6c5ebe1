"""The message on the Kafka topic: one envelope per recorded event (the integrators' contract)."""

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from schemas.events import AnyEventData
from schemas.identifiers import AgencySlug, Identifier, Text

GENESIS_HASH = "0" * 64
Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]

# CloudEvents 1.0 Kafka binding (binary mode): attributes travel as ce_* headers.
CLOUDEVENTS_SPECVERSION = "1.0"
CLOUDEVENTS_SOURCE = "urn:grant-ledger"
CONTENT_TYPE = "application/json"
# A message value larger than this is not an envelope (the largest event, with every text field
# full, is a few tens of KiB): readers refuse it by size before parsing it.
MAX_ENVELOPE_BYTES = 1024 * 1024
# Ed25519 signatures are 64 bytes: 86 characters of unpadded base64url.
Base64UrlSignature = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{86}$")]
# RFC 7638 JWK thumbprint: SHA-256, 43 characters of unpadded base64url.
KeyId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{43}$")]


class EventEnvelope(BaseModel):
    """One event as published on `grant-ledger.events`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    position: Annotated[int, Field(ge=1, strict=True)] = Field(
        description="Global, gap-free order of the event in the ledger, from 1."
    )
    event_id: str = Field(description="UUID of the event.")
    type: str = Field(description="Event type; also the `type` of `data`.")
    schema_version: Annotated[int, Field(ge=1, strict=True)]
    aggregate_id: Identifier = Field(description="The programme whose stream holds the event.")
    aggregate_version: Annotated[int, Field(ge=1, strict=True)]
    recorded_at: datetime = Field(description="When the ledger recorded it (UTC, system time).")
    effective_date: date = Field(description="When it counts in the books (business date).")
    programme_id: Identifier
    actor: Text
    agency: AgencySlug
    command_id: Identifier
    note: Text | None = None
    data: AnyEventData
    prev_hash: Sha256Hex
    hash: Sha256Hex


class Checkpoint(BaseModel):
    """A point of the hash chain, signed by the ledger, published on `grant-ledger.checkpoints`.

    The chain's `hash` after the event at `position` commits to every event up to it, so a
    valid signature over the checkpoint proves positions 1..position as published by the
    ledger. How to verify one: `schemas.checkpoint_signature`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    position: Annotated[int, Field(ge=0, strict=True)]
    hash: Sha256Hex
    events: Annotated[int, Field(ge=0, strict=True)]
    recorded_at: datetime
    key_id: KeyId | None = Field(
        default=None,
        description="RFC 7638 JWK thumbprint of the Ed25519 key that signed the checkpoint.",
    )
    signature: Base64UrlSignature | None = Field(
        default=None,
        description=(
            "Ed25519 signature (unpadded base64url) over the checkpoint without `signature`, "
            "serialised as JSON with sorted keys and no whitespace. The ledger's readers apply "
            "nothing a validly signed checkpoint does not cover."
        ),
    )
