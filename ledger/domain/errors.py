"""Why the domain refused a command: always naming the contract's field and the value."""

from schemas.errors import Refused


class RuleViolation(Refused):
    """A business rule of the programme forbids the command."""


class NotFound(Refused):
    """The command names a programme or application the ledger does not know."""


class CommandIdConflict(Refused):
    """The command_id was already used for a command with different content."""
