"""One programme with a long history, for the cold-command benchmark: built fast, cached.

The history is a deterministic stream of valid commands (seeded): 290 municipalities apply for
three-year grants, most are awarded, each awarded year is paid out in twelve monthly payments,
and some grants are supplemented, partly recovered or extended; half way through, the programme
is handed over to another agency. About 40 events a grant: 1 000 000 events hold ~25 000 grants.

Recording 1M commands one transaction each takes ~10 min on SQLite and ~45 min on PostgreSQL,
so `BulkLedger` decides every command exactly as `GrantLedger.execute` does (the same
`_decide`, the same index entries) but saves a chunk of them in one transaction;
test_cold_command.py checks on a small size that both give the same store. Built stores are kept
outside the repository (GRANT_LEDGER_BENCH_CACHE, default ~/.cache/grant-ledger/bench): an
SQLite file, or a PostgreSQL database used as a template; each benchmark session works on a copy.
"""

from __future__ import annotations

import random
import shutil
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import psycopg

from ledger.application.digest import command_digest
from ledger.application.grant_ledger import GrantLedger
from ledger.domain.programme import Programme
from schemas import commands as c
from schemas.recipients import municipalities
from tests.settings import SUITE_SETTINGS

PROGRAMME_ID = "long-history"
FIRST_YEAR = 2018
LAST_YEAR = 2047
APPROPRIATION_ORE = 10**14  # never the limit here: the benchmark is about history length
AGENCY, SUCCESSOR = "tillvaxtverket", "delmos"
T0 = datetime(2018, 1, 2, 8, 0, tzinfo=UTC)
STEP = timedelta(minutes=2)
SEED = 2018_151
OPEN_GRANTS = 400  # grants in progress at once: their events interleave
PAYMENTS_PER_YEAR = 12
YEARS_PER_GRANT = 3
CHUNK_COMMANDS = 5_000
AMEND_APPROPRIATION_EVERY = 10_000  # a budget decision now and then (at 5 000, 15 000, ...)
# Bump when the generated history changes: cached stores of another version are rebuilt.
BUILDER_VERSION = 1


@dataclass(frozen=True, slots=True)
class Step:
    """One command of the history and when it is recorded."""

    command: c.CommandBase
    now: datetime


def _fields(type_name: str, **fields: Any) -> dict[str, Any]:
    return {"type": type_name, **fields}


def _grant_script(index: int, rng: random.Random, codes: list[str]) -> deque[dict[str, Any]]:
    """The commands of one grant's life, as fields (agency and ids are added when issued)."""
    app = f"g{index:07d}"
    first = FIRST_YEAR + index % (LAST_YEAR - FIRST_YEAR - YEARS_PER_GRANT)
    years = [first + n for n in range(YEARS_PER_GRANT)]
    amounts = {str(year): rng.randint(50, 500) * 1_000_000 for year in years}
    script: deque[dict[str, Any]] = deque()
    script.append(
        {
            "type": "SubmitApplication",
            "application_id": app,
            "programme_id": PROGRAMME_ID,
            "recipient": rng.choice(codes),
            "recipient_type": "municipality",
            "amounts_ore": dict(amounts),
        }
    )
    if rng.random() < 0.05:
        script.append(
            _fields(
                "RejectApplication",
                application_id=app,
                decision_ref="avslag",
                reason="does not meet the conditions",
            )
        )
        return script
    script.append(
        _fields(
            "AwardGrant",
            application_id=app,
            amounts_ore=dict(amounts),
            decision_ref=f"beslut {app}",
        )
    )
    paid = dict.fromkeys(amounts, 0)
    if rng.random() < 0.1:
        supplement = rng.randint(1, 50) * 100_000
        amounts[str(years[1])] += supplement
        script.append(
            _fields(
                "AmendAward",
                application_id=app,
                year=years[1],
                change_ore=supplement,
                decision_ref="tillägg",
                reason="supplement",
            )
        )
    if rng.random() < 0.1:
        extra_year = str(years[-1] + 1)
        amounts[extra_year] = rng.randint(50, 500) * 1_000_000
        paid[extra_year] = 0
        script.append(
            _fields(
                "ExtendGrant",
                application_id=app,
                amounts_ore={extra_year: amounts[extra_year]},
                decision_ref="förlängning",
            )
        )
    script.extend(_payments(app, amounts, paid, years[0], rng))
    return script


