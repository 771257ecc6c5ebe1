"""Every command type, posted in exactly the shape its published schema requires, is accepted.

Each command below is cut down to the `required` fields of schemas/published/commands/<Type>
(plus, on a capped programme, the fields the schema marks `x-required-when` that condition),
posted to the HTTP API, and recorded: on a programme with a cost-share cap and on one without.
A rule that starts requiring a documented optional field fails here, and once the schema says
so, the compatibility gate (tests/unit/test_schema_compatibility.py) calls it breaking.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from commands.http.app import create_app
from schemas import commands as c
from schemas.commands import COMMAND_SCHEMA_VERSION, REQUIRED_WHEN
from schemas.publish import PUBLISHED_DIR, command_file
from tests import builders as b
from tests.http_service import service_settings, tokens_for

CREATED = 201
CONFLICT = 409
CAP_PERCENT = 90
CAP_CONDITION = f"programme.{c.COST_SHARE_CAP}"
YEAR = b.FIRST_YEAR
# 50 % of the stated costs awarded, then 25 % more by the extension: under a 90 % cap.
REQUESTED_ORE = 1_000_000
COSTS_ORE = 2 * REQUESTED_ORE
EXTENSION_ORE = REQUESTED_ORE // 2


def published_schema(command_type: str) -> dict[str, Any]:
    """A command's published JSON Schema."""
    path = PUBLISHED_DIR / command_file(command_type, COMMAND_SCHEMA_VERSION)
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def documented_shape(command: c.CommandBase, conditions: set[str]) -> dict[str, Any]:
    """The command with only the fields its schema requires (and those `conditions` require)."""
    schema = published_schema(type(command).__name__)
    keep = set(schema["required"]) | {
        name
        for name, field in schema["properties"].items()
        if field.get(REQUIRED_WHEN) in conditions
    }
    full = command.model_dump(mode="json", exclude_none=True)
    shape = {name: value for name, value in full.items() if name in keep}
    assert set(schema["required"]) <= set(shape), f"the example lacks a required field: {full}"
    return shape


def every_command(programme_id: str, capped: bool) -> Iterator[c.CommandBase]:
    """One of each command type, in an order the rules allow (handover last)."""
    application = f"{programme_id}-a"
    rejected = f"{programme_id}-r"
    yield b.establish(
        programme_id=programme_id,
        cost_share_cap_percent=CAP_PERCENT if capped else None,
        effective_date=None,
    )
    yield b.set_appropriation(YEAR, 10 * REQUESTED_ORE, programme_id=programme_id)
    yield b.set_appropriation(YEAR + 1, 10 * REQUESTED_ORE, programme_id=programme_id)
    yield b.amend_appropriation(YEAR + 1, REQUESTED_ORE, programme_id=programme_id)
    for application_id in (application, rejected):
        yield b.application(
            application_id,
            {YEAR: REQUESTED_ORE},
            programme_id=programme_id,
            total_cost_ore=COSTS_ORE,
        )
    yield b.reject(rejected)
    yield b.award(application, {YEAR: REQUESTED_ORE})
    yield b.disburse(application, YEAR, REQUESTED_ORE // 4)
    yield b.recover(application, YEAR, REQUESTED_ORE // 8)
    yield b.amend_award(application, YEAR, -(REQUESTED_ORE // 8))
    yield b.extend(application, {YEAR + 1: EXTENSION_ORE})
    yield b.hand_over(b.SUCCESSOR, programme_id=programme_id)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    """The HTTP API over a fresh SQLite store, called by the builders' officer (whose `actor` and
    `agency` the commands state, as the token does)."""
    settings = service_settings(tmp_path)
    with TestClient(create_app(settings)) as test_client:
        test_client.headers.update(
            tokens_for(settings).headers("officer", sub=b.OFFICER, agency=b.AGENCY)
        )
        yield test_client


def post(client: TestClient, shape: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST one command; the status and the body."""
    response = client.post("/v1/commands", json=shape)
    body: dict[str, Any] = response.json()
    return response.status_code, body


@pytest.mark.parametrize("capped", [False, True], ids=["uncapped", "capped"])
def test_every_command_type_in_its_documented_shape_is_recorded(
    client: TestClient, capped: bool
) -> None:
    conditions = {CAP_CONDITION} if capped else set()
    posted: set[str] = set()
    for command in every_command(f"shapes-{'capped' if capped else 'uncapped'}", capped):
        # Business dates default to today (Stockholm): every act is recorded and effective today.
        shape = documented_shape(command, conditions)
        if isinstance(command, c.EstablishProgramme) and capped:
            shape[c.COST_SHARE_CAP] = CAP_PERCENT  # what makes this programme the capped one
        status, body = post(client, shape)
        assert status == CREATED, (shape, body)
        posted.add(shape["type"])
    assert posted == {model.__name__ for model in (*c.PROGRAMME_COMMANDS, *c.APPLICATION_COMMANDS)}


def test_a_capped_programme_refuses_an_application_without_costs_as_its_schema_says(
    client: TestClient,
) -> None:
    """The one documented condition: SubmitApplication.total_cost_ore on a capped programme."""
    commands = list(every_command("shapes-conditions", capped=True))
    for command in commands[:4]:  # the programme and its appropriations
        shape = documented_shape(command, {CAP_CONDITION})
        if isinstance(command, c.EstablishProgramme):
            shape[c.COST_SHARE_CAP] = CAP_PERCENT
        assert post(client, shape)[0] == CREATED
    application = commands[4]
    assert isinstance(application, c.SubmitApplication)
    status, body = post(client, documented_shape(application, set()))
    assert status == CONFLICT
    assert body["error"]["field"] == "total_cost_ore"
    properties = published_schema("SubmitApplication")["properties"]
    assert properties["total_cost_ore"][REQUIRED_WHEN] == CAP_CONDITION
    conditional = {
        (command_type.__name__, name)
        for command_type in (*c.PROGRAMME_COMMANDS, *c.APPLICATION_COMMANDS)
        for name, field in published_schema(command_type.__name__)["properties"].items()
        if REQUIRED_WHEN in field
    }
    assert conditional == {("SubmitApplication", "total_cost_ore")}
