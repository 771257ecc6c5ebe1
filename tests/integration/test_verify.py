"""`grant-ledger verify`: tampering with the store or the topic is caught and located."""

import sqlite3
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from commands.cli.main import main
from ledger.application.chain_index import ChainIndex
from ledger.application.grant_ledger import PROGRAMME_EVENT_TOPIC, GrantLedger
from ledger.audit.topic_verification import verify_store_against_kafka
from ledger.audit.verification import VerificationReport
from ledger.config import KafkaSettings
from ledger.relay.relay import Relay
from tests.fill import add_payments, fill
from tests.signing import ledger_signer, ledger_trust

pytestmark = pytest.mark.kafka

EVENTS = 60


@pytest.fixture
def published(sqlite_store_url: str, kafka_bootstrap: str, topic_name: str) -> KafkaSettings:
    """A store of EVENTS events, all relayed to the test's topic."""
    settings = KafkaSettings(
        bootstrap_servers=kafka_bootstrap,
        topic=topic_name,
        checkpoint_topic=f"{topic_name}.checkpoints",
        checkpoint_every=25,
        partitions=3,
    )
    fill(sqlite_store_url, EVENTS)
    ledger = GrantLedger(sqlite_store_url)
    try:
        Relay(ledger, settings, kafka_bootstrap, ledger_signer()).run(once=True)
    finally:
        ledger.close()
    return settings


def verify(store_url: str, settings: KafkaSettings) -> VerificationReport:
    """Run verification against the test's topic."""
    ledger = GrantLedger(store_url)
    try:
        assert settings.bootstrap_servers
        return verify_store_against_kafka(
            ledger, settings, settings.bootstrap_servers, ledger_trust()
        )
    finally:
        ledger.close()


def db_path(store_url: str) -> Path:
    """The SQLite file behind a store URL."""
    return Path(store_url.removeprefix("sqlite:///"))


def rowid_at(conn: sqlite3.Connection, position: int) -> int:
    """The rowid of the programme event at a position."""
    row = conn.execute(
        "SELECT rowid FROM stored_events WHERE topic=? ORDER BY rowid LIMIT 1 OFFSET ?",
        (PROGRAMME_EVENT_TOPIC, position - 1),
    ).fetchone()
    return int(row[0])


def test_an_untouched_ledger_verifies(sqlite_store_url: str, published: KafkaSettings) -> None:
    """Store, topic and last checkpoint agree: every position once, every hash matches."""
    report = verify(sqlite_store_url, published)
    assert report.ok, [str(p) for p in report.problems]
    assert report.store_events == report.topic_messages == EVENTS
    assert report.last_checkpoint is not None
    assert report.last_checkpoint["position"] == EVENTS


def test_an_altered_stored_event_is_named_with_what_differs(
    sqlite_store_url: str, published: KafkaSettings
) -> None:
    """Changing an amount in the store is caught at that position, naming the field."""
    with sqlite3.connect(db_path(sqlite_store_url)) as conn:
        rowid = rowid_at(conn, 30)
        state = orjson.loads(
            conn.execute("SELECT state FROM stored_events WHERE rowid=?", (rowid,)).fetchone()[0]
        )
        state["data"]["amount_ore"] += 1_000_000
        conn.execute("UPDATE stored_events SET state=? WHERE rowid=?", (orjson.dumps(state), rowid))
    report = verify(sqlite_store_url, published)
    assert not report.ok
    assert report.first_bad_position == 30
    assert "data.amount_ore" in str(report.problems[0])
    # Every later hash differs too (the chain carries the change): one range, not 30 lines,
    # and one line for the signed checkpoints after it.
    assert [str(p).split(":")[0] for p in report.problems] == [
        "position 30",
        f"positions 31..{EVENTS}",
        "position 50",
    ]


def test_an_event_altered_after_it_was_indexed_is_caught_in_the_index_too(
    sqlite_store_url: str, published: KafkaSettings
) -> None:
    """The chain index that trails and pages serve is held against the recomputed chain."""
    ledger = GrantLedger(sqlite_store_url)
    try:
        ChainIndex(ledger).extend()
    finally:
        ledger.close()
    with sqlite3.connect(db_path(sqlite_store_url)) as conn:
        rowid = rowid_at(conn, 33)
        state = orjson.loads(
            conn.execute("SELECT state FROM stored_events WHERE rowid=?", (rowid,)).fetchone()[0]
        )
        state["note"] = "edited"
        conn.execute("UPDATE stored_events SET state=? WHERE rowid=?", (orjson.dumps(state), rowid))
    report = verify(sqlite_store_url, published)
    assert report.first_bad_position == 33
    assert any("chain index" in str(p) for p in report.problems if p.position == 33)


