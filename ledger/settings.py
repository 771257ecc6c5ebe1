"""Every setting grant-ledger reads, declared once: environment variable, default, parser, meaning.

Read once, at the entry point: the CLI's `main` (commands/cli/main.py) runs every command,
the long-running services (`relay`, `project`, `serve`, whose HTTP app gets its settings from
there) included, and builds `Settings.from_environment(...)` from the process environment.
Flags override with `overridden(area, flag=value)`; the result is passed down explicitly. No
other module reads the environment.

Adding a setting is one field in its area, for example in `KafkaSettings`:

    security_protocol: str = setting(
        "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT", one_of("PLAINTEXT", "SSL"), "how to reach Kafka"
    )

Adding an area is a frozen dataclass whose fields are all `setting(...)`, and one field
`auth: AuthSettings = area(AuthSettings)` in `Settings`. A secret says `secret=True`: its value
never appears in a repr or an error. The README's configuration table lists every variable
(tests/unit/test_settings.py holds the two to each other).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from schemas.errors import ConfigurationError

T = TypeVar("T")
Area = TypeVar("Area")
# A parser turns the variable's text into its value; a ValueError's text says what is expected.
Parse = Callable[[str], T]

SETTING: Final = "grant_ledger_setting"
AREA: Final = "grant_ledger_area"
HIDDEN: Final = "***"


@dataclass(frozen=True)
class Declaration:
    """How one setting is read: its variable, what it means, how its text is parsed."""

    variable: str
    meaning: str
    parse: Parse[Any]
    secret: bool


def setting(variable: str, default: T, parse: Parse[T], meaning: str, *, secret: bool = False) -> T:
    """Declare a setting field: the environment variable, its default, parser and meaning."""
    declared = Declaration(variable, meaning, parse, secret)
    return field(default=default, repr=not secret, metadata={SETTING: declared})


def area(area_type: type[Area]) -> Area:
    """Declare an area of `Settings` (a dataclass of settings), defaults when unset."""
    return field(default_factory=area_type, metadata={AREA: area_type})


# --------------------------------------------------------------------------- parsers


def text(raw: str) -> str:
    """Any non-empty text, as given."""
    return raw


def whole_number(minimum: int, maximum: int) -> Parse[int]:
    """A whole number within [minimum, maximum]."""

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise ValueError("must be a whole number") from None
        if not minimum <= value <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}")
        return value

    return parse


def one_of(*choices: str) -> Parse[str]:
    """One of the given words."""

    def parse(raw: str) -> str:
        if raw not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}")
        return raw

    return parse


def switch(raw: str) -> bool:
    """On (1, true, yes) or off (0, false, no)."""
    lowered = raw.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise ValueError("expected 1, true, yes or 0, false, no")


def directory(raw: str) -> Path:
    """A directory path (created when first written to)."""
    return Path(raw)


# --------------------------------------------------------------------------- the areas

STORE_ENV_VAR: Final = "GRANT_LEDGER_STORE"
KAFKA_JARS_ENV_VAR: Final = "GRANT_LEDGER_KAFKA_JARS"
BOOTSTRAP_ENV_VAR: Final = "KAFKA_BOOTSTRAP_SERVERS"
READ_STORE_ENV_VAR: Final = "GRANT_LEDGER_READ_STORE"
REPLAY_DIR_ENV_VAR: Final = "GRANT_LEDGER_REPLAY_DIR"

DEFAULT_STORE_URL: Final = "sqlite:///./.grant-ledger/ledger.db"
DEFAULT_TOPIC: Final = "grant-ledger.events"
DEFAULT_CHECKPOINT_TOPIC: Final = "grant-ledger.checkpoints"
DEFAULT_CHECKPOINT_EVERY: Final = 1_000
MAX_CHECKPOINT_EVERY: Final = 10**9
DEFAULT_PARTITIONS: Final = 6
MAX_PARTITIONS: Final = 1_000
DEFAULT_REPLICATION_FACTOR: Final = 1  # one broker here; a production cluster sets 3
MAX_REPLICATION_FACTOR: Final = 10
DEFAULT_DEV_BROKER_PORT: Final = 9092
DEFAULT_KAFKA_DATA_DIR: Final = Path(".grant-ledger") / "kafka"
CACHE_DIRECTORY_NAME: Final = "grant-ledger"


@dataclass(frozen=True)
class EventStoreSettings:
    """Where the events are recorded (the system of record)."""

    url: str = setting(
        STORE_ENV_VAR,
        DEFAULT_STORE_URL,
        text,
        "event store: `sqlite:///path/ledger.db` or `postgresql://user@host:port/db` "
        "(`?schema=` optional: lower-case letters, digits, _)",
    )


@dataclass(frozen=True)
class KafkaSettings:
    """Where and how events are published."""

    bootstrap_servers: str | None = setting(
        BOOTSTRAP_ENV_VAR, None, text, "Kafka bootstrap servers (unset: see the dev broker)"
    )
    topic: str = setting("GRANT_LEDGER_TOPIC", DEFAULT_TOPIC, text, "event topic")
    checkpoint_topic: str = setting(
        "GRANT_LEDGER_CHECKPOINT_TOPIC", DEFAULT_CHECKPOINT_TOPIC, text, "checkpoint topic"
    )
    checkpoint_every: int = setting(
        "GRANT_LEDGER_CHECKPOINT_EVERY",
        DEFAULT_CHECKPOINT_EVERY,
        whole_number(1, MAX_CHECKPOINT_EVERY),
        "events between checkpoints",
    )
    partitions: int = setting(
        "GRANT_LEDGER_PARTITIONS",
        DEFAULT_PARTITIONS,
        whole_number(1, MAX_PARTITIONS),
        "partitions of a topic the relay creates",
    )
    replication_factor: int = setting(
        "GRANT_LEDGER_REPLICATION_FACTOR",
        DEFAULT_REPLICATION_FACTOR,
        whole_number(1, MAX_REPLICATION_FACTOR),
        "replicas of a topic the relay creates (set 3 on a cluster)",
    )


@dataclass(frozen=True)
class ReadSideSettings:
    """Where the balances are kept: the read store and the local replay store."""

    read_store: str | None = setting(
        READ_STORE_ENV_VAR,
        None,
        text,
        "read store for balances: `sqlite:///…` or `postgresql://…` "
        "(unset: `read.db` beside a SQLite event store)",
    )
    replay_dir: Path | None = setting(
        REPLAY_DIR_ENV_VAR,
        None,
        directory,
        "the projector's local replay store, columnar files (unset: `replay/` beside the "
        "read store)",
    )


@dataclass(frozen=True)
class LocalBrokerSettings:
    """The brokers this machine runs itself (`grant-ledger broker`, the tests)."""

    kafka_jars: Path | None = setting(
        KAFKA_JARS_ENV_VAR,
        None,
        directory,
        "where the Apache Kafka jars are cached (unset: `grant-ledger/kafka-<version>` in the "
        "user's cache directory)",
    )
    cache_home: Path | None = setting(
        "XDG_CACHE_HOME", None, directory, "the user's cache directory (unset: `~/.cache`)"
    )

    def kafka_jar_dir(self, default_for_root: Callable[[Path], Path]) -> Path:
        """The jar directory: the configured one, else the engine's default in our cache."""
        if self.kafka_jars is not None:
            return self.kafka_jars
        cache_home = self.cache_home if self.cache_home is not None else Path.home() / ".cache"
        return default_for_root(cache_home / CACHE_DIRECTORY_NAME)


