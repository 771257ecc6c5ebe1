"""Why a command could not be recorded although nothing refused it: the store or the race."""

from schemas.errors import Unavailable


class ConcurrencyExhausted(Unavailable):
    """Other writers kept winning the race; the command was not recorded, a retry may succeed."""


class StoreUnavailable(Unavailable):
    """The event store could not be reached or kept refusing; nothing was recorded."""
