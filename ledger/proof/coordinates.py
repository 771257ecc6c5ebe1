"""Where a message is: topic, partition, offset; written `TOPIC:PARTITION:OFFSET`."""

from __future__ import annotations

from dataclasses import dataclass

from ledger.domain.errors import LedgerError

# Kafka topic names use [a-zA-Z0-9._-]: a colon can only be a separator.
SEPARATOR = ":"


@dataclass(frozen=True, slots=True, order=True)
class MessageAt:
    """One message's coordinates on Kafka."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}{SEPARATOR}{self.partition}{SEPARATOR}{self.offset}"

    @property
    def short(self) -> str:
        """`partition P offset O`, for messages where the topic is clear from context."""
        return f"partition {self.partition} offset {self.offset}"

    @classmethod
    def parse(cls, text: str, field: str) -> MessageAt:
        """`TOPIC:PARTITION:OFFSET`, or a LedgerError naming `field` and the text."""
        topic, _, rest = text.partition(SEPARATOR)
        partition, _, offset = rest.partition(SEPARATOR)
        if not (topic and partition.isascii() and partition.isdigit()):
            raise LedgerError(field, text, "expected TOPIC:PARTITION:OFFSET, e.g. t:0:42")
        if not (offset.isascii() and offset.isdigit()):
            raise LedgerError(field, text, "expected TOPIC:PARTITION:OFFSET, e.g. t:0:42")
        return cls(topic, int(partition), int(offset))
