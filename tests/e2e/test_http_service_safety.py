"""The service's own safety: body limits before parsing, media types, CORS closed by default,
no secrets or stack traces in any answer, the docs and pages from the package under a CSP."""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from commands.http.app import create_app
from commands.http.bodies import MAX_BATCH_LINES, MAX_COMMAND_BYTES
from commands.http.settings import ServiceSettings
from tests.conftest import postgres_base_url
from tests.http_service import service_settings, tokens_for

OFFICER_AGENCY = "tillvaxtverket"
PAGE_ORIGIN = "https://ekonomi.example.se"


@pytest.fixture
def settings(tmp_path: Path) -> ServiceSettings:
    """A service on fresh stores."""
    return service_settings(tmp_path)


@pytest.fixture
def client(settings: ServiceSettings) -> Iterator[TestClient]:
    """The app, as an officer."""
    with TestClient(create_app(settings)) as test_client:
        test_client.headers.update(
            tokens_for(settings).headers("officer", "auditor", agency=OFFICER_AGENCY)
        )
        yield test_client


def _events(client: TestClient) -> int:
    return len(client.get("/v1/events", params={"limit": 1000}).json())


def test_an_oversized_command_is_413_before_it_is_parsed(client: TestClient) -> None:
    """Over 1 MiB by Content-Length or by the bytes that arrive (chunked): 413, nothing read."""
    body = b"{" + b" " * MAX_COMMAND_BYTES + b"}"
    declared = client.post(
        "/v1/commands", content=body, headers={"Content-Type": "application/json"}
    )
    assert declared.status_code == 413
    assert declared.json()["error"]["field"] == "Content-Length"

    def chunks() -> Iterator[bytes]:
        for _ in range(3):
            yield b" " * (MAX_COMMAND_BYTES // 2)

    streamed = client.post(
        "/v1/commands", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.json()["error"]["field"] == "body"
    assert _events(client) == 0


def test_a_batch_of_more_than_100_000_lines_is_413(client: TestClient) -> None:
    """The line limit holds however small the lines are."""
    body = b"\n" * (MAX_BATCH_LINES + 1)
    response = client.post(
        "/v1/commands/batch", content=body, headers={"Content-Type": "application/x-ndjson"}
    )
    assert response.status_code == 413
    assert response.json()["error"]["field"] == "lines"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/v1/commands", "text/plain"),
        ("/v1/commands", "application/x-www-form-urlencoded"),
        ("/v1/commands", None),
        ("/v1/commands/batch", "application/json"),
        ("/v1/commands/batch", "multipart/form-data; boundary=x"),
    ],
)
def test_a_write_of_another_media_type_is_415(
    client: TestClient, path: str, content_type: str | None
) -> None:
    """A form or text post (what any web page can send cross-site) is never read."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(path, content=b'{"type": "EstablishProgramme"}', headers=headers)
    assert response.status_code == 415
    assert response.json()["error"]["field"] == "Content-Type"


def test_cors_is_closed_unless_origins_are_listed(tmp_path: Path, client: TestClient) -> None:
    """No Access-Control-Allow-Origin by default; the listed origin only when configured."""
    asked = {"Origin": PAGE_ORIGIN, "Access-Control-Request-Method": "GET"}
    closed = client.get("/v1/health", headers={"Origin": PAGE_ORIGIN})
    assert "access-control-allow-origin" not in closed.headers
    assert "access-control-allow-origin" not in client.options("/v1/health", headers=asked).headers
    settings = service_settings(tmp_path / "open", cors_origins=[PAGE_ORIGIN])
    with TestClient(create_app(settings)) as opened:
        allowed = opened.options("/v1/health", headers=asked)
        assert allowed.headers["access-control-allow-origin"] == PAGE_ORIGIN
        other = opened.get("/v1/health", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers


@pytest.mark.postgres
def test_health_and_errors_never_show_the_store_password(tmp_path: Path) -> None:
    """A PostgreSQL store URL with a password: health shows the kind only."""
    import uuid  # noqa: PLC0415

    import psycopg  # noqa: PLC0415

    schema = f"gl_test_{uuid.uuid4().hex[:12]}"
    base = postgres_base_url()
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with_password = base.replace("postgres@", "postgres:hemligt-l0senord@", 1)
        settings = service_settings(tmp_path, store_url=f"{with_password}?schema={schema}")
        with TestClient(create_app(settings)) as client:
            response = client.get("/v1/health")
            assert response.status_code == 200
            assert "hemligt" not in response.text
            assert response.json()["store"] == "postgresql"
    finally:
        with psycopg.connect(base, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_an_unexpected_error_is_a_500_without_a_traceback(settings: ServiceSettings) -> None:
    """A bug answers in the refusal shape, without its message or stack."""
    app = create_app(settings)

    def broken() -> None:
        raise RuntimeError("secret detail in a bug")

    app.add_api_route("/v1/broken", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/v1/broken")
    assert response.status_code == 500
    assert response.json()["ok"] is False
    assert "secret" not in response.text and "Traceback" not in response.text


def test_the_docs_and_pages_use_only_the_packages_files_under_a_csp(client: TestClient) -> None:
    """/docs, / and /auditor load scripts and styles from /static (no CDN), none inline; the
    CSP allows scripts from the service only."""
    for path in ("/docs", "/", "/auditor"):
        response = client.get(path)
        assert response.status_code == 200
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "unsafe-inline" not in policy.split("style")[0]
        html = response.text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), f"inline script in {path}"
        assert not re.search(r"\son[a-z]+=", html), f"inline handler in {path}"
        for url in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert url.startswith(("/", "data:")), f"{path} loads {url}"
            if url.startswith("/static/"):
                assert client.get(url).status_code == 200, url
    assert "openapi" in client.get("/openapi.json").json()
