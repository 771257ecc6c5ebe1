"""The HTTP API: commands in with the CLI's answers and refusals, the trail and the log out."""

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from commands.http.app import create_app
from tests.fill import setup_commands
from tests.http_service import Tokens, service_settings, tokens_for

SCENARIO = Path(__file__).resolve().parents[2] / "commands" / "scenarios" / "sfs_2018_151.jsonl"
JSON = {"Content-Type": "application/json"}
NDJSON = {"Content-Type": "application/x-ndjson"}


@pytest.fixture
def tokens(tmp_path: Path) -> Tokens:
    """Tokens the service below trusts."""
    return tokens_for(service_settings(tmp_path))


@pytest.fixture
def client(tmp_path: Path, tokens: Tokens) -> Iterator[TestClient]:
    """The API over a fresh SQLite store, called as an officer of Tillväxtverket (the agency
    that administers the test programme) who may also audit."""
    with TestClient(create_app(service_settings(tmp_path))) as test_client:
        test_client.headers.update(
            tokens.headers(
                "officer", "auditor", "integrator", sub="filler", agency="tillvaxtverket"
            )
        )
        yield test_client


def as_json(command: object) -> bytes:
    """A command model as the JSON a client posts."""
    return orjson.dumps(command.model_dump(mode="json", exclude_none=True))  # type: ignore[attr-defined]


def test_a_command_is_recorded_and_a_repeat_reports_the_earlier_outcome(client: TestClient) -> None:
    """201 with the position for a new command; 200, same position, duplicate for a repeat."""
    first = setup_commands()[0]
    created = client.post("/v1/commands", content=as_json(first), headers=JSON)
    assert created.status_code == 201
    assert created.json()["position"] == 1
    repeated = client.post("/v1/commands", content=as_json(first), headers=JSON)
    assert repeated.status_code == 200
    assert repeated.json()["duplicate"] is True
    assert repeated.json()["position"] == 1


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 422, "(line)"),
        (b'{"type": "Nope"}', 422, "type"),
        (
            b'{"type":"SetAppropriation","command_id":"x",'
            b'"programme_id":"p","year":2019,"amount_ore":1.5,"decision_ref":"d"}',
            422,
            "amount_ore",
        ),
        (
            b'{"type":"SetAppropriation","command_id":"x",'
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
    response = client.post("/v1/commands", content=body, headers=JSON)
    assert response.status_code == status
    assert response.json()["ok"] is False
    assert response.json()["error"]["field"] == field
    assert client.get("/v1/events").json() == []
    assert client.get("/v1/health").json()["ok"] is True


def test_a_rule_violation_is_a_conflict(client: TestClient) -> None:
    """A command the programme's rules forbid is 409 with the rule's field."""
    for command in setup_commands():
        assert (
            client.post("/v1/commands", content=as_json(command), headers=JSON).status_code == 201
        )
    award = setup_commands()[3].model_copy(update={"command_id": "again"})
    response = client.post("/v1/commands", content=as_json(award), headers=JSON)
    assert response.status_code == 409
    assert response.json()["error"]["field"] == "application_id"


def test_a_batch_runs_each_line_on_its_own(client: TestClient) -> None:
    """JSON Lines in, one result per line, good lines recorded around a bad one."""
    commands = setup_commands()
    body = b"\n".join([as_json(commands[0]), b"{oops", as_json(commands[1])])
    results = client.post("/v1/commands/batch", content=body, headers=NDJSON).json()
    assert [r["ok"] for r in results] == [True, False, True]
    assert results[1]["line"] == 2


def test_history_and_events_serve_the_auditors_views(tmp_path: Path, tokens: Tokens) -> None:
    """A grant's trail in order with both dates; the log page by position with its chain."""
    # The scenario is recorded by both agencies in turn; the operator's CLI records it here.
    from commands.cli.main import main  # noqa: PLC0415

    settings = service_settings(tmp_path)
    assert main(["submit", str(SCENARIO), "--store", settings.store_url, "--format", "json"]) == 0
    with TestClient(create_app(settings)) as client:
        client.headers.update(tokens.headers("auditor"))
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


def test_a_key_given_twice_is_refused_at_every_door(
    client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """HTTP, an HTTP batch line and the CLI all refuse `"amount_ore": 1000, "amount_ore": 7`,
    naming the key, and record nothing."""
    from commands.cli.main import main  # noqa: PLC0415

    command = as_json(setup_commands()[0])
    twice = command[:-1] + b',"command_id":"other"}'
    response = client.post("/v1/commands", content=twice, headers=JSON)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "command_id"
    results = client.post("/v1/commands/batch", content=command + b"\n" + twice, headers=NDJSON)
    assert [r["ok"] for r in results.json()] == [True, False]
    assert "command_id" in str(results.json()[1])
    lines = tmp_path / "twice.jsonl"
    lines.write_bytes(twice + b"\n")
    store = f"sqlite:///{tmp_path / 'cli.db'}"
    capsys.readouterr()
    assert main(["submit", str(lines), "--store", store]) == 1
    assert "command_id" in capsys.readouterr().out
    assert main(["events", "--store", store]) == 0
    assert capsys.readouterr().out.strip() == ""
