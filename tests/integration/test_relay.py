"""The relay: every stored event on the topic exactly once, in order, chained, checkpointed."""

import json
import signal
import time
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from kafka.admin import KafkaAdminClient, NewTopic
from kafka.consumer.fetcher import ConsumerRecord

from commands.cli.main import main
from ledger.infrastructure.kafka.reading import read_all
from tests.fill import add_payments, fill
from tests.relay_runs import (
    assert_exactly_once_in_order,
    count_on,
    envelopes_on,
    relay_once,
    relay_process,
    settings_for,
    wait_for_positions,
)

pytestmark = pytest.mark.kafka

PUBLISHED = Path(__file__).resolve().parents[2] / "schemas" / "published"
START_TIMEOUT_S = 60
CLOUDEVENTS_HEADERS = {"ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "content-type"}


def test_relay_publishes_the_reference_scenario_once_with_contract_headers(
    sqlite_store_url: str, kafka_bootstrap: str, topic_name: str
) -> None:
    """Every recorded event is on the topic once, keyed, with CloudEvents headers, schema-valid."""
    scenario = Path(__file__).resolve().parents[2] / "commands/scenarios/sfs_2018_151.jsonl"
    assert main(["submit", str(scenario), "--store", sqlite_store_url, "--format", "json"]) == 0
    settings = settings_for(topic_name)
    stats = relay_once(sqlite_store_url, settings, kafka_bootstrap)
    records: list[ConsumerRecord] = list(read_all(kafka_bootstrap, topic_name))
    envelopes = sorted((orjson.loads(r.value) for r in records), key=lambda e: e["position"])
    assert stats.published == len(envelopes) == 365
    assert_exactly_once_in_order(envelopes, 365)

    schema = json.loads((PUBLISHED / "envelope.v1.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for record in records:
        validator.validate(orjson.loads(record.value))
        headers = dict(record.headers)
        assert set(headers) >= CLOUDEVENTS_HEADERS
        envelope = orjson.loads(record.value)
        assert headers["ce_id"].decode() == envelope["event_id"]
        assert headers["content-type"] == b"application/json"
        expected_key = envelope["data"].get("recipient") or envelope["programme_id"]
        assert record.key.decode() == expected_key


def test_a_second_run_publishes_only_what_is_new(
    sqlite_store_url: str, kafka_bootstrap: str, topic_name: str
) -> None:
    """Re-running the relay neither re-publishes nor skips: it resumes from the topic's tail."""
    settings = settings_for(topic_name, checkpoint_every=50)
    fill(sqlite_store_url, 120)
    assert relay_once(sqlite_store_url, settings, kafka_bootstrap).published == 120
    assert relay_once(sqlite_store_url, settings, kafka_bootstrap).published == 0
    add_payments(sqlite_store_url, 1_000, 30)
    assert relay_once(sqlite_store_url, settings, kafka_bootstrap).published == 30
    assert_exactly_once_in_order(envelopes_on(kafka_bootstrap, topic_name), 150)


def test_checkpoints_every_n_events_and_when_idle(
    sqlite_store_url: str, kafka_bootstrap: str, topic_name: str
) -> None:
    """A checkpoint every CHECKPOINT_EVERY events and one when the relay goes idle, on the chain."""
    settings = settings_for(topic_name, checkpoint_every=40)
    fill(sqlite_store_url, 100)
    relay_once(sqlite_store_url, settings, kafka_bootstrap)
    checkpoints = [
        orjson.loads(r.value) for r in read_all(kafka_bootstrap, settings.checkpoint_topic)
    ]
    assert [c["position"] for c in checkpoints] == [40, 80, 100]
    hashes = {e["position"]: e["hash"] for e in envelopes_on(kafka_bootstrap, topic_name)}
    for checkpoint in checkpoints:
        assert checkpoint["hash"] == hashes[checkpoint["position"]]
        assert checkpoint["events"] == checkpoint["position"]


# --------------------------------------------------------------- crashes and outages


def test_kill_9_mid_batch_then_restart_publishes_each_event_exactly_once(
    sqlite_store_url: str, own_broker: Any, topic_name: str
) -> None:
    """A relay killed with -9 while a batch is in flight resumes from the topic: no gap, no dup."""
    bootstrap = own_broker.bootstrap_servers
    settings = settings_for(topic_name, checkpoint_every=100)
    fill(sqlite_store_url, 300)
    relay = relay_process(sqlite_store_url, settings, bootstrap)
    try:
        wait_for_positions(bootstrap, topic_name, 300)
        # Freeze the broker so the next batches are sent but not acknowledged, then kill -9.
        own_broker.pause()
        add_payments(sqlite_store_url, 10_000, 700)
        time.sleep(2.0)  # the relay has read the new events and handed them to its producer
        relay.send_signal(signal.SIGKILL)
        relay.wait(timeout=10)
    finally:
        if relay.poll() is None:
            relay.kill()
        own_broker.resume()
    # Whatever the frozen broker had received is appended now; the rest is missing.
    partially = len(list(read_all(bootstrap, topic_name)))
    assert 300 <= partially <= 1_000
    stats = relay_once(sqlite_store_url, settings, bootstrap)
    assert stats.published == 1_000 - partially
    assert_exactly_once_in_order(envelopes_on(bootstrap, topic_name), 1_000)


def test_broker_outage_commands_are_accepted_and_the_relay_catches_up(
    sqlite_store_url: str, own_broker: Any, topic_name: str
) -> None:
    """With the broker unreachable, commands are recorded; the relay waits, then catches up."""
    bootstrap = own_broker.bootstrap_servers
    settings = settings_for(topic_name, checkpoint_every=100)
    fill(sqlite_store_url, 50)
    relay = relay_process(sqlite_store_url, settings, bootstrap)
    try:
        wait_for_positions(bootstrap, topic_name, 50)
        own_broker.pause()
        assert add_payments(sqlite_store_url, 20_000, 150) == 200  # accepted while Kafka is down
        time.sleep(3.0)
        own_broker.resume()
        wait_for_positions(bootstrap, topic_name, 200)
        time.sleep(1.0)  # would any duplicate arrive?
    finally:
        relay.send_signal(signal.SIGTERM)
        _, stderr = relay.communicate(timeout=30)
    assert relay.returncode == 0, stderr[-2000:]
    assert_exactly_once_in_order(envelopes_on(bootstrap, topic_name), 200)


def test_broker_down_at_start_the_relay_waits_and_says_why(
    sqlite_store_url: str, own_broker: Any, topic_name: str, tmp_path: Path
) -> None:
    """Started against a stopped broker, the relay says what it waits for and publishes later."""
    bootstrap = own_broker.bootstrap_servers
    settings = settings_for(topic_name)
    fill(sqlite_store_url, 20)
    own_broker.stop()
    log_path = tmp_path / "relay.log"
    with log_path.open("w") as log:
        relay = relay_process(sqlite_store_url, settings, bootstrap, log=log)
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while f"waiting for Kafka at {bootstrap}" not in log_path.read_text():
                assert time.monotonic() < deadline, log_path.read_text()[-2000:]
                time.sleep(0.1)
            own_broker.start()
            wait_for_positions(bootstrap, topic_name, 20)
        finally:
            relay.send_signal(signal.SIGTERM)
            relay.communicate(timeout=30)
    assert relay.returncode == 0, log_path.read_text()[-2000:]
    assert_exactly_once_in_order(envelopes_on(bootstrap, topic_name), 20)


def test_a_restarted_empty_broker_gets_the_whole_log_again(
    sqlite_store_url: str, own_broker: Any, topic_name: str
) -> None:
    """The dev broker forgets everything on restart; the relay republishes from position 1."""
    bootstrap = own_broker.bootstrap_servers
    settings = settings_for(topic_name)
    fill(sqlite_store_url, 40)
    relay_once(sqlite_store_url, settings, bootstrap)
    own_broker.restart()
    assert relay_once(sqlite_store_url, settings, bootstrap).published == 40
    assert_exactly_once_in_order(envelopes_on(bootstrap, topic_name), 40)


def test_the_relay_refuses_a_topic_that_would_lose_events(
    sqlite_store_url: str, kafka_bootstrap: str, topic_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """An existing compacted topic is refused by name and setting; nothing is published."""
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    admin.create_topics([NewTopic(topic_name, 3, 1, topic_configs={"cleanup.policy": "compact"})])
    admin.close()
    fill(sqlite_store_url, 10)
    args = ["relay", "--once", "--store", sqlite_store_url, "--bootstrap-servers", kafka_bootstrap]
    assert main([*args, "--topic", topic_name]) == 2
    error = capsys.readouterr().err
    assert "cleanup.policy" in error
    assert topic_name in error
    assert count_on(kafka_bootstrap, topic_name) == 0


@pytest.mark.postgres
def test_following_a_postgresql_store_wakes_on_notify(
    postgres_store_url: str, kafka_bootstrap: str, topic_name: str
) -> None:
    """On PostgreSQL the following relay is woken by LISTEN/NOTIFY and publishes new events."""
    settings = settings_for(topic_name)
    fill(postgres_store_url, 10)
    relay = relay_process(postgres_store_url, settings, kafka_bootstrap)
    try:
        wait_for_positions(kafka_bootstrap, topic_name, 10)
        add_payments(postgres_store_url, 30_000, 25)
        wait_for_positions(kafka_bootstrap, topic_name, 35)
    finally:
        relay.send_signal(signal.SIGTERM)
        _, stderr = relay.communicate(timeout=30)
    assert relay.returncode == 0, stderr[-2000:]
    assert_exactly_once_in_order(envelopes_on(kafka_bootstrap, topic_name), 35)


@pytest.mark.postgres
def test_a_postgresql_store_resumes_like_sqlite(
    postgres_store_url: str, kafka_bootstrap: str, topic_name: str
) -> None:
    """Positions stay gap-free on PostgreSQL, whose notification ids may skip after a conflict."""
    settings = settings_for(topic_name, checkpoint_every=20)
    fill(postgres_store_url, 45)
    assert relay_once(postgres_store_url, settings, kafka_bootstrap).published == 45
    add_payments(postgres_store_url, 40_000, 5)
    assert relay_once(postgres_store_url, settings, kafka_bootstrap).published == 5
    assert_exactly_once_in_order(envelopes_on(kafka_bootstrap, topic_name), 50)
