"""Trails and pages through the chain index: the same envelopes as a walk from genesis, read
without one; kept exact under concurrent extenders; a stored event altered after indexing is
caught at its position."""

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from commands.cli.main import main
from commands.http.app import create_app
from ledger.application.chain_index import ChainIndex, ChainIndexMismatch
from ledger.application.grant_ledger import PROGRAMME_EVENT_TOPIC, GrantLedger
from ledger.application.published_log import log_page, store_envelopes, trail
from ledger.infrastructure.chain_index_sql import CHAIN_INDEX_TABLE
from ledger.relay.chained_log import build_page
from schemas.chain import GENESIS_HASH
from tests.fill import add_payments, fill
from tests.http_service import service_settings, tokens_for
from tests.scenario_ledger import (
    MALMO,
    MALMO_2018_APPLICATION,
    SCENARIO_EVENTS,
    record_scenario,
)

EXTENDERS = 4
WRITER_PAYMENTS = 120


def full_walk(store_url: str) -> list[dict[str, Any]]:
    """Every envelope, chained from genesis without the index (the reference)."""
    ledger = GrantLedger(store_url)
    try:
        return list(store_envelopes(ledger))
    finally:
        ledger.close()


def indexed_rows(store_url: str) -> list[tuple[int, str]]:
    """(position, hash) of every indexed row."""
    ledger = GrantLedger(store_url)
    try:
        index = ChainIndex(ledger)
        return [(row.position, row.hash) for row in index.rows_between(1, 10**12)]
    finally:
        ledger.close()


@pytest.fixture
def scenario_store(store_url: str) -> str:
    """The reference scenario recorded into a fresh store (SQLite and PostgreSQL)."""
    assert record_scenario(store_url) == SCENARIO_EVENTS
    return store_url


def test_trails_and_pages_equal_the_walk_from_genesis(scenario_store: str) -> None:
    """A grant's trail, a recipient's trail and any page are exactly the walk's envelopes."""
    walk = full_walk(scenario_store)
    ledger = GrantLedger(scenario_store)
    try:
        grant = trail(ledger, application_id=MALMO_2018_APPLICATION)
        recipient = trail(ledger, recipient=MALMO)
        pages = [log_page(ledger, start, 100) for start in (1, 266, 300, 365, 366, 2**63 - 1)]
    finally:
        ledger.close()
    assert grant == [e for e in walk if e["data"].get("application_id") == MALMO_2018_APPLICATION]
    assert recipient == [e for e in walk if e["data"].get("recipient") == MALMO]
    assert len(grant) >= 5 and len(recipient) >= len(grant)
    assert pages == [walk[0:100], walk[265:365], walk[299:365], walk[364:365], [], []]


def test_the_index_grows_with_the_store_and_is_rebuilt_when_dropped(
    sqlite_store_url: str,
) -> None:
    """New events are indexed by the next reader; a dropped index is derived again."""
    fill(sqlite_store_url, 30)
    ledger = GrantLedger(sqlite_store_url)
    try:
        assert [e["position"] for e in log_page(ledger, 29, 5)] == [29, 30]
        add_payments(sqlite_store_url, 1_000, 10)
        assert [e["position"] for e in log_page(ledger, 29, 5)] == [29, 30, 31, 32, 33]
    finally:
        ledger.close()
    with sqlite3.connect(sqlite_store_url.removeprefix("sqlite:///")) as conn:
        conn.execute(f"DELETE FROM {CHAIN_INDEX_TABLE}")
    assert indexed_rows(sqlite_store_url) == []
    ledger = GrantLedger(sqlite_store_url)
    try:
        log_page(ledger, 1, 1)
    finally:
        ledger.close()
    assert indexed_rows(sqlite_store_url) == [
        (e["position"], e["hash"]) for e in full_walk(sqlite_store_url)
    ]


def test_unpublished_events_show_with_the_hash_the_relay_will_publish(
    sqlite_store_url: str,
) -> None:
    """The index's hash of an event nobody published yet is the relay's hash for it."""
    fill(sqlite_store_url, 20)
    ledger = GrantLedger(sqlite_store_url)
    try:
        shown = log_page(ledger, 1, 20)
        relayed = build_page(ledger, 0, 0, GENESIS_HASH, 20)
    finally:
        ledger.close()
    assert [e["hash"] for e in shown] == [m.hash for m in relayed]
    assert [orjson.loads(m.value) for m in relayed] == shown


