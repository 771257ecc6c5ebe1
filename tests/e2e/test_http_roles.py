"""The role × endpoint matrix: every role against every protected endpoint, allowed or denied.

The matrix below is the README's role table written out; it is not read from the code, and
the last test fails when an endpoint exists that the matrix does not cover.
"""

from collections.abc import Iterator

import orjson
import pytest
from fastapi.testclient import TestClient

from commands.http.app import create_app
from commands.http.auth.roles import Role
from tests.http_service import Tokens, service_settings, tokens_for

OFFICER, FINANCE, AUDITOR, INTEGRATOR = (Role.OFFICER, Role.FINANCE, Role.AUDITOR, Role.INTEGRATOR)
BALANCES = {FINANCE, AUDITOR}
# (method, path template) -> the roles allowed.
MATRIX: dict[tuple[str, str], set[Role]] = {
    ("POST", "/v1/commands"): {OFFICER},
    ("POST", "/v1/commands/batch"): {OFFICER},
    ("GET", "/v1/commands/{command_id}"): {OFFICER, AUDITOR},
    ("GET", "/v1/applications/{application_id}/history"): {OFFICER, AUDITOR},
    ("GET", "/v1/recipients/{recipient}/history"): {OFFICER, AUDITOR},
    ("GET", "/v1/events"): {INTEGRATOR, AUDITOR},
    ("GET", "/v1/chain"): {AUDITOR},
    ("GET", "/v1/schemas"): {INTEGRATOR, AUDITOR},
    ("GET", "/v1/schemas/{name}"): {INTEGRATOR, AUDITOR},
    ("GET", "/v1/balances/recipient-year"): BALANCES,
    ("GET", "/v1/balances/programme-year"): BALANCES,
    ("GET", "/v1/balances/agency-year"): BALANCES,
    ("GET", "/v1/balances/county-year"): BALANCES,
    ("GET", "/v1/balances/workbook"): BALANCES,
}
PUBLIC = {("GET", "/v1/health")}
PATH_VALUES = {
    "{command_id}": "cmd-1",
    "{application_id}": "app-1",
    "{recipient}": "1280",
    "{name:path}": "events/GrantAwarded.v1.schema.json",
    "{name}": "events/GrantAwarded.v1.schema.json",
}
COMMAND = orjson.dumps(
    {
        "type": "SetAppropriation",
        "command_id": "c-1",
        "programme_id": "no-such-programme",
        "year": 2019,
        "amount_ore": 100,
        "decision_ref": "budget",
    }
)
BODIES = {
    "/v1/commands": (COMMAND, "application/json"),
    "/v1/commands/batch": (COMMAND, "application/x-ndjson"),
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Tokens]]:
    """One app for the whole matrix."""
    settings = service_settings(tmp_path_factory.mktemp("roles"))
    with TestClient(create_app(settings)) as client:
        yield client, tokens_for(settings)


def _url(template: str) -> str:
    for placeholder, value in PATH_VALUES.items():
        template = template.replace(placeholder, value)
    return template


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
def test_each_role_reaches_exactly_its_endpoints(
    service: tuple[TestClient, Tokens], role: Role, method: str, path: str
) -> None:
    """Allowed: anything but 401/403 (the request itself may be refused on its merits);
    denied: 403 naming the role, and nothing recorded."""
    client, tokens = service
    headers = tokens.headers(role.value, sub=f"{role.value}-1", agency="delmos")
    content, media_type = BODIES.get(path, (None, None))
    if media_type:
        headers["Content-Type"] = media_type
    response = client.request(method, _url(path), headers=headers, content=content)
    if role in MATRIX[(method, path)]:
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json()["error"]["field"] == "role"
        allowed = MATRIX[(method, path)]
        assert all(other.value in response.json()["error"]["message"] for other in allowed)


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX))
def test_no_endpoint_but_health_answers_without_a_token(
    service: tuple[TestClient, Tokens], method: str, path: str
) -> None:
    """Every protected endpoint: 401 without a token."""
    client, _ = service
    assert client.request(method, _url(path)).status_code == 401


def test_health_is_open_and_tells_no_secrets(service: tuple[TestClient, Tokens]) -> None:
    """GET /v1/health needs no token and names only kinds of store."""
    client, _ = service
    body = client.get("/v1/health").json()
    assert body == {"ok": True, "store": "sqlite", "read_store": "sqlite", "auth": "local-dev-key"}


def test_the_matrix_covers_every_api_endpoint(service: tuple[TestClient, Tokens]) -> None:
    """A new endpoint without a line in the matrix fails here (the OpenAPI document lists them)."""
    client, _ = service
    paths = client.get("/openapi.json").json()["paths"]
    operations = {(method.upper(), path) for path, item in paths.items() for method in item}
    assert operations == set(MATRIX) | PUBLIC
