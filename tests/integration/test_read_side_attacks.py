"""Attacks on the topic, against every reader (`project --once`, `rebuild --from kafka`, `verify`)
and the relay: a forged next position, a forged far position, a forged duplicate, poison of each
kind, forged checkpoints. Each ends with the read store exact (equal to the reference fold over
the event store) or with the reader stopped, naming where and what; skipping is explicit and
recorded. Runs on the session broker (Apache Kafka in CI, Tansu otherwise).
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kafka import KafkaProducer
from kafka.errors import KafkaError

from commands.cli.main import EXIT_INTEGRITY, EXIT_OK, main
from ledger.application.grant_ledger import GrantLedger
from ledger.application.published_log import store_envelopes
from ledger.config import KafkaSettings
from ledger.proof.signatures import CheckpointSigner
from projections.domain.reference import reference_balances
from projections.store.read_store import ReadStore
from schemas.chain import canonical_bytes, chain_hash
from tests.fill import add_payments, fill
from tests.ledgers.balances_each_way import stored_view_balances
from tests.relay_runs import relay_once, settings_for

pytestmark = pytest.mark.kafka

EVENTS = 60
CHECKPOINT_EVERY = 25
BIG_MESSAGE_BYTES = 5 * 1024 * 1024


@dataclass
class Published:
    """A store of EVENTS events relayed to the test's topic, and where the read side lives."""

    store_url: str
    settings: KafkaSettings
    bootstrap: str
    directory: Path

    def kafka_args(self) -> list[str]:
        s = self.settings
        return [
            "--bootstrap-servers",
            self.bootstrap,
            "--topic",
            s.topic,
            "--checkpoint-topic",
            s.checkpoint_topic,
        ]

    def read_args(self, name: str = "read") -> list[str]:
        return [
            "--read-store",
            self.read_store(name),
            "--replay-dir",
            str(self.directory / f"{name}-replay"),
            *self.kafka_args(),
        ]

    def read_store(self, name: str = "read") -> str:
        return f"sqlite:///{self.directory / name}.db"


@pytest.fixture
def published(
    sqlite_store_url: str, kafka_bootstrap: str, topic_name: str, tmp_path: Path
) -> Published:
    fill(sqlite_store_url, EVENTS)
    settings = settings_for(topic_name, checkpoint_every=CHECKPOINT_EVERY, partitions=3)
    relay_once(sqlite_store_url, settings, kafka_bootstrap)
    return Published(sqlite_store_url, settings, kafka_bootstrap, tmp_path)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """The CLI in this process: exit code and what it said on stderr and stdout."""
    capsys.readouterr()
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, err + out


def envelope_at(store_url: str, position: int) -> dict[str, Any]:
    """The store's envelope at a position, as the relay published it."""
    ledger = GrantLedger(store_url)
    try:
        return next(e for e in store_envelopes(ledger, position) if e["position"] == position)
    finally:
        ledger.close()


