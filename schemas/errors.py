"""Errors by kind: what went wrong, named by field and value, in the shape every door shows.

A client, an operator and a script see one shape, `{"field", "value", "message"}`, and one of
five kinds. Each entry point maps the kinds once (the CLI to exit codes in commands/cli/main.py,
HTTP to statuses in commands/http/errors.py); code below the entry points raises a kind and
never decides what the caller's door does with it.

- `Refused`: a command the ledger will not record (shape, rule, unknown subject, reused
  command_id), in the contract's field names. Nothing was recorded.
- `InvalidQuery`: a question that cannot be answered as asked, in the API's parameter names
  (`QueryParameter`); the CLI maps those to its flags.
- `ConfigurationError`: a setting (environment variable or flag) that cannot work.
- `Unavailable`: a dependency (event store, read or replay store, broker) is down, busy or not
  ready yet; trying again later can succeed.
- `IntegrityFailure`: what was read does not prove itself (chain, checkpoint, replay store,
  poison message): the reader stops rather than guess.
"""

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Final, Self, TypeVar

T = TypeVar("T")


class LedgerError(Exception):
    """A named failure: the field, the value and why. Raise one of the kinds, never this."""

    def __init__(self, field: str, value: Any, message: str) -> None:
        assert type(self) is not LedgerError, "raise one of the kinds (see KINDS)"
        super().__init__(f"{field}={value!r}: {message}")
        self.field = field
        self.value = value
        self.message = message

    def __reduce__(self) -> tuple[Any, ...]:
        # Crosses process boundaries (rebuild workers) with its field, value and message.
        return (type(self), (self.field, self.value, self.message))

    def renamed(self, field: str) -> Self:
        """The same error, of the same class, naming `field` instead (e.g. a CLI flag)."""
        return type(self)(field, self.value, self.message)

    def as_dict(self) -> dict[str, Any]:
        """The error as a JSON-ready object: `{"field", "value", "message"}`."""
        value = (
            self.value
            if isinstance(self.value, str | int | float | bool | type(None))
            else str(self.value)
        )
        return {"field": self.field, "value": value, "message": self.message}


class Refused(LedgerError):
    """A command the ledger will not record; names the contract's field. Nothing was recorded."""


class InvalidCommand(Refused):
    """Not a valid command: malformed JSON, unknown type, a field missing or of the wrong shape."""


class InvalidQuery(LedgerError):
    """A question that cannot be answered as asked; names the API's parameter."""


class UnknownSubject(InvalidQuery):
    """A question about a programme, application or recipient the ledger does not know."""


class ConfigurationError(LedgerError):
    """A setting that cannot work; names the environment variable (or flag) and its value."""


class Unavailable(LedgerError):
    """A dependency is down, busy or not ready; nothing was changed, a retry may succeed."""


class IntegrityFailure(LedgerError):
    """What was read does not prove itself (chain, checkpoint, replay store, message)."""


# The kinds an entry point must map; every error raised is a subclass of exactly one.
KINDS: Final = (Refused, InvalidQuery, ConfigurationError, Unavailable, IntegrityFailure)


def kind_of(error: LedgerError) -> type[LedgerError]:
    """The kind an error belongs to."""
    kinds = [kind for kind in KINDS if isinstance(error, kind)]
    assert len(kinds) == 1, f"{type(error).__name__} must be of exactly one kind, is {kinds}"
    return kinds[0]


def most_specific(error: LedgerError, table: Mapping[type[LedgerError], T]) -> T:
    """The table's entry for the most specific class of `error` (the table covers every kind)."""
    for cls in type(error).__mro__:
        if issubclass(cls, LedgerError) and cls in table:
            return table[cls]
    raise AssertionError(f"{type(error).__name__} is in no table entry; add its kind")


def assert_covers_kinds(table: Mapping[type[LedgerError], object], name: str) -> None:
    """Fail loudly (at import) when an entry point's table leaves a kind out."""
    missing = [kind.__name__ for kind in KINDS if kind not in table]
    assert not missing, f"{name} maps no {missing}"


class QueryParameter(StrEnum):
    """The read and audit API's parameter names; errors of a question name these (the CLI maps
    them to its flags)."""

    VIEW = "view"
    PROGRAMME = "programme"
    RECIPIENT = "recipient"
    COUNTY = "county"
    AGENCY = "agency"
    APPLICATION = "application_id"
    YEAR = "year"
    AS_OF_DATE = "as_of_date"
    AS_KNOWN_AT = "as_known_at"
    AT_POSITION = "at_position"
    FROM_POSITION = "from"
    LIMIT = "limit"
    FORMAT = "format"
    IDLE_MS = "idle_ms"
    SOURCE = "source"
    EXPORT_FROM_POSITION = "from_position"
    EXPORT_TO_POSITION = "to_position"
    EXPORT_DIRECTORY = "export_directory"
    BACKDATING_DAYS = "backdating_days"


class OperatorParameter(StrEnum):
    """Parameters of an operator's act the library refuses as a `ConfigurationError` (a skip, a
    new signing key); the CLI maps them to its flags like a question's."""

    SKIP_REASON = "reason"
    SIGNING_KEY_PATH = "signing_key_path"


class InternalError(LedgerError):
    """A bug, not one of the kinds: reported where a door must keep serving (a batch line)."""
