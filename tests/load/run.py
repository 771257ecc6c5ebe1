"""One load run: start the API with N workers, drive it, stop it, audit the store."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from commands.http.auth.dev_issuer import DevIssuer
from commands.http.auth.roles import Role
from commands.http.auth.settings import DEFAULT_AUDIENCE, DEFAULT_DEV_DIR, DEFAULT_ROLES_CLAIM
from ledger.application.grant_ledger import GrantLedger
from tests.load.audit import AuditReport, audit
from tests.load.driver import Driver, LoadResult, request_headers
from tests.load.server import cpu_seconds, serving, worker_pids
from tests.load.workload import AGENCY, OFFICER, chain_count, chains, set_up

WAIT_SAMPLE_S = 0.01
TOKEN_TTL_S = 4 * 3600  # outlasts the longest load run


@dataclass(frozen=True)
class LoadRun:
    """A finished, audited run."""

    workers: int
    result: LoadResult
    report: AuditReport
    server_cpu_s: float
    client_cpu_s: float
    # Average number of database backends in each state during the run (idle left out).
    waits: Counter[str] = field(default_factory=Counter)

    def commands_per_s(self) -> float:
        """Commands answered per second of the run (set-up excluded)."""
        return self.result.commands() / self.result.elapsed_s

    def conflict_share(self) -> float:
        """Lost write races retried, per recorded command."""
        return self.result.write_conflicts() / max(1, len(self.result.recorded()))


class WaitSampler:
    """Samples what the database's client backends are doing (pg_stat_activity), in a thread.

    `samples` counts, per state, backend-samples outside idle; divided by `rounds` it is the
    average number of backends in that state (idle pooled connections are left out).
    """

    def __init__(self, server_url: str, database: str) -> None:
        self.server_url = server_url
        self.database = database
        self.samples: Counter[str] = Counter()
        self.rounds = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> WaitSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        with psycopg.connect(self.server_url, autocommit=True) as conn:
            while not self._stop.is_set():
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = %s AND backend_type = 'client backend' "
                    "AND pid <> pg_backend_pid()",
                    (self.database,),
                ).fetchall()
                self.rounds += 1
                for state, wait_type, wait_event in rows:
                    if state == "idle":
                        continue
                    if wait_type is None:
                        self.samples["on CPU in PostgreSQL"] += 1
                    elif wait_type == "Client":
                        self.samples["in a transaction, waiting for the API worker"] += 1
                    else:
                        self.samples[f"{wait_type}:{wait_event}"] += 1
                time.sleep(WAIT_SAMPLE_S)


def officer_token(workdir: Path) -> str:
    """A token of the load's officer from the development key a server in `workdir` checks."""
    issuer, _ = DevIssuer.ensure(workdir / DEFAULT_DEV_DIR)
    return issuer.mint(
        subject=OFFICER,
        roles=[Role.OFFICER],
        agency=AGENCY,
        ttl_s=TOKEN_TTL_S,
        audience=DEFAULT_AUDIENCE,
        roles_claim=DEFAULT_ROLES_CLAIM,
    )


def run_load(
    store_url: str,
    *,
    workers: int,
    commands: int,
    in_flight: int,
    workdir: Path,
    programmes: int = 1,
    server_env: Mapping[str, str] | None = None,
    sampler: WaitSampler | None = None,
) -> LoadRun:
    """Serve the store with `workers` workers, send about `commands` commands, audit."""
    plan = list(chains(commands, programmes))
    assert len(plan) == chain_count(commands)
    headers = request_headers(officer_token(workdir))
    with serving(store_url, workers, workdir, server_env) as (base_url, server):
        driver = Driver(base_url, headers, in_flight)
        pids = worker_pids(server)
        cpu_before, client_before = cpu_seconds(pids), time.process_time()
        if sampler is None:
            result = asyncio.run(driver.run(set_up(programmes, len(plan)), plan))
        else:
            with sampler:
                result = asyncio.run(driver.run(set_up(programmes, len(plan)), plan))
        server_cpu_s = cpu_seconds(pids) - cpu_before
        client_cpu_s = time.process_time() - client_before
    ledger = GrantLedger(store_url, snapshot_every_events=None)
    try:
        report = audit(ledger, result)
    finally:
        ledger.close()
    waits = Counter[str]()
    if sampler is not None:
        waits = Counter({state: n / max(1, sampler.rounds) for state, n in sampler.samples.items()})
    return LoadRun(workers, result, report, server_cpu_s, client_cpu_s, waits)
