"""What the application layer tells the domain about the command being decided."""

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID


@dataclass(frozen=True, slots=True)
class CommandContext:
    """Who acts, when, and under which command; the clock and ids come from outside the domain."""

    event_id: UUID
    recorded_at: datetime
    effective_date: date
    actor: str
    agency: str
    command_id: str
    command_digest: str
    note: str | None

    def __post_init__(self) -> None:
        assert self.recorded_at.tzinfo is not None, "recorded_at must be timezone-aware (UTC)"
