"""A grant's trail and a page of the log over HTTP, at 10 000 and at 1 000 000 stored events.

Targets (median, at the full size): under 50 ms each, and within 2x of the same request at
10 000 events (the trail and the page read only what they return, through the chain index).
A recipient's trail is reported beside them: it returns every event of one municipality, so it
grows with the ledger by design (about 3 500 events at 1M).

The stores are built by deciding seven-event grants on the aggregate and saving them in
batches (tests/fill.py); the build time and the chain index's first extension are reported.
GRANT_LEDGER_BENCH_TRAIL_EVENTS lowers the large size for a quick run (targets then only
reported).
"""

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pytest_benchmark.fixture import BenchmarkFixture

from commands.http.app import create_app
from schemas.recipients import municipalities
from tests.benchmarks.measure import median_seconds
from tests.fill import GRANT_EVENTS, bulk_application_id
from tests.http_service import service_settings, tokens_for

SMALL_EVENTS = 10_000
FULL_EVENTS = 1_000_000
LARGE_EVENTS = int(os.environ.get("GRANT_LEDGER_BENCH_TRAIL_EVENTS") or FULL_EVENTS)
MEDIAN_MAX_S = 0.050
LARGE_TO_SMALL_MAX = 2.0
ROUNDS = 100
PAGE_EVENTS = 100
MEDIANS: dict[tuple[str, int], float] = {}


@dataclass(frozen=True)
class BulkStore:
    """A store of grants, how long it took to build, and one grant in its middle."""

    url: str
    requested: int
    events: int
    build_s: float
    index_s: float
    application_id: str
    recipient: str


BUILD_SCRIPT = """
import sys, time
from datetime import UTC, datetime
from ledger.application.chain_index import ChainIndex
from ledger.application.grant_ledger import GrantLedger
from schemas.recipients import municipalities
from tests.fill import grants_programme_commands, save_decided
url, events = sys.argv[1], int(sys.argv[2])
started = time.perf_counter()
commands = grants_programme_commands(sorted(municipalities()), events)
save_decided(url, commands, datetime(2018, 1, 2, tzinfo=UTC))
built = time.perf_counter()
ledger = GrantLedger(url)
head = ChainIndex(ledger).extend()
ledger.close()
print(head, built - started, time.perf_counter() - built)
"""


def build(directory: Path, events: int) -> BulkStore:
    """Record the grants, then extend the chain index once (what the first reader pays); in a
    process of its own, so this one measures requests without the build's garbage."""
    url = f"sqlite:///{directory / 'ledger.db'}"
    done = subprocess.run(
        [sys.executable, "-c", BUILD_SCRIPT, url, str(events)],
        capture_output=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    head, build_s, index_s = done.stdout.split()
    recipients = sorted(municipalities())
    middle = int(head) // GRANT_EVENTS // 2
    gc.collect()
    return BulkStore(
        url,
        events,
        int(head),
        float(build_s),
        float(index_s),
        bulk_application_id(middle),
        recipients[middle % len(recipients)],
    )


@pytest.fixture(scope="module", params=[SMALL_EVENTS, LARGE_EVENTS], ids=["10k", "large"])
def bulk(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> BulkStore:
    """The store of one size (built once per module)."""
    store = build(tmp_path_factory.mktemp(f"trail-{request.param}"), request.param)
    print(
        f"\nstore of {store.events:,} events built in {store.build_s:.1f} s; chain index "
        f"extended over all of it in {store.index_s:.1f} s"
    )
    return store


@pytest.fixture
def client(bulk: BulkStore, tmp_path: Path) -> Iterator[TestClient]:
    """The HTTP API over the store, called by an auditor."""
    settings = service_settings(tmp_path, store_url=bulk.url)
    with TestClient(create_app(settings)) as test_client:
        test_client.headers.update(tokens_for(settings).headers("auditor", "integrator"))
        yield test_client


def run(
    benchmark: BenchmarkFixture,
    bulk: BulkStore,
    client: TestClient,
    *,
    name: str,
    path: str,
    expected: int,
) -> None:
    """Benchmark one GET, record its median, compare the large size with the small one."""

    def get() -> int:
        response = client.get(path)
        assert response.status_code == 200, response.text
        return len(response.json())

    count = benchmark.pedantic(get, rounds=ROUNDS, iterations=1, warmup_rounds=2)
    assert count == expected
    median_s = median_seconds(benchmark)
    MEDIANS[(name, bulk.events)] = median_s
    small = next((s for (n, size), s in MEDIANS.items() if n == name and size < bulk.events), None)
    ratio = median_s / small if small else None
    benchmark.extra_info.update(
        events=bulk.events,
        returned=count,
        store_build_s=round(bulk.build_s, 1),
        index_build_s=round(bulk.index_s, 1),
        median_ms=round(median_s * 1000, 2),
        ratio_to_10k=None if ratio is None else round(ratio, 2),
    )
    print(
        f"\n{name} at {bulk.events:,} events: median {median_s * 1000:.2f} ms"
        + ("" if ratio is None else f", {ratio:.2f}x the same at {SMALL_EVENTS:,}")
    )
    if name != "recipient trail" and bulk.requested >= FULL_EVENTS:
        assert median_s < MEDIAN_MAX_S
        assert ratio is not None and ratio <= LARGE_TO_SMALL_MAX


@pytest.mark.benchmark(group="trail")
def test_a_grants_trail(benchmark: BenchmarkFixture, bulk: BulkStore, client: TestClient) -> None:
    """GET /v1/applications/{id}/history of a grant in the middle of the ledger."""
    path = f"/v1/applications/{bulk.application_id}/history"
    run(benchmark, bulk, client, name="grant trail", path=path, expected=GRANT_EVENTS)


@pytest.mark.benchmark(group="page")
def test_the_last_page_of_the_log(
    benchmark: BenchmarkFixture, bulk: BulkStore, client: TestClient
) -> None:
    """GET /v1/events?from=N-99&limit=100."""
    path = f"/v1/events?from={bulk.events - PAGE_EVENTS + 1}&limit={PAGE_EVENTS}"
    run(benchmark, bulk, client, name="log page", path=path, expected=PAGE_EVENTS)


@pytest.mark.benchmark(group="recipient")
def test_a_recipients_trail(
    benchmark: BenchmarkFixture, bulk: BulkStore, client: TestClient
) -> None:
    """GET /v1/recipients/{code}/history (reported: it returns ~1/290 of the ledger)."""
    path = f"/v1/recipients/{bulk.recipient}/history"
    grants = (bulk.events - 6) // GRANT_EVENTS
    recipients = len(municipalities())
    index = sorted(municipalities()).index(bulk.recipient)
    expected = (grants // recipients + (1 if index < grants % recipients else 0)) * GRANT_EVENTS
    run(benchmark, bulk, client, name="recipient trail", path=path, expected=expected)
