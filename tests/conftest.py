"""Shared fixtures: event stores (SQLite file, real PostgreSQL) and the dev broker.

PostgreSQL tests skip with a reason when the server is unreachable, except when
GRANT_LEDGER_REQUIRE_POSTGRES=1 (set by CI), which turns that skip into a failure.
"""

import logging
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from ledger.config import kafka_jar_dir_from_env
from ledger.infrastructure.kafka.apache_kafka import (
    ApacheKafka,
    KafkaUnavailable,
    default_jar_dir,
    jars_present,
    require_java,
)
from ledger.infrastructure.kafka.broker_process import BrokerProcess
from ledger.infrastructure.kafka.dev_broker import DevBroker
from ledger.infrastructure.signing_keys import SIGNING_KEY_ENV_VAR, TRUSTED_KEYS_ENV_VAR
from tests.signing import session_keys

POSTGRES_URL_ENV = "GRANT_LEDGER_TEST_POSTGRES"
DEFAULT_TEST_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
REQUIRE_POSTGRES_ENV = "GRANT_LEDGER_REQUIRE_POSTGRES"
POSTGRES_CONNECT_TIMEOUT_S = 3


def postgres_base_url() -> str:
    """The PostgreSQL server the tests use."""
    return os.environ.get(POSTGRES_URL_ENV, DEFAULT_TEST_POSTGRES)


def _require_postgres() -> bool:
    return os.environ.get(REQUIRE_POSTGRES_ENV, "") not in ("", "0", "false", "no")


def _connect_or_skip() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(
            postgres_base_url(), autocommit=True, connect_timeout=POSTGRES_CONNECT_TIMEOUT_S
        )
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL unreachable at {postgres_base_url()}: {exc}"
        if _require_postgres():
            pytest.fail(f"{reason} ({REQUIRE_POSTGRES_ENV} is set)")
        pytest.skip(reason)


@pytest.fixture(scope="session", autouse=True)
def ledger_keys_in_environment() -> Iterator[None]:
    """Every relay in the session signs with the tests' key; every reader trusts it."""
    keys = session_keys()
    saved = {name: os.environ.get(name) for name in (SIGNING_KEY_ENV_VAR, TRUSTED_KEYS_ENV_VAR)}
    os.environ[SIGNING_KEY_ENV_VAR] = str(keys.private_path)
    os.environ[TRUSTED_KEYS_ENV_VAR] = str(keys.public_path)
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """A CLI run in-process configures the root logger; the next test gets it back untouched.

    Without this a handler bound to one test's captured stderr (closed afterwards) and its INFO
    level outlive the test, and later tests read library log lines where they expect their own.
    """
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", "kafka")}
    handlers = list(root.handlers)
    yield
    root.handlers[:] = handlers
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def sqlite_store_url(tmp_path: Path) -> str:
    """A fresh SQLite event store file."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture
def postgres_store_url() -> Iterator[str]:
    """A fresh schema in the test PostgreSQL database, dropped afterwards."""
    schema = f"gl_test_{uuid.uuid4().hex[:12]}"
    with _connect_or_skip() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{postgres_base_url()}?schema={schema}"
    finally:
        with _connect_or_skip() as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def postgres_schema_factory() -> Iterator[Callable[[], str]]:
    """Make any number of fresh PostgreSQL schemas (store URLs); all dropped afterwards."""
    schemas: list[str] = []

    def make() -> str:
        schema = f"gl_test_{uuid.uuid4().hex[:12]}"
        with _connect_or_skip() as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        schemas.append(schema)
        return f"{postgres_base_url()}?schema={schema}"

    yield make
    if schemas:
        with _connect_or_skip() as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def read_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh read store (projections) of each kind: SQLite and PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'read.db'}"
        return
    make: Callable[[], str] = request.getfixturevalue("postgres_schema_factory")
    yield make()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each test using this runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_store_url"))
    return str(request.getfixturevalue("postgres_store_url"))


# --- Kafka: Apache Kafka or the embedded dev broker ------------------------------------------
# GRANT_LEDGER_TEST_BROKER=kafka runs every `kafka` test on Apache Kafka (KRaft, from the jars
# `grant-ledger broker --engine kafka --fetch` caches); unset or `tansu`, on the Tansu dev broker.
# GRANT_LEDGER_REQUIRE_KAFKA=1 (set by CI) turns "Apache Kafka unavailable" into a failure.
# Tests that use these fixtures get the `kafka` marker (see pytest_collection_modifyitems), so
# `pytest -m kafka` selects them and `-m "not kafka"` leaves them out; tests on a broker of
# their own get `apache_kafka` (the real engine's faults) or `tansu` (the dev broker's quirks).

TEST_BROKER_ENV = "GRANT_LEDGER_TEST_BROKER"
REQUIRE_KAFKA_ENV = "GRANT_LEDGER_REQUIRE_KAFKA"
ENGINE_KAFKA = "kafka"
ENGINE_TANSU = "tansu"
KAFKA_FIXTURES = frozenset(
    {
        "kafka_broker",
        "kafka_bootstrap",
        "apache_kafka_bootstrap",
        "tansu_bootstrap",
        "own_broker",
        "own_kafka",
        "scram_kafka",
    }
)
ENGINE_MARKS = {
    "own_kafka": "apache_kafka",
    "scram_kafka": "apache_kafka",
    "apache_kafka_bootstrap": "apache_kafka",
    "own_broker": "tansu",
    "tansu_bootstrap": "tansu",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a broker fixture with `kafka` (marks on fixtures do nothing)."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if KAFKA_FIXTURES.intersection(fixtures):
            item.add_marker(pytest.mark.kafka)
        for fixture, mark in ENGINE_MARKS.items():
            if fixture in fixtures:
                item.add_marker(getattr(pytest.mark, mark))


def session_broker_engine() -> str:
    """The engine the session's `kafka` tests run on (GRANT_LEDGER_TEST_BROKER)."""
    engine = os.environ.get(TEST_BROKER_ENV, "") or ENGINE_TANSU
    if engine not in (ENGINE_KAFKA, ENGINE_TANSU):
        pytest.fail(f"{TEST_BROKER_ENV}={engine!r}: expected {ENGINE_KAFKA} or {ENGINE_TANSU}")
    return engine


