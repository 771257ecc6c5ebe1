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
    """A point of the hash chain, published on `grant-ledger.checkpoints`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    position: Annotated[int, Field(ge=0, strict=True)]
    hash: Sha256Hex
    events: Annotated[int, Field(ge=0, strict=True)]
    recorded_at: datetime