@dataclass(frozen=True)
class Settings:
    """Every setting, by area; built once at an entry point and passed down."""

    event_store: EventStoreSettings = area(EventStoreSettings)
    kafka: KafkaSettings = area(KafkaSettings)
    read_side: ReadSideSettings = area(ReadSideSettings)
    local_broker: LocalBrokerSettings = area(LocalBrokerSettings)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str]) -> Settings:
        """Every area from the environment (unset or empty: the default)."""
        return cls(
            **{each.name: load(each.metadata[AREA], environ) for each in dataclasses.fields(cls)}
        )


# --------------------------------------------------------------------------- reading


def declarations(area_type: type[Any]) -> Iterator[tuple[str, Declaration]]:
    """(field name, declaration) of each setting of an area."""
    for each in dataclasses.fields(area_type):
        declared = each.metadata.get(SETTING)
        assert isinstance(declared, Declaration), f"{area_type.__name__}.{each.name}: no setting()"
        yield each.name, declared


def load(area_type: type[Area], environ: Mapping[str, str]) -> Area:
    """One area from the environment; a value that does not parse is a ConfigurationError."""
    values: dict[str, Any] = {}
    for name, declared in declarations(area_type):
        raw = environ.get(declared.variable, "")
        if raw == "":
            continue
        try:
            values[name] = declared.parse(raw)
        except ValueError as exc:
            shown = HIDDEN if declared.secret else raw
            raise ConfigurationError(declared.variable, shown, str(exc)) from None
    return area_type(**values)


def overridden(settings_area: Area, **flags: Any) -> Area:
    """The area with the flags that were given (not None, not empty) in place of its values."""
    given = {name: value for name, value in flags.items() if value is not None and value != ""}
    return dataclasses.replace(settings_area, **given)  # type: ignore[type-var]


def every_declaration(root: type[Any] = Settings) -> dict[str, Declaration]:
    """Every variable the settings read, with its declaration (for docs and checks)."""
    found: dict[str, Declaration] = {}
    for each in dataclasses.fields(root):
        for _, declared in declarations(each.metadata[AREA]):
            assert declared.variable not in found, f"{declared.variable} declared twice"
            found[declared.variable] = declared
    return found


def markdown_table(*area_types: type[Any]) -> str:
    """The README's table of the areas' variables: variable, meaning, default."""
    lines = ["| variable | meaning | default |", "|---|---|---|"]
    for area_type in area_types:
        defaults = area_type()
        for name, declared in declarations(area_type):
            default = getattr(defaults, name)
            shown = (
                "unset"
                if default is None
                else f"`{int(default)}`"
                if isinstance(default, bool)
                else f"`{default}`"
            )
            lines.append(f"| `{declared.variable}` | {declared.meaning} | {shown} |")
    return "\n".join(lines) + "\n"


def areas(root: type[Any] = Settings) -> tuple[type[Any], ...]:
    """The area types of a settings root, in order."""
    return tuple(each.metadata[AREA] for each in dataclasses.fields(root))


# Fails at import when an area has a field that is not a setting, or a variable is declared twice.
ENVIRONMENT_VARIABLES: Final = frozenset(every_declaration())
