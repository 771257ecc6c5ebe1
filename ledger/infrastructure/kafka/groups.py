"""Whether anyone in a consumer group holds a partition, as the group's coordinator says.

A standby projector asks it: kafka-python can form a group whose leader assigned the checkpoint
partition to nobody (an assignment made while the topic was missing from the leader's metadata,
after a broker restart or a topic re-created under it) and then never notice the topic came
back. Every member then stands by for ever: the books lag and nobody says so.
"""

from __future__ import annotations

from typing import Any, Final

from kafka.errors import KafkaError

from ledger.infrastructure.kafka.clients import open_admin
from ledger.infrastructure.kafka.errors import BrokerUnavailable
from ledger.infrastructure.kafka.security import KafkaEndpoint

GROUP_QUERY_TIMEOUT_MS: Final = 10_000
# Only a settled group's assignment says who holds what; during a rebalance nobody does.
STABLE: Final = "Stable"


def partition_held(
    endpoint: KafkaEndpoint | str, group_id: str, topic: str, partition: int
) -> bool | None:
    """True when a member of the settled group `group_id` is assigned `topic`:`partition`,
    False when none is; None when the group is rebalancing or the broker cannot say."""
    try:
        admin = open_admin(endpoint, timeout_ms=GROUP_QUERY_TIMEOUT_MS)
    except BrokerUnavailable:
        return None
    try:
        described: dict[str, Any] = admin.describe_groups([group_id])
    except (KafkaError, ValueError):
        # ValueError: kafka-python cannot decode the answer (Tansu's authorised operations).
        return None
    finally:
        admin.close()
    group = described.get(group_id)
    if not group or group.get("error") or group.get("group_state") != STABLE:
        return None
    return any(
        assigned["topic"] == topic and partition in assigned["partitions"]
        for member in group.get("members", [])
        for assigned in (member.get("member_assignment") or {}).get("assigned_partitions", [])
    )