def kafka_jars_or_skip() -> Path:
    """The cached Apache Kafka jars and a usable Java, or skip (fail under REQUIRE_KAFKA)."""
    jar_dir = kafka_jar_dir_from_env(default_jar_dir)
    try:
        require_java()
        if not jars_present(jar_dir):
            raise KafkaUnavailable(
                "jars", str(jar_dir), "not fetched: `grant-ledger broker --engine kafka --fetch`"
            )
    except KafkaUnavailable as exc:
        reason = f"Apache Kafka unavailable: {exc}"
        if os.environ.get(REQUIRE_KAFKA_ENV, "") not in ("", "0", "false", "no"):
            pytest.fail(f"{reason} ({REQUIRE_KAFKA_ENV} is set)")
        pytest.skip(reason)
    return jar_dir


@pytest.fixture(scope="session")
def kafka_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    """One broker for the whole session (the engine GRANT_LEDGER_TEST_BROKER names); tests keep
    apart by topic name."""
    broker: BrokerProcess
    if session_broker_engine() == ENGINE_KAFKA:
        broker = ApacheKafka(tmp_path_factory.mktemp("kafka") / "data", kafka_jars_or_skip())
    else:
        broker = DevBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def tansu_bootstrap(kafka_broker: BrokerProcess) -> Iterator[str]:
    """A Tansu dev broker for the session (the session broker when that is Tansu), for tests
    of the dev broker's own behaviour."""
    if isinstance(kafka_broker, DevBroker):
        yield kafka_broker.bootstrap_servers
        return
    with DevBroker() as broker:
        yield broker.bootstrap_servers


@pytest.fixture(scope="session")
def apache_kafka_bootstrap(
    kafka_broker: BrokerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """Apache Kafka for the session (the session broker when that is Apache Kafka), for tests
    of what only the real engine does (consumer groups as integrators use them, transactions)."""
    if isinstance(kafka_broker, ApacheKafka):
        yield kafka_broker.bootstrap_servers
        return
    data_dir = tmp_path_factory.mktemp("apache-kafka") / "data"
    with ApacheKafka(data_dir, kafka_jars_or_skip()) as broker:
        yield broker.bootstrap_servers


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_broker: BrokerProcess) -> str:
    """The session broker's bootstrap servers, `127.0.0.1:PORT`."""
    return kafka_broker.bootstrap_servers


@pytest.fixture
def topic_name() -> str:
    """A topic name no other test uses."""
    return f"gl-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def own_broker() -> Iterator[DevBroker]:
    """A Tansu dev broker of this test's own, free to pause, restart (empty) or stop."""
    broker = DevBroker().start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def own_kafka(tmp_path: Path) -> Iterator[ApacheKafka]:
    """An Apache Kafka broker of this test's own (durable in tmp_path), free to kill and pause."""
    broker = ApacheKafka(tmp_path / "kafka-data", kafka_jars_or_skip()).start()
    try:
        yield broker
    finally:
        broker.stop()
