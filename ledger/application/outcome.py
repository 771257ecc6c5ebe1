"""What executing a command produced."""

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Outcome:
    """The recorded event of a command (or of its earlier run, when `duplicate`)."""

    command_id: str
    programme_id: str
    aggregate_version: int
    event_type: str
    position: int
    duplicate: bool
    # Write races this command lost (and re-decided) before it was recorded or found recorded.
    write_conflicts: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)
