"""Whether anyone in a consumer group holds a partition, as the group's coordinator says.

A standby projector asks it, because kafka-python can leave a group where it waits for ever:
- its leader assigned the checkpoint partition to nobody (the topic missing from its metadata
  when it assigned, after a broker restart or a topic re-created under it) and never noticed
  the topic come back;
- after a broker restarted on an emptied data dir, its membership client never found the new
  group coordinator again, so the group has no members at all.
Either way every instance stands by, the books lag, and nothing says so.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Final

from kafka.errors import KafkaError

from ledger.infrastructure.kafka.clients import open_admin
from ledger.infrastructure.kafka.errors import BrokerUnavailable
from ledger.infrastructure.kafka.security import KafkaEndpoint

GROUP_QUERY_TIMEOUT_MS: Final = 10_000
# Only a settled group's assignment says who holds what; during a rebalance nobody does.
STABLE: Final = "Stable"
# A group with no members: never formed, or every member left (or was never let back in).
WITHOUT_MEMBERS: Final = frozenset({"Empty", "Dead"})


class Holding(Enum):
    """What the group's coordinator says of a partition."""

    HELD = "a member of the settled group holds it"
    NOBODY = "the group is settled and no member holds it"
    NO_MEMBERS = "the group has no members"
    UNKNOWN = "the group is rebalancing, or the broker cannot say"


def partition_holding(
    endpoint: KafkaEndpoint | str, group_id: str, topic: str, partition: int
) -> Holding:
    """Whether a member of group `group_id` is assigned `topic`:`partition`."""
    try:
        admin = open_admin(endpoint, timeout_ms=GROUP_QUERY_TIMEOUT_MS)
    except BrokerUnavailable:
        return Holding.UNKNOWN
    try:
        described: dict[str, Any] = admin.describe_groups([group_id])
    except (KafkaError, ValueError):
        # ValueError: kafka-python cannot decode the answer (Tansu's authorised operations).
        return Holding.UNKNOWN
    finally:
        admin.close()
    group = described.get(group_id)
    if not group:
        return Holding.UNKNOWN
    state = group.get("group_state")
    if state in WITHOUT_MEMBERS:
        return Holding.NO_MEMBERS  # a group never formed is Dead, with GroupIdNotFound
    if group.get("error") or state != STABLE:
        return Holding.UNKNOWN
    held = any(
        assigned["topic"] == topic and partition in assigned["partitions"]
        for member in group.get("members", [])
        for assigned in (member.get("member_assignment") or {}).get("assigned_partitions", [])
    )
    return Holding.HELD if held else Holding.NOBODY
