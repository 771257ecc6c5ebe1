"""Integrity failures: what was read does not prove itself, so the reader stops and says why."""

from ledger.domain.errors import LedgerError


class IntegrityError(LedgerError):
    """What was read does not prove itself (chain, checkpoint, message): the reader stops."""


class PoisonMessage(IntegrityError):
    """A message that is not a valid envelope (or checkpoint); names where it is and why."""


class ForkDetected(IntegrityError):
    """Two different messages claim one position; names both and what differs."""


class ChainBroken(IntegrityError):
    """A message does not link to the position before it (its prev_hash differs)."""


class ForgedCheckpoint(IntegrityError):
    """A checkpoint without a valid signature of a trusted key, or one contradicting the chain."""


class PositionMissing(IntegrityError):
    """A position a signed checkpoint covers is not on the topic, though it was read to its end."""
