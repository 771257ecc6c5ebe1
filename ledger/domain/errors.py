"""Why the ledger refused a command: always naming the field and the value."""

from typing import Any


class LedgerError(Exception):
    """A refusal that names the offending field and value; nothing was recorded."""

    def __init__(self, field: str, value: Any, message: str) -> None:
        super().__init__(f"{field}={value!r}: {message}")
        self.field = field
        self.value = value
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        # Crosses process boundaries (rebuild workers) with its field, value and message.
        return (type(self), (self.field, self.value, self.message))

    def as_dict(self) -> dict[str, Any]:
        """The refusal as a JSON-ready object."""
        value = (
            self.value
            if isinstance(self.value, str | int | float | bool | type(None))
            else str(self.value)
        )
        return {"field": self.field, "value": value, "message": self.message}


class RuleViolation(LedgerError):
    """A business rule of the programme forbids the command."""


class NotFound(LedgerError):
    """The command names a programme or application the ledger does not know."""


class CommandIdConflict(LedgerError):
    """The command_id was already used for a command with different content."""


class ConcurrencyExhausted(LedgerError):
    """Other writers kept winning the race; the command was not recorded."""


class StoreUnavailable(LedgerError):
    """The event store could not be reached or kept refusing; nothing was recorded."""


class InvalidQuery(LedgerError):
    """A question (a filter, a date, a range) that cannot be asked as given."""


class ReadSideUnavailable(LedgerError):
    """The read side cannot answer yet (an empty or incomplete replay store): nothing is wrong
    with the question; project or rebuild first."""