def _payments(
    app: str, amounts: dict[str, int], paid: dict[str, int], first_year: int, rng: random.Random
) -> list[dict[str, Any]]:
    """Monthly disbursements of every awarded year (and, now and then, a recovery in the
    first), as fields; `paid` is updated."""
    commands = []
    for year, amount in amounts.items():
        monthly = amount // PAYMENTS_PER_YEAR
        for month in range(PAYMENTS_PER_YEAR):
            payment = monthly if month < PAYMENTS_PER_YEAR - 1 else amount - paid[year]
            paid[year] += payment
            commands.append(
                _fields(
                    "DisburseFunds",
                    application_id=app,
                    year=int(year),
                    amount_ore=payment,
                    payment_ref=f"{app}-{year}-{month + 1}",
                )
            )
        if year == str(first_year) and rng.random() < 0.05:
            commands.append(
                _fields(
                    "RecoverFunds",
                    application_id=app,
                    year=int(year),
                    amount_ore=monthly,
                    decision_ref="återkrav",
                    reason="money not used as decided",
                )
            )
    return commands


def _set_up() -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = [
        {
            "type": "EstablishProgramme",
            "programme_id": PROGRAMME_ID,
            "name": "A programme with a long history",
            "ordinance": "SFS 2018:151",
            "administering_agency": AGENCY,
            "first_year": FIRST_YEAR,
            "last_year": LAST_YEAR,
            "recipient_types": ["municipality"],
            "eligible": None,
            "max_years_per_decision": YEARS_PER_GRANT,
            "cost_share_cap_percent": None,
        }
    ]
    for year in range(FIRST_YEAR, LAST_YEAR + 1):
        fields.append(
            _fields(
                "SetAppropriation",
                programme_id=PROGRAMME_ID,
                year=year,
                amount_ore=APPROPRIATION_ORE,
                decision_ref=f"regleringsbrev {year}",
            )
        )
    return fields


def history(events: int) -> Iterator[Step]:
    """Exactly `events` valid commands (each records one event), deterministic."""
    rng = random.Random(SEED)
    codes = sorted(municipalities())
    handover_at = events // 2 if events >= 100 else -1
    pending = deque(_set_up())
    open_grants: list[deque[dict[str, Any]]] = []
    grants = 0
    agency = AGENCY
    for number in range(events):
        if number == handover_at:
            fields = _fields(
                "HandOverProgramme",
                programme_id=PROGRAMME_ID,
                to_agency=SUCCESSOR,
                decision_ref="SFS 2020:1266",
            )
        elif number % AMEND_APPROPRIATION_EVERY == AMEND_APPROPRIATION_EVERY // 2:
            year = FIRST_YEAR + rng.randrange(LAST_YEAR - FIRST_YEAR + 1)
            fields = _fields(
                "AmendAppropriation",
                programme_id=PROGRAMME_ID,
                year=year,
                change_ore=100_000_000,
                decision_ref=f"ändringsbudget {number}",
                reason="amending budget",
            )
        elif pending:
            fields = pending.popleft()
        else:
            while len(open_grants) < OPEN_GRANTS:
                open_grants.append(_grant_script(grants, rng, codes))
                grants += 1
            slot = rng.randrange(len(open_grants))
            fields = open_grants[slot].popleft()
            if not open_grants[slot]:
                open_grants[slot] = open_grants[-1]
                open_grants.pop()
        fields = {
            **fields,
            "command_id": f"lh-{number}",
            "actor": "bench-officer",
            "agency": agency,
        }
        command = c.COMMAND_ADAPTER.validate_python(fields)
        yield Step(command, T0 + STEP * number)
        if number == handover_at:
            agency = SUCCESSOR


