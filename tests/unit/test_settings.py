"""Settings: read once from the environment at the entry point, each declared once, documented.

Store URLs: one parser for the event store and the read store, with the same refusals, naming
the setting and never showing a password.
"""

import dataclasses
import re
from pathlib import Path

import pytest

from ledger.infrastructure.store_url import StoreKind, hide_password, parse_store_url
from ledger.setting_fields import (
    area,
    every_declaration,
    load,
    markdown_table,
    overridden,
    setting,
    text,
)
from ledger.settings import (
    ENVIRONMENT_VARIABLES,
    READ_STORE_ENV_VAR,
    STORE_ENV_VAR,
    KafkaSettings,
    ReadSideSettings,
    Settings,
    areas,
)
from projections.store.location import read_store_location, replay_directory
from schemas.errors import ConfigurationError
from tests.settings import SuiteSettings

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("ledger", "projections", "schemas", "commands")
# The entry points: the only modules that may touch the process environment (the CLI; the HTTP
# app's factory that `uvicorn --factory` calls in each worker; `serve --workers`, which hands
# those workers the settings its flags chose through their environment; `make demo`, which hands
# the CLI the environment with its own development key added).
ENTRY_POINTS = {
    "commands/cli/main.py",
    "commands/http/app.py",
    "commands/cli/serve.py",
    "commands/demo.py",
}
ENVIRONMENT_READ = re.compile(r"os\.environ|os\.getenv|getenv\(")


def test_unset_means_every_default() -> None:
    assert Settings.from_environment({}) == Settings()
    assert Settings().kafka.topic == "grant-ledger.events"
    assert Settings().read_side.read_store is None


def test_each_variable_is_read_into_its_field() -> None:
    settings = Settings.from_environment(
        {
            STORE_ENV_VAR: "sqlite:///tmp/x.db",
            "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
            "GRANT_LEDGER_PARTITIONS": "12",
            "GRANT_LEDGER_REPLAY_DIR": "/var/replay",
            "UNRELATED": "ignored",
        }
    )
    assert settings.event_store.url == "sqlite:///tmp/x.db"
    assert settings.kafka.bootstrap_servers == "kafka:9092"
    assert settings.kafka.partitions == 12
    assert settings.read_side.replay_dir == Path("/var/replay")