def _extend(store_url: str, start: Any) -> int:
    start.wait()
    ledger = GrantLedger(store_url)
    try:
        return ChainIndex(ledger).extend(batch_events=7)
    finally:
        ledger.close()


def _write(store_url: str, start: Any) -> int:
    start.wait()
    return add_payments(store_url, 10_000, WRITER_PAYMENTS)


def test_concurrent_extenders_and_a_writer_leave_one_exact_index(store_url: str) -> None:
    """Four processes extend the index (small batches, so they race) while a fifth records
    payments: the index ends as positions 1..N with the walk's hashes, each once."""
    fill(store_url, 150)
    context = multiprocessing.get_context("spawn")
    start = context.Manager().Barrier(EXTENDERS + 1)
    with context.Pool(EXTENDERS + 1) as pool:
        extenders = [pool.apply_async(_extend, (store_url, start)) for _ in range(EXTENDERS)]
        writer = pool.apply_async(_write, (store_url, start))
        heads = [result.get(timeout=240) for result in extenders]
        last_position = writer.get(timeout=240)
    assert all(150 <= head <= last_position for head in heads)
    ledger = GrantLedger(store_url)
    try:
        ChainIndex(ledger).extend()
    finally:
        ledger.close()
    walk = full_walk(store_url)
    assert len(walk) == last_position
    assert indexed_rows(store_url) == [(e["position"], e["hash"]) for e in walk]


def _alter_stored_event(store_path: Path, position: int) -> None:
    with sqlite3.connect(store_path) as conn:
        rowid, state = conn.execute(
            "SELECT rowid, state FROM stored_events WHERE topic=? ORDER BY rowid LIMIT 1 OFFSET ?",
            (PROGRAMME_EVENT_TOPIC, position - 1),
        ).fetchone()
        body = orjson.loads(state)
        body["data"]["amount_ore"] += 1_000_000
        conn.execute("UPDATE stored_events SET state=? WHERE rowid=?", (orjson.dumps(body), rowid))


def test_an_event_altered_after_indexing_is_caught_at_its_position(
    sqlite_store_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """History, events and the HTTP API refuse to serve it, naming position 12."""
    fill(sqlite_store_url, 20)
    ledger = GrantLedger(sqlite_store_url)
    try:
        log_page(ledger, 1, 20)
    finally:
        ledger.close()
    _alter_stored_event(Path(sqlite_store_url.removeprefix("sqlite:///")), 12)

    ledger = GrantLedger(sqlite_store_url)
    try:
        with pytest.raises(ChainIndexMismatch) as caught:
            trail(ledger, application_id="fill-a")
        assert caught.value.value == 12
        assert [e["position"] for e in log_page(ledger, 1, 11)] == list(range(1, 12))
    finally:
        ledger.close()
    assert main(["events", "--from", "10", "--limit", "5", "--store", sqlite_store_url]) != 0
    assert "position=12" in capsys.readouterr().err
    settings = service_settings(tmp_path, store_url=sqlite_store_url)
    with TestClient(create_app(settings)) as client:
        headers = tokens_for(settings).headers("auditor")
        response = client.get("/v1/events", params={"from": 12, "limit": 1}, headers=headers)
    assert response.status_code == 500
    assert response.json()["error"]["value"] == 12


def test_an_event_removed_after_indexing_is_caught(sqlite_store_url: str) -> None:
    """A deleted stored event leaves a hole the index names."""
    fill(sqlite_store_url, 20)
    ledger = GrantLedger(sqlite_store_url)
    try:
        log_page(ledger, 1, 20)
    finally:
        ledger.close()
    with sqlite3.connect(sqlite_store_url.removeprefix("sqlite:///")) as conn:
        conn.execute(
            "DELETE FROM stored_events WHERE rowid = (SELECT rowid FROM stored_events "
            "WHERE topic=? ORDER BY rowid LIMIT 1 OFFSET 14)",
            (PROGRAMME_EVENT_TOPIC,),
        )
    ledger = GrantLedger(sqlite_store_url)
    try:
        with pytest.raises(ChainIndexMismatch, match="gone from the store") as caught:
            log_page(ledger, 10, 10)
    finally:
        ledger.close()
    assert caught.value.value == 15


def test_an_unknown_application_or_recipient_is_not_found(sqlite_store_url: str) -> None:
    """No rows: NotFound naming the field, through the CLI as a refusal."""
    fill(sqlite_store_url, 5)
    assert main(["history", "--application", "nope", "--store", sqlite_store_url]) != 0
    assert main(["history", "--recipient", "9999", "--store", sqlite_store_url]) != 0
