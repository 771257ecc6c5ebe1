"""Who speaks: every bad token is a 401 naming its check, the recorded actor is the token's,
and an officer of one agency cannot act for another, whatever the body says."""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm

from commands.http.app import create_app
from commands.http.auth.dev_issuer import DevIssuer
from commands.http.auth.settings import DEV_KEY_FILE, AuthSettings
from commands.http.settings import ServiceSettings
from tests.fill import setup_commands
from tests.http_service import Tokens, service_settings, tokens_for

JSON = {"Content-Type": "application/json"}
NDJSON = {"Content-Type": "application/x-ndjson"}
AUDIENCE = "grant-ledger"
HOUR_S = 3600


@pytest.fixture
def settings(tmp_path: Path) -> ServiceSettings:
    """A service on fresh stores with the local issuer."""
    return service_settings(tmp_path)


@pytest.fixture
def tokens(settings: ServiceSettings) -> Tokens:
    """Good tokens of that issuer."""
    return tokens_for(settings)


@pytest.fixture
def client(settings: ServiceSettings) -> Iterator[TestClient]:
    """The app, no Authorization header by default."""
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": "urn:grant-ledger:dev",
        "sub": "anna",
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + HOUR_S,
        "roles": ["auditor"],
    }
    claims.update(overrides)
    return {name: value for name, value in claims.items() if value is not None}


def _dev_key(settings: ServiceSettings) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(
        (settings.auth.dev_dir / DEV_KEY_FILE).read_bytes(), password=None
    )
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _signed(settings: ServiceSettings, **overrides: Any) -> str:
    """Claims signed with the trusted key (valid signature, whatever the claims say)."""
    kid = DevIssuer.load(settings.auth.dev_dir).kid
    return jwt.encode(_claims(**overrides), _dev_key(settings), "ES256", headers={"kid": kid})