class BulkLedger(GrantLedger):
    """Records a chunk of commands in one transaction, each decided as `execute` decides it."""

    name = GrantLedger.name  # eventsourcing names the PostgreSQL tables after the class
    _in_chunk: Programme | None = None

    def programme(self, programme_id: str) -> Programme:
        """Within a chunk, the programme being decided on (the builder is the only writer, so
        the query that fast-forwards a cached programme would find nothing)."""
        if self._in_chunk is not None:
            assert programme_id == self._in_chunk.id, (programme_id, self._in_chunk.id)
            return self._in_chunk
        return super().programme(programme_id)

    def record_chunk(self, steps: list[Step]) -> Programme:
        """Decide every step in order, then save all their events and index entries at once."""
        assert steps, "an empty chunk"
        try:
            return self._record_chunk(steps)
        finally:
            self._in_chunk = None

    def _record_chunk(self, steps: list[Step]) -> Programme:
        programme: Programme | None = None
        entries: list[Any] = []
        for step in steps:
            digest = command_digest(step.command)
            # The application's own decision path: routing, stamping, rules, index entries.
            decided, index_entries, _ = self._decide(
                step.command, self._context(step.command, digest, step.now)
            )
            assert programme is None or decided is programme, "one programme per chunk"
            programme = self._in_chunk = decided
            entries.extend(index_entries)
            if isinstance(step.command, c.SubmitApplication):
                self._application_programmes[step.command.application_id] = decided.id
        assert programme is not None
        self.save(programme, *entries)
        return programme


def build(store_url: str, events: int, chunk: int = CHUNK_COMMANDS) -> Programme:
    """Record the history of `events` events in bulk; snapshot the head as the ledger would."""
    ledger = BulkLedger(store_url, snapshot_every_events=None)
    try:
        steps = history(events)
        first = next(steps)
        ledger.execute(first.command, now=first.now)  # establishes: later chunks load it
        programme: Programme | None = None
        while batch := list(islice(steps, chunk)):
            programme = ledger.record_chunk(batch)
        assert programme is not None and programme.version == events, programme
        last = ledger.programme_event(PROGRAMME_ID, programme.version)
        ledger.programme_snapshots.take(programme, last.event_id)
        return programme
    finally:
        ledger.close()


def record_one_by_one(store_url: str, events: int) -> None:
    """The same history through `GrantLedger.execute`, one transaction a command."""
    ledger = GrantLedger(store_url)
    try:
        for step in history(events):
            ledger.execute(step.command, now=step.now)
    finally:
        ledger.close()


# ------------------------------------------------------------------------------ the cache


def cache_directory() -> Path:
    """Where built SQLite stores are kept (GRANT_LEDGER_BENCH_CACHE, tests/settings.py)."""
    return SUITE_SETTINGS.bench_cache.expanduser()


def _cache_name(events: int) -> str:
    return f"long_history_{events}_v{BUILDER_VERSION}"


@dataclass(frozen=True, slots=True)
class Built:
    """A store ready for the benchmark, and how long its first build took (0 when cached)."""

    store_url: str
    build_s: float


def sqlite_copy(events: int, directory: Path) -> Built:
    """A fresh copy of the cached SQLite store of `events` events (built when missing)."""
    cached = cache_directory() / f"{_cache_name(events)}.db"
    build_s = 0.0
    if not cached.exists():
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".partial")
        partial.unlink(missing_ok=True)
        started = time.perf_counter()
        build(f"sqlite:///{partial}", events)
        build_s = time.perf_counter() - started
        partial.rename(cached)  # complete, or not there at all
    copy = directory / cached.name
    shutil.copyfile(cached, copy)
    return Built(f"sqlite:///{copy}", build_s)


def postgres_copy(events: int, server_url: str) -> Built:
    """A fresh database copied from the cached template database (built when missing)."""
    template = _cache_name(events)
    build_s = 0.0
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (template,))
        if exists.fetchone() is None:
            partial = f"{template}_partial"
            conn.execute(f'DROP DATABASE IF EXISTS "{partial}"')
            conn.execute(f'CREATE DATABASE "{partial}"')
            started = time.perf_counter()
            build(database_url(server_url, partial), events)
            build_s = time.perf_counter() - started
            conn.execute(f'ALTER DATABASE "{partial}" RENAME TO "{template}"')
        copy = f"gl_bench_{uuid.uuid4().hex[:12]}"
        conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{template}"')
    return Built(database_url(server_url, copy), build_s)


def drop_postgres_copy(store_url: str, server_url: str) -> None:
    """Drop a database `postgres_copy` made."""
    name = store_url.rsplit("/", 1)[1]
    assert name.startswith("gl_bench_"), name
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(server_url: str, database: str) -> str:
    """The same server, another database."""
    return f"{server_url.rsplit('/', 1)[0]}/{database}"