def test_a_deleted_stored_event_is_caught(sqlite_store_url: str, published: KafkaSettings) -> None:
    """Deleting an event from the store is caught at the position it held."""
    with sqlite3.connect(db_path(sqlite_store_url)) as conn:
        conn.execute("DELETE FROM stored_events WHERE rowid=?", (rowid_at(conn, 41),))
    report = verify(sqlite_store_url, published)
    assert not report.ok
    assert report.first_bad_position == 41


def test_two_reordered_stored_events_are_caught(
    sqlite_store_url: str, published: KafkaSettings
) -> None:
    """Swapping two events' content in the store is caught at the first of them."""
    with sqlite3.connect(db_path(sqlite_store_url)) as conn:
        first, second = rowid_at(conn, 12), rowid_at(conn, 13)
        states = {
            rowid: conn.execute(
                "SELECT state FROM stored_events WHERE rowid=?", (rowid,)
            ).fetchone()[0]
            for rowid in (first, second)
        }
        conn.execute("UPDATE stored_events SET state=? WHERE rowid=?", (states[second], first))
        conn.execute("UPDATE stored_events SET state=? WHERE rowid=?", (states[first], second))
    report = verify(sqlite_store_url, published)
    assert not report.ok
    assert report.first_bad_position == 12


def test_a_foreign_message_on_the_topic_is_caught(
    sqlite_store_url: str, published: KafkaSettings
) -> None:
    """A message the relay never produced is reported, and a forged envelope at its position."""
    producer = KafkaProducer(bootstrap_servers=published.bootstrap_servers)
    producer.send(published.topic, key=b"0180", value=b'{"hello": "world"}')
    forged = {"position": 7, "hash": "0" * 64, "prev_hash": "0" * 64, "type": "FundsDisbursed"}
    producer.send(published.topic, key=b"0180", value=orjson.dumps(forged))
    producer.flush()
    producer.close()
    report = verify(sqlite_store_url, published)
    assert not report.ok
    text = [str(p) for p in report.problems]
    assert any("foreign message" in t for t in text)
    assert report.first_bad_position == 7


def test_the_cli_exits_non_zero_and_names_the_first_bad_position(
    sqlite_store_url: str, published: KafkaSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    """`grant-ledger verify` exits 0 when all holds, 1 with the first bad position otherwise."""
    args = [
        "verify",
        "--store",
        sqlite_store_url,
        "--bootstrap-servers",
        str(published.bootstrap_servers),
        "--topic",
        published.topic,
        "--checkpoint-topic",
        published.checkpoint_topic,
    ]
    assert main(args) == 0
    assert f"OK: positions 1..{EVENTS}" in capsys.readouterr().out
    with sqlite3.connect(db_path(sqlite_store_url)) as conn:
        conn.execute("DELETE FROM stored_events WHERE rowid=?", (rowid_at(conn, 5),))
    assert main(args) == 1
    assert "first bad position 5" in capsys.readouterr().out


def test_malformed_messages_are_reported_not_crashed_on(
    sqlite_store_url: str, published: KafkaSettings
) -> None:
    """A non-hex prev_hash, a number for a hash, a list as checkpoint: reported as foreign."""
    producer = KafkaProducer(bootstrap_servers=published.bootstrap_servers)
    for bad in (
        {"position": 3, "hash": "a" * 64, "prev_hash": "not hex"},
        {"position": 4, "hash": 12, "prev_hash": 7},
    ):
        producer.send(published.topic, key=b"0180", value=orjson.dumps(bad))
    producer.send(published.checkpoint_topic, key=b"checkpoint", value=b"[1, 2]")
    producer.flush()
    producer.close()
    report = verify(sqlite_store_url, published)
    text = [str(p) for p in report.problems]
    assert sum("foreign message" in t for t in text) == 2
    assert any("foreign checkpoint" in t for t in text)


def test_events_recorded_while_verifying_are_not_a_failure(
    sqlite_store_url: str, published: KafkaSettings
) -> None:
    """Events the relay has not published yet are reported as lag, not as tampering."""
    add_payments(sqlite_store_url, 50_000, 3)
    report = verify(sqlite_store_url, published)
    assert report.ok, [str(p) for p in report.problems]
    assert report.not_yet_published == 3
