"""The stored form of a programme event: the contract's `data` plus who, when and why."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING
from uuid import UUID

from pydantic import BaseModel, ConfigDict, field_serializer

from schemas.events import EVENT_SCHEMA_VERSION, AnyEventData

RECORDED_AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def format_utc(moment: datetime) -> str:
    """An instant as UTC with microseconds and `Z`, e.g. 2018-06-26T09:00:00.000000Z."""
    assert moment.tzinfo is not None, "instants must be timezone-aware"
    return moment.astimezone(UTC).strftime(RECORDED_AT_FORMAT)


if TYPE_CHECKING:
    from ledger.domain.programme import Programme


class ProgrammeEvent(BaseModel):
    """One immutable fact in a programme's stream (eventsourcing domain event, pydantic model)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    originator_id: str
    originator_version: int
    timestamp: datetime  # recorded_at: system time, UTC
    event_id: UUID
    effective_date: date
    actor: str
    agency: str
    command_id: str
    command_digest: str
    note: str | None
    schema_version: int = EVENT_SCHEMA_VERSION
    data: AnyEventData

    @field_serializer("timestamp")
    def _utc_microseconds(self, moment: datetime) -> str:
        # One spelling of an instant (UTC, 6 digits, Z) so the published envelope and its hash
        # can be rebuilt byte for byte from the stored state alone.
        return format_utc(moment)

    @property
    def recorded_at(self) -> datetime:
        """When the ledger recorded the event (UTC)."""
        return self.timestamp

    def mutate(self, aggregate: Programme | None) -> Programme:
        """Evolve the programme by this event (used by eventsourcing's repository)."""
        from ledger.domain.programme import Programme  # noqa: PLC0415 (cycle: aggregate <-> event)

        return Programme.evolve(aggregate, self)


class IndexEntry(BaseModel):
    """An entry of a uniqueness index kept as one-event aggregates (command ids, application ids).

    Saved in the same transaction as the programme event it indexes, so the store's
    (originator_id, version) uniqueness makes the index exact under concurrent writers.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    originator_id: str
    originator_version: int
    timestamp: datetime
    programme_id: str
    aggregate_version: int
    digest: str

    def mutate(self, aggregate: IndexEntry | None) -> IndexEntry:
        """An index aggregate is its single entry."""
        assert aggregate is None, "an index entry is written once"
        return self

    @property
    def id(self) -> str:
        """The index key (aggregate id)."""
        return self.originator_id

    @property
    def version(self) -> int:
        """Always 1: index entries are never updated."""
        return self.originator_version


COMMAND_KEY_PREFIX = "command:"
APPLICATION_KEY_PREFIX = "application:"


def command_key(command_id: str) -> str:
    """The index aggregate id that reserves a command_id."""
    return COMMAND_KEY_PREFIX + command_id


def application_key(application_id: str) -> str:
    """The index aggregate id that reserves an application_id and points to its programme."""
    return APPLICATION_KEY_PREFIX + application_id