def forged(envelope: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A careful forgery: changed fields, event id and a hash recomputed over them."""
    body = {**envelope, "event_id": "00000000-0000-4000-8000-00000000f0f0", **changes}
    body.pop("hash")
    body["hash"] = chain_hash(body["prev_hash"], canonical_bytes(body))
    return body


def produce(published: Published, value: bytes, partition: int, topic: str | None = None) -> str:
    """Write a message straight to the topic (as anyone with write access could); its place."""
    producer = KafkaProducer(
        bootstrap_servers=published.bootstrap, max_request_size=BIG_MESSAGE_BYTES * 2
    )
    try:
        sent = producer.send(
            topic or published.settings.topic, key=b"0180", value=value, partition=partition
        )
        metadata = sent.get(timeout=30)
    finally:
        producer.close()
    return f"{topic or published.settings.topic}:{metadata.partition}:{metadata.offset}"


def expected_balances(store_url: str) -> Any:
    """The reference fold over the event store: what any fresh rebuild must give."""
    ledger = GrantLedger(store_url)
    try:
        events = [event for _, event in ledger.programme_events()]
    finally:
        ledger.close()
    return reference_balances(events, today=datetime.now(tz=UTC).date())


def assert_exact(published: Published, name: str = "read") -> None:
    with ReadStore.open(published.read_store(name)) as read_store:
        assert stored_view_balances(read_store) == expected_balances(published.store_url)


def test_a_forged_next_position_is_never_applied_and_the_real_one_forks_it(
    published: Published, capsys: pytest.CaptureFixture[str]
) -> None:
    last = envelope_at(published.store_url, EVENTS)
    data = {**last["data"], "amount_ore": 10**11}
    fake = forged(last, position=EVENTS + 1, prev_hash=last["hash"], data=data)
    where = produce(published, orjson.dumps(fake), partition=1)

    code, said = run(capsys, "project", "--once", *published.read_args())
    assert code == EXIT_OK, said
    assert "1 later events wait for a signed checkpoint" in said
    assert_exact(published)
    code, said = run(capsys, "rebuild", "--from", "kafka", *published.read_args("fresh"))
    assert code == EXIT_OK, said
    assert "not covered by a signed checkpoint" in said
    assert_exact(published, "fresh")

    add_payments(published.store_url, 10_000, 1)
    relay = ["relay", "--once", "--store", published.store_url, *published.kafka_args()]
    code, said = run(capsys, *relay)
    assert code == EXIT_INTEGRITY and where in said and "grant-ledger verify" in said, said
    code, said = run(capsys, *relay, "--skip", where, "--reason", "forged by a test")
    assert code == EXIT_OK, said

    code, said = run(capsys, "project", "--once", *published.read_args())
    assert code == EXIT_INTEGRITY and f"position={EVENTS + 1}" in said and where in said, said
    skip = ["--skip", where, "--reason", "forged, see ticket 7"]
    code, said = run(capsys, "project", "--once", *published.read_args(), *skip)
    assert code == EXIT_OK, said
    assert_exact(published)
    code, said = run(
        capsys,
        "verify",
        "--store",
        published.store_url,
        "--read-store",
        published.read_store(),
        *published.kafka_args(),
    )
    assert code == EXIT_OK and f"skipped (recorded in the read store): {where}" in said, said


def test_a_forged_far_position_costs_one_problem_and_applies_nothing(
    published: Published, capsys: pytest.CaptureFixture[str]
) -> None:
    sample = envelope_at(published.store_url, 10)
    where = produce(published, orjson.dumps(forged(sample, position=10**9)), partition=0)
    code, said = run(capsys, "project", "--once", *published.read_args())
    assert code == EXIT_OK, said
    assert_exact(published)
    code, said = run(capsys, "rebuild", "--from", "kafka", *published.read_args("fresh"))
    assert code == EXIT_OK, said
    assert_exact(published, "fresh")
    code, said = run(capsys, "verify", "--store", published.store_url, *published.kafka_args())
    assert code == 1, said
    assert f"position 1000000000: on the topic ({where}) but the store has only" in said


def test_a_forged_duplicate_is_a_fork_that_stops_every_reader_until_skipped(
    published: Published, capsys: pytest.CaptureFixture[str]
) -> None:
    real = envelope_at(published.store_url, 30)
    fake = forged(real, data={**real["data"], "amount_ore": 10**11})
    where = produce(published, orjson.dumps(fake), partition=2)
    for command in (["project", "--once"], ["rebuild", "--from", "kafka"]):
        code, said = run(capsys, *command, *published.read_args())
        assert code == EXIT_INTEGRITY, said
        assert "position=30" in said and where in said and "data.amount_ore" in said, said
    code, said = run(capsys, "verify", "--store", published.store_url, *published.kafka_args())
    assert code == 1 and "first bad position 30" in said and "data.amount_ore" in said, said

    skip = ["--skip", where, "--reason", "forged duplicate"]
    code, said = run(capsys, "project", "--once", *published.read_args(), *skip)
    assert code == EXIT_OK, said
    assert_exact(published)
    # The skip is recorded in the read store: a rebuild honours it without being told again.
    code, said = run(capsys, "rebuild", "--from", "kafka", *published.read_args())
    assert code == EXIT_OK, said
    assert_exact(published)


def _poison(published: Published, kind: str) -> bytes:
    envelope = envelope_at(published.store_url, EVENTS)
    if kind == "not JSON":
        return b"\x00\x01 definitely not json"
    if kind == "wrong schema":
        return orjson.dumps({"position": EVENTS + 1, "type": "FundsDisbursed", "amount": 1})
    if kind == "envelope without meaning":
        return orjson.dumps(
            forged(envelope, position=EVENTS + 1, prev_hash=envelope["hash"], data={"x": 1})
        )
    return b"{" + b" " * BIG_MESSAGE_BYTES + b"}"


@pytest.mark.parametrize("kind", ["not JSON", "wrong schema", "envelope without meaning", "5 MB"])
def test_poison_stops_each_reader_by_name_until_skipped(
    published: Published, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    try:
        where = produce(published, _poison(published, kind), partition=1)
    except KafkaError as refused:
        assert kind == "5 MB", refused  # Apache Kafka refuses messages over 1 MiB itself
        return
    for command in (["project", "--once"], ["rebuild", "--from", "kafka"]):
        code, said = run(capsys, *command, *published.read_args())
        assert code == EXIT_INTEGRITY and where in said, said
        assert "Traceback" not in said
    code, said = run(capsys, "verify", "--store", published.store_url, *published.kafka_args())
    assert code == 1 and where in said, said  # named, whatever it is
    skip = ["--skip", where, "--reason", f"poison ({kind})"]
    code, said = run(capsys, "project", "--once", *published.read_args(), *skip)
    assert code == EXIT_OK, said
    assert_exact(published)
    code, said = run(capsys, "rebuild", "--from", "kafka", *published.read_args())
    assert code == EXIT_OK, said
    assert_exact(published)


@pytest.mark.parametrize("kind", ["unsigned", "another key", "garbage"])
def test_a_forged_checkpoint_stops_the_reader_until_skipped(
    published: Published, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    body = {
        "position": EVENTS,
        "hash": envelope_at(published.store_url, EVENTS)["hash"],
        "events": EVENTS,
        "recorded_at": "2026-01-01T00:00:00.000000Z",
    }
    value = {
        "unsigned": orjson.dumps(body),
        "another key": orjson.dumps(CheckpointSigner(Ed25519PrivateKey.generate()).sign(body)),
        "garbage": b"[1, 2]",
    }[kind]
    where = produce(published, value, partition=0, topic=published.settings.checkpoint_topic)
    code, said = run(capsys, "project", "--once", *published.read_args())
    assert code == EXIT_INTEGRITY and where in said, said
    skip = ["--skip", where, "--reason", "forged checkpoint"]
    code, said = run(capsys, "project", "--once", *published.read_args(), *skip)
    assert code == EXIT_OK, said
    assert_exact(published)
