"""The broker could not be used: down, not answering, not delivering, or refusing a send."""

from schemas.errors import Unavailable


class BrokerUnavailable(Unavailable):
    """No broker answers at the bootstrap address, or it stopped delivering; retry later."""