def _unsigned(alg: str, claims: dict[str, Any], kid: str, secret: bytes | None = None) -> str:
    header = _b64(json.dumps({"alg": alg, "typ": "JWT", "kid": kid}).encode())
    payload = _b64(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}".encode()
    signature = b"" if secret is None else hmac.new(secret, signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def bad_tokens(settings: ServiceSettings) -> dict[str, tuple[str | None, str]]:
    """Authorization header values that must be refused, with the check each fails."""
    kid = DevIssuer.load(settings.auth.dev_dir).kid
    now = int(time.time())
    stranger = ec.generate_private_key(ec.SECP256R1())
    public_pem = (settings.auth.dev_dir / "jwks.json").read_bytes()  # what an attacker has
    return {
        "missing": (None, "Authorization"),
        "not bearer": ("Basic YW5uYTpzZWNyZXQ=", "Authorization"),
        "malformed": ("Bearer not-a-jwt", "token"),
        "expired": (
            "Bearer "
            + _signed(settings, iat=now - 2 * HOUR_S, nbf=now - 2 * HOUR_S, exp=now - HOUR_S),
            "exp",
        ),
        "not yet valid": (f"Bearer {_signed(settings, nbf=now + HOUR_S)}", "nbf"),
        "issued in the future": (f"Bearer {_signed(settings, iat=now + HOUR_S)}", "iat"),
        "wrong signature": (
            "Bearer " + jwt.encode(_claims(), stranger, "ES256", headers={"kid": kid}),
            "signature",
        ),
        "wrong issuer": (f"Bearer {_signed(settings, iss='https://evil.example')}", "iss"),
        "wrong audience": (f"Bearer {_signed(settings, aud='another-api')}", "aud"),
        "no expiry": (f"Bearer {_signed(settings, exp=None)}", "exp"),
        "no subject": (f"Bearer {_signed(settings, sub=None)}", "sub"),
        "alg none": (f"Bearer {_unsigned('none', _claims(), kid)}", "alg"),
        "HS256 with the public key as secret": (
            f"Bearer {_unsigned('HS256', _claims(), kid, secret=public_pem)}",
            "alg",
        ),
        "unknown kid": (
            "Bearer " + jwt.encode(_claims(), stranger, "ES256", headers={"kid": "rotated-away"}),
            "kid",
        ),
        "roles not a list": (f"Bearer {_signed(settings, roles='auditor')}", "roles"),
    }


CASES = (
    "missing",
    "not bearer",
    "malformed",
    "expired",
    "not yet valid",
    "issued in the future",
    "wrong signature",
    "wrong issuer",
    "wrong audience",
    "no expiry",
    "no subject",
    "alg none",
    "HS256 with the public key as secret",
    "unknown kid",
    "roles not a list",
)


@pytest.mark.parametrize("case", CASES)
def test_a_bad_token_is_a_401_naming_the_check_and_never_echoed(
    client: TestClient,
    settings: ServiceSettings,
    case: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """401, WWW-Authenticate: Bearer error="invalid_token", the failed check as the field."""
    header, check = bad_tokens(settings)[case]
    headers = {} if header is None else {"Authorization": header}
    response = client.get("/v1/balances/programme-year", headers=headers)
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.json()["ok"] is False
    assert response.json()["error"]["field"] == check
    logged = capsys.readouterr().err.strip().splitlines()
    denial = json.loads(logged[-1])
    assert denial["status"] == 401 and denial["path"] == "/v1/balances/programme-year"
    assert denial["reason"].startswith(check)
    if header is not None:
        secret_part = header.split(" ", 1)[1]
        assert secret_part not in response.text
        assert secret_part not in str(response.headers)
        assert secret_part not in "\n".join(logged)


def test_a_token_within_the_30_second_leeway_is_accepted(
    client: TestClient, settings: ServiceSettings
) -> None:
    """exp 10 s ago and nbf 10 s ahead still pass: clocks drift."""
    now = int(time.time())
    token = _signed(settings, exp=now - 10, nbf=now + 10)
    response = client.get("/v1/chain", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


def test_an_rs256_token_from_an_oidc_provider_with_keycloak_roles_is_accepted(
    tmp_path: Path,
) -> None:
    """A JWKS file with an RSA key, the issuer required, roles at realm_access.roles."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    (tmp_path / "jwks.json").write_text(json.dumps({"keys": [{**jwk, "kid": "k1", "use": "sig"}]}))
    issuer = "https://sso.delmos.example/realms/delmos"
    settings = ServiceSettings(
        **{
            **service_settings(tmp_path).__dict__,
            "auth": AuthSettings(
                str(tmp_path / "jwks.json"), issuer, roles_claim="realm_access.roles"
            ),
        }
    )
    claims = _claims(iss=issuer, roles=None, realm_access={"roles": ["auditor", "offline_access"]})
    token = jwt.encode(claims, key, "RS256", headers={"kid": "k1"})
    with TestClient(create_app(settings)) as client:
        response = client.get("/v1/chain", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text


def test_a_valid_token_without_the_role_is_a_403_naming_the_role(
    client: TestClient, tokens: Tokens, capsys: pytest.CaptureFixture[str]
) -> None:
    """Finance may not read the event log: 403, the roles needed named, the denial logged."""
    response = client.get("/v1/events", headers=tokens.headers("finance", sub="erik"))
    assert response.status_code == 403
    assert response.json()["error"]["field"] == "role"
    assert "integrator or auditor" in response.json()["error"]["message"]
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]
    denial = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert denial["sub"] == "erik" and denial["roles"] == ["finance"] and denial["status"] == 403


def _event_count(client: TestClient, tokens: Tokens) -> int:
    events = client.get("/v1/events", params={"limit": 1000}, headers=tokens.headers("auditor"))
    assert events.status_code == 200
    return len(events.json())


def _body(command: object, **changes: Any) -> bytes:
    body = command.model_dump(mode="json", exclude_none=True)  # type: ignore[attr-defined]
    for field, value in changes.items():
        if value is None:
            body.pop(field, None)
        else:
            body[field] = value
    return orjson.dumps(body)


def test_an_officer_of_delmos_cannot_act_for_tillvaxtverket(
    client: TestClient, tokens: Tokens
) -> None:
    """The body's agency differs from the token's: 403 naming `agency`; nothing recorded."""
    establish = setup_commands()[0]  # administered by tillvaxtverket
    officer = tokens.headers("officer", sub="filler", agency="delmos")
    response = client.post(
        "/v1/commands",
        content=_body(establish, agency="tillvaxtverket"),
        headers={**officer, **JSON},
    )
    assert response.status_code == 403
    assert response.json()["error"]["field"] == "agency"
    assert response.json()["error"]["value"] == "tillvaxtverket"
    assert _event_count(client, tokens) == 0
    # Leaving the agency out does not help either: the token's agency acts, and the programme's
    # rule refuses it (Delmos does not administer this programme).
    left_out = client.post(
        "/v1/commands", content=_body(establish, agency=None), headers={**officer, **JSON}
    )
    assert left_out.status_code == 409
    assert _event_count(client, tokens) == 0


def test_the_recorded_actor_is_the_tokens_subject_qualified_by_its_issuer(
    client: TestClient, tokens: Tokens
) -> None:
    """The body leaves actor and agency out; the event records sub@iss and the token's agency;
    a body naming someone else is refused."""
    establish = setup_commands()[0]
    officer = tokens.headers("officer", sub="karin.tvv", agency="tillvaxtverket")
    impostor = client.post(
        "/v1/commands", content=_body(establish, actor="someone-else"), headers={**officer, **JSON}
    )
    assert impostor.status_code == 403
    assert impostor.json()["error"]["field"] == "actor"
    created = client.post(
        "/v1/commands",
        content=_body(establish, actor=None, agency=None),
        headers={**officer, **JSON},
    )
    assert created.status_code == 201, created.text
    record = client.get(f"/v1/commands/{establish.command_id}", headers=officer).json()
    assert record["actor"] == "karin.tvv@urn:grant-ledger:dev"
    assert record["agency"] == "tillvaxtverket"
    delmos = client.get(
        f"/v1/commands/{establish.command_id}",
        headers=tokens.headers("officer", sub="d", agency="delmos"),
    )
    assert delmos.status_code == 403
    assert delmos.json()["error"]["field"] == "agency"


def test_a_batch_with_one_line_acting_for_another_agency_records_nothing(
    client: TestClient, tokens: Tokens
) -> None:
    """The whole batch is refused (403, the line named) before any line is recorded."""
    first, second = setup_commands()[:2]
    officer = tokens.headers("officer", sub="filler", agency="tillvaxtverket")
    body = _body(first) + b"\n" + _body(second, agency="delmos")
    response = client.post("/v1/commands/batch", content=body, headers={**officer, **NDJSON})
    assert response.status_code == 403
    assert response.json()["error"]["field"] == "agency"
    assert response.json()["error"]["message"].startswith("line 2:")
    assert _event_count(client, tokens) == 0


def test_an_officer_token_without_an_agency_cannot_record(
    client: TestClient, tokens: Tokens
) -> None:
    """No agency claim: 403 naming `agency`."""
    response = client.post(
        "/v1/commands",
        content=_body(setup_commands()[0]),
        headers={**tokens.headers("officer", sub="filler"), **JSON},
    )
    assert response.status_code == 403
    assert response.json()["error"]["field"] == "agency"
