"""Topics that keep every event: unlimited retention, deletion policy only (never compaction).

What brokers report, measured: Kafka's DescribeConfigs returns every topic setting, defaults
included (its default retention.ms is 7 days, which would lose events). Tansu 0.6 returns
exactly the settings given when the topic was created (as DEFAULT_CONFIG) and nothing for
a topic created without them, does not validate values (retention.ms=banana is accepted),
and drops the connection when a DescribeConfigs names particular keys; so we ask for all
settings. A setting the broker does not report cannot be checked: it is listed in
`TopicState.unverified` and logged, never assumed safe in silence.
"""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import TopicAlreadyExistsError

from ledger.config import MAX_PARTITIONS
from ledger.domain.errors import LedgerError
from ledger.infrastructure.kafka.clients import open_admin
from ledger.infrastructure.kafka.security import KafkaEndpoint

log = logging.getLogger(__name__)

UNLIMITED = "-1"
RETENTION_MS = "retention.ms"
RETENTION_BYTES = "retention.bytes"
CLEANUP_POLICY = "cleanup.policy"
# The settings every ledger topic is created with; any other value can lose events.
EVENT_TOPIC_CONFIGS: dict[str, str] = {
    RETENTION_MS: UNLIMITED,
    RETENTION_BYTES: UNLIMITED,
    CLEANUP_POLICY: "delete",
}
# A single-broker dev setup has one replica; production clusters set their default.
DEV_REPLICATION_FACTOR = 1
ADMIN_TIMEOUT_MS = 10_000


class TopicWouldLoseEvents(LedgerError):
    """An existing topic's setting (field) would delete or compact events; names the topic."""

    def __init__(self, topic: str, setting: str, value: Any, reason: str) -> None:
        super().__init__(setting, value, f"topic {topic}: {reason}")
        self.topic = topic


@dataclass(frozen=True)
class TopicState:
    """A topic after ensure_topics: its partitions, whether we created it, what went unchecked."""

    name: str
    partitions: int
    created: bool
    unverified: tuple[str, ...]


def _loss_reason(setting: str, value: str) -> str | None:
    """Why this setting's value would lose events, or None when it keeps them all."""
    if setting == CLEANUP_POLICY:
        policies = {part.strip() for part in value.split(",")}
        if "compact" in policies:
            return "compaction keeps only the last event per key; use cleanup.policy=delete"
        return None
    try:
        limit = int(value)
    except ValueError:
        return f"is not a number, so it cannot be shown to keep every event; use {UNLIMITED}"
    if limit != int(UNLIMITED):
        unit = "ms" if setting == RETENTION_MS else "bytes"
        return f"deletes events past {limit} {unit}; use {setting}={UNLIMITED} (unlimited)"
    return None


def _check_configs(topic: str, reported: Mapping[str, Any]) -> tuple[str, ...]:
    """Raise on a setting that loses events; return the settings the broker did not report."""
    unverified: list[str] = []
    for setting in EVENT_TOPIC_CONFIGS:
        entry = reported.get(setting)
        value = entry.get("value") if entry is not None else None
        if value is None:
            unverified.append(setting)
            continue
        reason = _loss_reason(setting, str(value))
        if reason is not None:
            raise TopicWouldLoseEvents(topic, setting, value, reason)
    if unverified:
        log.warning(
            "topic %s: the broker does not report %s; cannot check they keep every event",
            topic,
            ", ".join(unverified),
        )
    return tuple(unverified)


def _describe_configs(admin: KafkaAdminClient, topic: str) -> Mapping[str, Any]:
    # No key filter: Tansu drops the connection on a DescribeConfigs that names keys.
    described = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all"
    )
    configs: Mapping[str, Any] = described.get("topic", {}).get(topic, {})
    return configs


def _partition_counts(admin: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    return {
        described["name"]: len(described["partitions"])
        for described in admin.describe_topics(names)
        if described.get("error_code", 0) == 0
    }


def _validate(topics: Mapping[str, int]) -> None:
    for name, partitions in topics.items():
        if not name:
            raise LedgerError("topic", name, "a topic needs a name")
        if not 1 <= partitions <= MAX_PARTITIONS:
            raise LedgerError(
                f"topic {name} partitions", partitions, f"must be between 1 and {MAX_PARTITIONS}"
            )


def ensure_topics(
    endpoint: KafkaEndpoint | str,
    topics: Mapping[str, int],
    replication_factor: int = DEV_REPLICATION_FACTOR,
) -> dict[str, TopicState]:
    """Create missing topics (name -> partitions) that keep every event; check existing ones.

    An existing topic keeps its partition count (adding partitions would move keys to other
    partitions and break per-key order); `TopicState.partitions` says what it has. Raises a
    LedgerError naming the topic and setting when a topic would lose events (finite
    retention.ms or retention.bytes, or compaction). Safe to call again.
    """
    _validate(topics)
    admin = open_admin(endpoint, timeout_ms=ADMIN_TIMEOUT_MS)
    try:
        existing = set(admin.list_topics())
        missing = {name: count for name, count in topics.items() if name not in existing}
        created: set[str] = set()
        if missing:
            response = admin.create_topics(
                {
                    name: {
                        "num_partitions": count,
                        "replication_factor": replication_factor,
                        "configs": dict(EVENT_TOPIC_CONFIGS),
                    }
                    for name, count in missing.items()
                },
                timeout_ms=ADMIN_TIMEOUT_MS,
                raise_errors=False,
            )
            for result in response["topics"]:
                if result["error_code"] == 0:
                    created.add(result["name"])
                elif result["error_code"] != TopicAlreadyExistsError.errno:
                    # Someone else creating it at the same moment is fine; anything else is not.
                    raise LedgerError(
                        "topic",
                        result["name"],
                        f"could not be created: {result.get('error_message') or result}",
                    )
            admin.wait_for_topics(list(missing), timeout_ms=ADMIN_TIMEOUT_MS)
        partition_counts = _partition_counts(admin, list(topics))
        states: dict[str, TopicState] = {}
        for name in topics:
            # Created topics are checked too: a broker that ignored our settings is caught here.
            unverified = _check_configs(name, _describe_configs(admin, name))
            states[name] = TopicState(
                name=name,
                partitions=partition_counts.get(name, 0),
                created=name in created,
                unverified=unverified,
            )
        return states
    finally:
        admin.close()
