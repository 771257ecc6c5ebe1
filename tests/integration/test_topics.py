"""ensure_topics against Tansu: creates what is missing, refuses topics that would lose events."""

from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType

from ledger.domain.errors import LedgerError
from ledger.infrastructure.kafka.topics import (
    EVENT_TOPIC_CONFIGS,
    TopicState,
    TopicWouldLoseEvents,
    ensure_topics,
)

pytestmark = pytest.mark.kafka


@pytest.fixture
def admin(kafka_bootstrap: str) -> Iterator[KafkaAdminClient]:
    """An admin client on the session broker."""
    client = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def tansu_admin(tansu_bootstrap: str) -> Iterator[KafkaAdminClient]:
    """An admin client on the session's Tansu dev broker."""
    client = KafkaAdminClient(bootstrap_servers=tansu_bootstrap)
    try:
        yield client
    finally:
        client.close()


def _partitions(admin: KafkaAdminClient, topic: str) -> int:
    [described] = admin.describe_topics([topic])
    return len(described["partitions"])


def _configs(admin: KafkaAdminClient, topic: str) -> dict[str, str]:
    described = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, topic)], config_filter="all"
    )
    return {name: entry["value"] for name, entry in described["topic"][topic].items()}


def test_creates_missing_topics_with_the_partitions_asked_and_unlimited_retention(
    kafka_bootstrap: str, topic_name: str, admin: KafkaAdminClient
) -> None:
    events, checkpoints = f"{topic_name}.events", f"{topic_name}.checkpoints"

    states = ensure_topics(kafka_bootstrap, {events: 6, checkpoints: 1})

    assert states == {
        events: TopicState(name=events, partitions=6, created=True, unverified=()),
        checkpoints: TopicState(name=checkpoints, partitions=1, created=True, unverified=()),
    }
    assert _partitions(admin, events) == 6
    assert _partitions(admin, checkpoints) == 1
    # Kafka reports every setting, defaults included; Tansu only those given at creation.
    assert {key: _configs(admin, events)[key] for key in EVENT_TOPIC_CONFIGS} == {
        "retention.ms": "-1",
        "retention.bytes": "-1",
        "cleanup.policy": "delete",
    }


def test_a_second_call_changes_nothing(kafka_bootstrap: str, topic_name: str) -> None:
    first = ensure_topics(kafka_bootstrap, {topic_name: 3})

    # Asking for another count does not repartition: keys would move and lose their order.
    second = ensure_topics(kafka_bootstrap, {topic_name: 5})

    assert first[topic_name].created is True
    assert second[topic_name] == TopicState(
        name=topic_name, partitions=3, created=False, unverified=()
    )


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("cleanup.policy", "compact"),
        ("cleanup.policy", "compact,delete"),
        ("retention.ms", "604800000"),
        ("retention.bytes", "1073741824"),
    ],
)
def test_refuses_an_existing_topic_that_would_lose_events(
    kafka_bootstrap: str, topic_name: str, admin: KafkaAdminClient, setting: str, value: str
) -> None:
    _assert_refused(kafka_bootstrap, topic_name, admin, setting, value)


def test_refuses_a_setting_that_is_not_a_number(
    tansu_bootstrap: str, topic_name: str, tansu_admin: KafkaAdminClient
) -> None:
    # Only Tansu lets such a topic exist (it does not validate values; Kafka refuses to create).
    _assert_refused(tansu_bootstrap, topic_name, tansu_admin, "retention.ms", "forever")


def _assert_refused(
    kafka_bootstrap: str, topic_name: str, admin: KafkaAdminClient, setting: str, value: str
) -> None:
    configs = {**EVENT_TOPIC_CONFIGS, setting: value}
    admin.create_topics(
        {topic_name: {"num_partitions": 1, "replication_factor": 1, "configs": configs}}
    )

    with pytest.raises(TopicWouldLoseEvents) as refused:
        ensure_topics(kafka_bootstrap, {topic_name: 1})

    assert refused.value.field == setting
    assert refused.value.value == value
    assert refused.value.topic == topic_name
    assert topic_name in refused.value.message


def test_settings_the_broker_does_not_report_are_listed_as_unverified(
    tansu_bootstrap: str, topic_name: str, tansu_admin: KafkaAdminClient
) -> None:
    # Tansu reports only the settings a topic was created with: here, none.
    tansu_admin.create_topics({topic_name: {"num_partitions": 2, "replication_factor": 1}})

    state = ensure_topics(tansu_bootstrap, {topic_name: 2})[topic_name]

    assert state.created is False
    assert state.unverified == ("retention.ms", "retention.bytes", "cleanup.policy")


@pytest.mark.parametrize("partitions", [0, -1, 1_001])
def test_refuses_a_partition_count_out_of_range(
    kafka_bootstrap: str, topic_name: str, partitions: int
) -> None:
    with pytest.raises(LedgerError) as refused:
        ensure_topics(kafka_bootstrap, {topic_name: partitions})
    assert refused.value.value == partitions
    assert topic_name in refused.value.field
