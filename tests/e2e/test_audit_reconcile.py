"""`grant-ledger audit reconcile`: event store, topic and read store agree at one position, or the
first disagreement is named, on SQLite and on PostgreSQL."""

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from commands.cli.main import main
from ledger.application.grant_ledger import PROGRAMME_EVENT_TOPIC, GrantLedger
from ledger.relay.relay import Relay
from tests.audited_ledger import AuditedLedger, audited_ledger
from tests.fill import setup_commands
from tests.signing import ledger_signer

pytestmark = pytest.mark.kafka


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def stack(request: pytest.FixtureRequest, tmp_path: Path, kafka_bootstrap: str) -> AuditedLedger:
    """The scenario in an event store and a read store of one kind, relayed and projected."""
    if request.param == "sqlite":
        urls = (f"sqlite:///{tmp_path / 'ledger.db'}", f"sqlite:///{tmp_path / 'read.db'}")
    else:
        make: Callable[[], str] = request.getfixturevalue("postgres_schema_factory")
        urls = (make(), make())
    return audited_ledger(tmp_path, kafka_bootstrap, *urls)


def reconcile(
    stack: AuditedLedger, capsys: pytest.CaptureFixture[str]
) -> tuple[int, dict[str, Any]]:
    """Run the command (JSON output); returns (exit code, body)."""
    code = main(
        [
            "audit",
            "reconcile",
            "--format",
            "json",
            *stack.store_flags(),
            *stack.read_flags(),
            *stack.kafka_flags(),
        ]
    )
    return code, orjson.loads(capsys.readouterr().out)


def execute(url: str, statement: str, params: tuple[Any, ...] = ()) -> None:
    """One statement on a SQLite file or a PostgreSQL schema (as an operator would by hand)."""
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute(statement.replace("%s", "?"), params)
        return
    base, schema = url.split("?schema=")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute(statement, params)


def test_all_three_agree(stack: AuditedLedger, capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 0: same chain on store and topic, every balance equal at the read store's position."""
    code, body = reconcile(stack, capsys)
    assert code == 0, body
    assert body["ok"] and body["read_store_position"] == stack.events
    assert body["store_events"] == body["topic_messages"] == stack.events


def test_a_read_store_balance_one_ore_off_is_caught(
    stack: AuditedLedger, capsys: pytest.CaptureFixture[str]
) -> None:
    """A hand edit of 1 öre in the read store: exit 1 naming the row, the field and both values."""
    execute(
        stack.read_store_url,
        "UPDATE recipient_year_totals SET disbursed_ore = disbursed_ore + 1 "
        "WHERE programme_id = %s AND recipient = %s AND year = %s",
        ("sfs-2018-151", "1280", 2019),
    )
    code, body = reconcile(stack, capsys)
    assert code == 1 and not body["ok"]
    (difference,) = [d for d in body["disagreements"] if d.startswith("balances")]
    assert "recipient-year sfs-2018-151/1280/2019 disbursed_ore" in difference
    found = re.search(r"store (-?\d+) vs read store (-?\d+)", difference)
    assert found is not None, difference
    assert int(found.group(2)) == int(found.group(1)) + 1


def test_an_altered_stored_event_is_named_by_position(
    stack: AuditedLedger, capsys: pytest.CaptureFixture[str]
) -> None:
    """The store no longer matches the topic: exit 1 with the first bad position."""
    ledger = GrantLedger(stack.store_url)
    try:
        stored = ledger.stored_programme_events(0, 200)[149]
        table = ledger.recorder.events_table_name  # type: ignore[attr-defined]
    finally:
        ledger.close()
    state = {**stored.state, "note": "changed afterwards"}
    column = "rowid" if stack.store_url.startswith("sqlite") else "notification_id"
    execute(
        stack.store_url,
        f"UPDATE {table} SET state = %s WHERE {column} = %s AND topic = %s",
        (orjson.dumps(state), stored.notification_id, PROGRAMME_EVENT_TOPIC),
    )
    code, body = reconcile(stack, capsys)
    assert code == 1
    assert body["first_bad_position"] == 150


def test_a_read_store_behind_the_store_is_compared_at_its_own_position(
    stack: AuditedLedger, capsys: pytest.CaptureFixture[str]
) -> None:
    """Events recorded and published after the projection: lag, not disagreement."""
    ledger = GrantLedger(stack.store_url)
    try:
        for command in setup_commands():
            ledger.execute(command)
        Relay(ledger, stack.settings, stack.settings.bootstrap_servers or "", ledger_signer()).run(
            once=True
        )
    finally:
        ledger.close()
    code, body = reconcile(stack, capsys)
    assert code == 0, body
    assert body["read_store_position"] == stack.events
    assert body["store_events"] == body["topic_messages"] == stack.events + len(setup_commands())
