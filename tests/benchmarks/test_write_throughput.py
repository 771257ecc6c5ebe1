"""Commands per second on the write path, for a realistic mix, against the bare event store.

Baseline (same run, same store): eventsourcing saving one trivial aggregate event per command
(no rules, no index entries). The ratio shows what the ledger's rules, idempotency index and
pydantic contract cost on top of the store itself.
"""

from collections.abc import Callable
from typing import Any

import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from ledger.application.grant_ledger import GrantLedger
from ledger.infrastructure.store_url import parse_store_url
from ledger.settings import STORE_ENV_VAR
from schemas import commands as c
from schemas.recipients import municipalities
from tests.fill import AGENCY, PROGRAMME_ID, YEAR, setup_commands

APPLICATIONS = 300
DISBURSEMENTS_PER_GRANT = 3


def realistic_mix() -> list[c.CommandBase]:
    """Establish, appropriate, then per municipality: apply, award, disburse in parts."""
    codes = sorted(municipalities())
    base = {"actor": "bench", "agency": AGENCY}
    programme_id = PROGRAMME_ID
    # The filler's programme and appropriation (its award set-up is not part of the mix).
    commands: list[c.CommandBase] = setup_commands()[:2]
    for index in range(APPLICATIONS):
        app_id = f"a{index}"
        code = codes[index % len(codes)]
        commands.append(
            c.SubmitApplication(
                type="SubmitApplication",
                command_id=f"s{index}",
                application_id=app_id,
                programme_id=programme_id,
                recipient=code,
                recipient_type="municipality",
                amounts_ore={str(YEAR): 3_000_000},
                **base,
            )
        )
        commands.append(
            c.AwardGrant(
                type="AwardGrant",
                command_id=f"w{index}",
                application_id=app_id,
                amounts_ore={str(YEAR): 3_000_000},
                decision_ref=f"d{index}",
                **base,
            )
        )
        for part in range(DISBURSEMENTS_PER_GRANT):
            commands.append(
                c.DisburseFunds(
                    type="DisburseFunds",
                    command_id=f"p{index}-{part}",
                    application_id=app_id,
                    year=YEAR,
                    amount_ore=1_000_000,
                    payment_ref=f"pay{index}-{part}",
                    **base,
                )
            )
    return commands


class Counter(Aggregate):
    """A trivial aggregate for the bare-store baseline."""

    def __init__(self) -> None:
        self.count = 0

    @event("Incremented")
    def increment(self) -> None:
        self.count += 1


def _run_ledger(store_url: str, commands: list[c.CommandBase]) -> None:
    ledger = GrantLedger(store_url)
    try:
        for command in commands:
            ledger.execute(command)
    finally:
        ledger.close()


def _run_bare(store_url: str, count: int) -> None:
    location = parse_store_url(store_url, STORE_ENV_VAR)
    env = {**location.eventsourcing_env(), "ORIGINATOR_ID_TYPE": "uuid"}
    app: Application[Any] = Application(env=env)
    try:
        counter = Counter()
        app.save(counter)
        for _ in range(count - 1):
            counter.increment()
            app.save(counter)
    finally:
        app.close()


def _bench(benchmark: Any, make_url: Callable[[], str], run: Callable[[str], None], n: int) -> None:
    urls: list[str] = []

    def setup() -> tuple[tuple[str], dict[str, Any]]:
        urls.append(make_url())
        return (urls[-1],), {}

    benchmark.pedantic(run, setup=setup, rounds=3, iterations=1)
    benchmark.extra_info["commands"] = n
    benchmark.extra_info["commands_per_s"] = round(n / benchmark.stats.stats.median)


@pytest.fixture
def fresh_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], str]:
    """A new SQLite store per round."""
    return lambda: f"sqlite:///{tmp_path_factory.mktemp('bench') / 'ledger.db'}"


@pytest.mark.benchmark(group="write-sqlite")
def test_sqlite_ledger_commands(benchmark: Any, fresh_sqlite: Callable[[], str]) -> None:
    """The ledger's commands/s on SQLite (aim: at least 1 000)."""
    commands = realistic_mix()
    _bench(benchmark, fresh_sqlite, lambda url: _run_ledger(url, commands), len(commands))


@pytest.mark.benchmark(group="write-sqlite")
def test_sqlite_bare_store_baseline(benchmark: Any, fresh_sqlite: Callable[[], str]) -> None:
    """Baseline: bare eventsourcing saves on SQLite, one per command of the mix."""
    n = len(realistic_mix())
    _bench(benchmark, fresh_sqlite, lambda url: _run_bare(url, n), n)


@pytest.mark.benchmark(group="write-postgres")
@pytest.mark.postgres
def test_postgres_ledger_commands(
    benchmark: Any, postgres_schema_factory: Callable[[], str]
) -> None:
    """The ledger's commands/s on PostgreSQL."""
    commands = realistic_mix()
    _bench(
        benchmark, postgres_schema_factory, lambda url: _run_ledger(url, commands), len(commands)
    )


@pytest.mark.benchmark(group="write-postgres")
@pytest.mark.postgres
def test_postgres_bare_store_baseline(
    benchmark: Any, postgres_schema_factory: Callable[[], str]
) -> None:
    """Baseline: bare eventsourcing saves on PostgreSQL."""
    n = len(realistic_mix())
    _bench(benchmark, postgres_schema_factory, lambda url: _run_bare(url, n), n)
