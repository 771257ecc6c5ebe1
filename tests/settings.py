"""The test suite's own settings, declared like the product's (ledger/settings.py) and read once.

Adding one (a test broker to choose, say) is one field here and a row in the README's tests table.
"""

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ledger.setting_fields import directory, load, one_of, setting, switch, text, whole_number
from ledger.settings import LocalBrokerSettings

DEFAULT_TEST_POSTGRES: Final = "postgresql://postgres@127.0.0.1:5432/test"
ENGINE_KAFKA: Final = "kafka"
ENGINE_TANSU: Final = "tansu"
DEFAULT_BENCH_CACHE: Final = Path(".grant-ledger") / "bench"
# The benchmarks' specified sizes; lower ones make a quick run that only reports (the targets
# hold at these sizes, where fixed costs such as the idle window no longer dominate).
FULL_KAFKA_EVENTS: Final = 1_000_000
FULL_REPLAY_EVENTS: Final = 10_000_000
FULL_EXPORT_EVENTS: Final = 1_000_000
FULL_OFFLINE_EVENTS: Final = 1_000_000
FULL_TRAIL_EVENTS: Final = 1_000_000
FULL_LONG_EVENTS: Final = 1_000_000
DEFAULT_LOAD_COMMANDS: Final = 20_000
MAX_BENCH_EVENTS: Final = 10**9
DEFAULT_VOPR_EXAMPLES: Final = 200
MAX_VOPR_EXAMPLES: Final = 1_000_000


@dataclass(frozen=True)
class SuiteSettings:
    """What the tests run against."""

    postgres_url: str = setting(
        "GRANT_LEDGER_TEST_POSTGRES",
        DEFAULT_TEST_POSTGRES,
        text,
        "the PostgreSQL server the tests use (each test gets fresh schemas)",
    )
    require_postgres: bool = setting(
        "GRANT_LEDGER_REQUIRE_POSTGRES",
        False,
        switch,
        "`1`: a PostgreSQL test that cannot reach the server fails instead of skipping (CI)",
    )
    broker: str = setting(
        "GRANT_LEDGER_TEST_BROKER",
        ENGINE_TANSU,
        one_of(ENGINE_TANSU, ENGINE_KAFKA),
        "the engine every `kafka` test runs on: `tansu` (the dev broker) or `kafka` (Apache "
        "Kafka, from the jars `grant-ledger broker --engine kafka --fetch` caches)",
    )
    require_kafka: bool = setting(
        "GRANT_LEDGER_REQUIRE_KAFKA",
        False,
        switch,
        '`1`: "Apache Kafka unavailable" fails instead of skipping (CI)',
    )
    bench_cache: Path = setting(
        "GRANT_LEDGER_BENCH_CACHE",
        DEFAULT_BENCH_CACHE,
        directory,
        "where the benchmarks' built stores (the decade ledger's replay stores, the long "
        "programme's event stores) are kept between runs (built when missing)",
    )
    bench_kafka_events: int = setting(
        "GRANT_LEDGER_BENCH_KAFKA_EVENTS",
        FULL_KAFKA_EVENTS,
        whole_number(1, MAX_BENCH_EVENTS),
        "events of the Kafka benchmarks (projection, rebuild from the topic)",
    )
    bench_replay_events: int = setting(
        "GRANT_LEDGER_BENCH_REPLAY_EVENTS",
        FULL_REPLAY_EVENTS,
        whole_number(1, MAX_BENCH_EVENTS),
        "events of the replay benchmarks (hot rebuild, as-of questions)",
    )
    bench_export_events: int = setting(
        "GRANT_LEDGER_BENCH_EXPORT_EVENTS",
        FULL_EXPORT_EVENTS,
        whole_number(1, MAX_BENCH_EVENTS),
        "events of the export memory benchmark",
    )
    bench_offline_events: int = setting(
        "GRANT_LEDGER_BENCH_OFFLINE_EVENTS",
        FULL_OFFLINE_EVENTS,
        whole_number(1, MAX_BENCH_EVENTS),
        "events of the offline replay benchmark",
    )
    bench_trail_events: int = setting(
        "GRANT_LEDGER_BENCH_TRAIL_EVENTS",
        FULL_TRAIL_EVENTS,
        whole_number(1, MAX_BENCH_EVENTS),
        "events of the large store in the trail latency benchmark",
    )
    bench_long_events: int = setting(
        "GRANT_LEDGER_BENCH_LONG_EVENTS",
        FULL_LONG_EVENTS,
        whole_number(1, MAX_BENCH_EVENTS),
        "events of the long programme in the cold-command benchmark",
    )
    bench_load_commands: int = setting(
        "GRANT_LEDGER_BENCH_LOAD_COMMANDS",
        DEFAULT_LOAD_COMMANDS,
        whole_number(1, MAX_BENCH_EVENTS),
        "commands the write-load benchmark sends",
    )
    vopr_examples: int = setting(
        "GRANT_LEDGER_VOPR_EXAMPLES",
        DEFAULT_VOPR_EXAMPLES,
        whole_number(1, MAX_VOPR_EXAMPLES),
        "runs of the pipeline simulator (tests/integration/test_vopr.py; any other number also "
        "makes them random, as `make soak` asks)",
    )
    screenshots_dir: Path | None = setting(
        "GRANT_LEDGER_SCREENSHOTS_DIR",
        None,
        directory,
        "the browser tests copy their screenshots here (`docs` refreshes the README's pictures)",
    )


# The test suite's entry point reads its environment here, once.
SUITE_SETTINGS: Final = load(SuiteSettings, os.environ)
LOCAL_BROKER: Final = load(LocalBrokerSettings, os.environ)
