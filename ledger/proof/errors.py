"""Integrity failures: what was read does not prove itself, so the reader stops and says why.

Each is of the kind `IntegrityFailure` (schemas/errors.py): exit code 4 on the CLI.
"""

from schemas.errors import IntegrityFailure


class PoisonMessage(IntegrityFailure):
    """A message that is not a valid envelope (or checkpoint); names where it is and why."""


class ForkDetected(IntegrityFailure):
    """Two different messages claim one position; names both and what differs."""


class ChainBroken(IntegrityFailure):
    """A message does not link to the position before it (its prev_hash differs)."""


class ForgedCheckpoint(IntegrityFailure):
    """A checkpoint without a valid signature of a trusted key, or one contradicting the chain."""


class PositionMissing(IntegrityFailure):
    """A position a signed checkpoint covers is not on the topic, though it was read to its end."""
