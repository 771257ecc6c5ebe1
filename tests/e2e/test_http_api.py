"""The HTTP API: commands in with the CLI's answers and refusals, the trail and the log out."""

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from commands.http.app import create_app
from ledger.settings import EventStoreSettings, Settings
from tests.fill import setup_commands

SCENARIO = Path(__file__).resolve().parents[2] / "commands" / "scenarios" / "sfs_2018_151.jsonl"


@pytest.fixture
def client(sqlite_store_url: str) -> Iterator[TestClient]:
    """The API over a fresh SQLite store."""
    settings = Settings(event_store=EventStoreSettings(sqlite_store_url))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def as_json(command: object) -> bytes:
    """A command model as the JSON a client posts."""
    return orjson.dumps(command.model_dump(mode="json", exclude_none=True))  # type: ignore[attr-defined]


def test_a_command_is_recorded_and_a_repeat_reports_the_earlier_outcome(client: TestClient) -> None:
    """201 with the position for a new command; 200, same position, duplicate for a repeat."""
    first = setup_commands()[0]
    created = client.post("/v1/commands", content=as_json(first))
    assert created.status_code == 201
    assert created.json()["position"] == 1
    repeated = client.post("/v1/commands", content=as_json(first))
    assert repeated.status_code == 200
    assert repeated.json()["duplicate"] is True
    assert repeated.json()["position"] == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 422, "(line)"),
        (b'{"type": "Nope"}', 422, "type"),
        (
            b'{"type":"SetAppropriation","command_id":"x","actor":"a","agency":"tillvaxtverket",'
            b'"programme_id":"p","year":2019,"amount_ore":1.5,"decision_ref":"d"}',
            422,
            "amount_ore",
        ),
        (
            b'{"type":"SetAppropriation","command_id":"x","actor":"a","agency":"tillvaxtverket",'
            b'"programme_id":"nope","year":2019,"amount_ore":1,"decision_ref":"d"}',
            404,
            "programme_id",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_the_service_keeps_running(
    client: TestClient, body: bytes, status: int, field: str
) -> None:
    """Malformed, unknown, float money, unknown programme: a clear refusal; nothing recorded."""
    response = client.post("/v1/commands", content=body)
    assert response.status_code == status
    assert response.json()["ok"] is False
    assert response.json()["error"]["field"] == field
    assert client.get("/v1/events").json() == []
    assert client.get("/v1/health").json()["ok"] is True


def test_a_rule_violation_is_a_conflict(client: TestClient) -> None:
    """A command the programme's rules forbid is 409 with the rule's field."""
    for command in setup_commands():
        assert client.post("/v1/commands", content=as_json(command)).status_code == 201
    award = setup_commands()[3].model_copy(update={"command_id": "again"})
    response = client.post("/v1/commands", content=as_json(award))
    assert response.status_code == 409
    assert response.json()["error"]["field"] == "application_id"


def test_a_batch_runs_each_line_on_its_own(client: TestClient) -> None:
    """JSON Lines in, one result per line, good lines recorded around a bad one."""
    commands = setup_commands()
    body = b"\n".join([as_json(commands[0]), b"{oops", as_json(commands[1])])
    results = client.post("/v1/commands/batch", content=body).json()
    assert [r["ok"] for r in results] == [True, False, True]
    assert results[1]["line"] == 2


def test_history_and_events_serve_the_auditors_views(client: TestClient) -> None:
    """A grant's trail in order with both dates; the log page by position with its chain."""
    body = SCENARIO.read_bytes()
    assert all(r["ok"] for r in client.post("/v1/commands/batch", content=body).json())
    history = client.get("/v1/applications/sfs2018151-1280-2018/history").json()
    assert [e["type"] for e in history[:2]] == ["ApplicationSubmitted", "GrantAwarded"]
    assert all("effective_date" in e and "recorded_at" in e for e in history)
    page = client.get("/v1/events", params={"from": 10, "limit": 5}).json()
    assert [e["position"] for e in page] == [10, 11, 12, 13, 14]
    assert page[1]["prev_hash"] == page[0]["hash"]
    missing = client.get("/v1/applications/nope/history")
    assert missing.status_code == 404
    assert missing.json()["error"]["field"] == "application_id"


def test_a_bad_query_parameter_is_refused_in_the_same_shape(client: TestClient) -> None:
    """`?from=abc` is a 422 naming `from` and the value, like any refusal."""
    response = client.get("/v1/events", params={"from": "abc"})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "from"
    assert response.json()["error"]["value"] == "abc"