def test_an_empty_variable_counts_as_unset() -> None:
    assert (
        Settings.from_environment({"GRANT_LEDGER_TOPIC": ""}).kafka.topic == "grant-ledger.events"
    )


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("GRANT_LEDGER_PARTITIONS", "six", "must be a whole number"),
        ("GRANT_LEDGER_PARTITIONS", "0", "must be between 1 and 1000"),
        ("GRANT_LEDGER_CHECKPOINT_EVERY", "-5", "must be between 1 and"),
        ("GRANT_LEDGER_REPLICATION_FACTOR", "11", "must be between 1 and 10"),
    ],
)
def test_a_value_that_cannot_work_is_a_configuration_error_naming_it(
    variable: str, raw: str, message: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Settings.from_environment({variable: raw})
    assert (refused.value.field, refused.value.value) == (variable, raw)
    assert message in refused.value.message


def test_a_secret_is_never_shown() -> None:
    @dataclasses.dataclass(frozen=True)
    class Signing:
        key: str = setting("TEST_SIGNING_KEY", "", text, "a key", secret=True)
        retries: int = setting("TEST_RETRIES", 1, int, "attempts")

    loaded = load(Signing, {"TEST_SIGNING_KEY": "s3cret"})
    assert loaded.key == "s3cret"
    assert "s3cret" not in repr(loaded)


def test_flags_override_only_what_was_given() -> None:
    kafka = KafkaSettings(bootstrap_servers="env:9092", topic="from-env")
    assert overridden(kafka, bootstrap_servers=None, topic="from-flag") == KafkaSettings(
        bootstrap_servers="env:9092", topic="from-flag"
    )
    assert overridden(kafka, topic="") == kafka


def test_a_variable_declared_twice_stops_the_import() -> None:
    @dataclasses.dataclass(frozen=True)
    class Store:
        url: str = setting("TEST_STORE", "", text, "a store")

    @dataclasses.dataclass(frozen=True)
    class Copy:
        url: str = setting("TEST_STORE", "", text, "the same variable again")

    @dataclasses.dataclass(frozen=True)
    class Root:
        first: Store = area(Store)
        second: Copy = area(Copy)

    with pytest.raises(AssertionError, match="TEST_STORE declared twice"):
        every_declaration(Root)
    assert "KAFKA_SASL_PASSWORD" in ENVIRONMENT_VARIABLES, "nested areas count too"


def test_the_readme_tables_list_every_variable_as_declared() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    product, tests = markdown_table(*areas()), markdown_table(SuiteSettings)
    assert product in readme, f"README's configuration table should read:\n{product}"
    assert tests in readme, f"README's table of the tests' variables should read:\n{tests}"


def test_no_module_but_the_entry_point_reads_the_environment() -> None:
    readers = {
        path.relative_to(ROOT).as_posix()
        for package in PRODUCT_PACKAGES
        for path in (ROOT / package).rglob("*.py")
        if ENVIRONMENT_READ.search(path.read_text(encoding="utf-8"))
    }
    assert readers == ENTRY_POINTS


# --------------------------------------------------------------------------- store URLs

BOTH_STORES = pytest.mark.parametrize("setting_name", [STORE_ENV_VAR, READ_STORE_ENV_VAR])


@BOTH_STORES
@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://u@h:abc/db", "the port must be a number from 1 to 65535"),
        ("postgresql://u@h:0/db", "the port must be a number from 1 to 65535"),
        ("postgresql://u@h:70000/db", "the port must be a number from 1 to 65535"),
        ("postgresql://u@h/db?schema=Ledger", "lower-case letters, digits and _"),
        ("postgresql://u@h/db?schema=", "lower-case letters, digits and _"),
        ("postgresql://u@h/db?sslmode=require", "only ?schema= is understood"),
        ("postgresql://u@h/", "needs a database"),
        ("sqlite://", "needs a file path"),
        ("mysql://u@h/db", "expected sqlite:///path/file.db or postgresql://"),
    ],
)
def test_both_stores_refuse_the_same_urls_by_name(
    setting_name: str, url: str, message: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        parse_store_url(url, setting_name)
    assert refused.value.field == setting_name
    assert refused.value.value == url
    assert message in refused.value.message


@BOTH_STORES
def test_a_refusal_never_shows_the_password(setting_name: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        parse_store_url("postgresql://ledger:s3cret@db:port/grants", setting_name)
    assert "s3cret" not in str(refused.value)
    assert refused.value.value == "postgresql://ledger:***@db:port/grants"


def test_a_postgresql_url_gives_its_address_with_defaults() -> None:
    full = parse_store_url("postgresql://ledger:p%40ss@db:6543/grants?schema=gl_2", STORE_ENV_VAR)
    assert full.kind is StoreKind.POSTGRESQL and full.postgres is not None
    assert (full.postgres.host, full.postgres.port, full.postgres.dbname) == ("db", 6543, "grants")
    assert (full.postgres.user, full.postgres.password, full.postgres.schema) == (
        "ledger",
        "p@ss",
        "gl_2",
    )
    assert full.shown == "postgresql://ledger:***@db:6543/grants?schema=gl_2"
    assert "p@ss" not in repr(full)
    bare = parse_store_url("postgres://db/grants", READ_STORE_ENV_VAR).postgres
    assert bare is not None
    assert (bare.port, bare.user, bare.schema) == (5432, "postgres", "public")


def test_a_sqlite_url_keeps_relative_paths_relative() -> None:
    assert parse_store_url("sqlite:///./dir/x.db", STORE_ENV_VAR).sqlite_path == Path("dir/x.db")
    assert parse_store_url("sqlite:///abs/x.db", STORE_ENV_VAR).sqlite_path == Path("/abs/x.db")
    assert hide_password("sqlite:///./dir/x.db") == "sqlite:///./dir/x.db"


def test_the_read_side_lives_beside_a_sqlite_event_store_by_default() -> None:
    unset = ReadSideSettings()
    read_store = read_store_location(unset, "sqlite:///./data/ledger.db")
    assert read_store.sqlite_path == Path("data/read.db")
    assert replay_directory(unset, read_store) == Path("data/replay")
    elsewhere = read_store_location(unset, "postgresql://db/grants")
    assert elsewhere.sqlite_path == Path(".grant-ledger/read.db")
    chosen = ReadSideSettings(read_store="postgresql://db/balances", replay_dir=Path("/r"))
    assert read_store_location(chosen, "sqlite:///x.db").postgres is not None
    assert replay_directory(chosen, read_store_location(chosen, "sqlite:///x.db")) == Path("/r")
