"""The published contract (schemas/published/): up to date, complete, and true of real messages.

Messages are built the way the relay builds them: real commands decided by the Programme
aggregate, chained into envelopes by ledger.application.envelopes. They are checked with nothing
but the published files and the `jsonschema` library, as an integrator would.
"""

import copy
import glob
import json
import re
import tomllib
from collections.abc import Iterator
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import ValidationError

from ledger.application.envelopes import chained_envelopes, message_key
from ledger.domain.programme import Programme
from ledger.domain.recorded import ProgrammeEvent
from ledger.settings import DEFAULT_CHECKPOINT_TOPIC, DEFAULT_TOPIC
from schemas import publish
from schemas.chain import GENESIS_HASH, canonical_bytes, chain_hash
from schemas.commands import APPLICATION_COMMANDS, COMMAND_SCHEMA_VERSION, PROGRAMME_COMMANDS
from schemas.events import EVENT_SCHEMA_VERSION, EVENT_TYPES, GrantEventData, event_type_name
from tests.builders import (
    GOTEBORG,
    amend_appropriation,
    amend_award,
    application,
    award,
    context_for,
    disburse,
    establish,
    extend,
    hand_over,
    perform,
    recover,
    reject,
    set_appropriation,
)

PUBLISHED = publish.PUBLISHED_DIR
PROJECT_ROOT = Path(__file__).resolve().parents[2]
EVENT_NAMES = sorted(event_type_name(model) for model in EVENT_TYPES)
COMMAND_NAMES = sorted(model.__name__ for model in (*PROGRAMME_COMMANDS, *APPLICATION_COMMANDS))
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def load(path: str) -> dict[str, Any]:
    """A published JSON file."""
    loaded: dict[str, Any] = json.loads((PUBLISHED / path).read_text(encoding="utf-8"))
    return loaded


def format_checker() -> FormatChecker:
    """Format checking, with date-time checked even without jsonschema's optional rfc3339 extra."""
    checker = FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def _date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not RFC3339.match(value):
            return False
        datetime.fromisoformat(value)
        return True

    return checker


def validator(schema: dict[str, Any]) -> Draft202012Validator:
    """An integrator's validator for one published file."""
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=format_checker())


def strict_integer_validator(schema: dict[str, Any]) -> Any:
    """Like `validator`, but 100.0 is no integer (JSON Schema says it is; Python's json parses
    it as a float)."""
    strict = validators.extend(
        Draft202012Validator,
        type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
            "integer",
            lambda _checker, value: isinstance(value, int) and not isinstance(value, bool),
        ),
    )
    return strict(schema, format_checker=format_checker())


def is_valid(schema: dict[str, Any], message: dict[str, Any]) -> bool:
    """Whether `message` validates (with format checking)."""
    return not list(validator(schema).iter_errors(message))


def event_file_of(message: dict[str, Any]) -> str:
    """The file an integrator picks for a message: by its type and schema_version."""
    return publish.event_file(message["type"], message["schema_version"])


# --------------------------------------------------------------------------- real messages


def recorded_events() -> list[ProgrammeEvent]:
    """One of every event type, decided by the Programme aggregate from real commands."""
    programme_cmd = establish()
    programme = Programme.establish(programme_cmd, context_for(programme_cmd))
    for command in (
        set_appropriation(2018, 10_000_000, note="regleringsbrev för budgetåret 2018"),
        set_appropriation(2019, 10_000_000),
        amend_appropriation(2018, -1_000_000),
        application("app-malmo", {2018: 600_000}),
        award("app-malmo", {2018: 500_000}, conditions=["redovisning senast 2019-03-31"]),
        extend("app-malmo", {2019: 100_000}),
        amend_award("app-malmo", 2018, 50_000),
        disburse("app-malmo", 2018, 400_000),
        recover("app-malmo", 2018, 25_000),
        application("app-goteborg", {2018: 200_000}, recipient=GOTEBORG),
        reject("app-goteborg"),
        hand_over(),
    ):
        perform(programme, command)
    return programme.collect_events()


@pytest.fixture(scope="module")
def events() -> list[ProgrammeEvent]:
    """Recorded events, one or more of every type."""
    return recorded_events()


@pytest.fixture(scope="module")
def envelopes(events: list[ProgrammeEvent]) -> list[dict[str, Any]]:
    """The messages the relay would publish for them, as a consumer parses them."""
    return [json.loads(json.dumps(envelope)) for envelope in chained_envelopes(events)]


def one_of_type(envelopes: list[dict[str, Any]], event_type: str) -> dict[str, Any]:
    """A deep copy of the first message of a type, to break."""
    return copy.deepcopy(next(e for e in envelopes if e["type"] == event_type))


def walk_refs(node: Any) -> Iterator[str]:
    """Every `$ref` value in a document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from walk_refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk_refs(value)


# --------------------------------------------------------------------------- (a) up to date


def test_committed_files_are_what_the_models_generate() -> None:
    stale = publish.stale_files()
    assert not stale, (
        "schemas/published is out of date with the models in schemas/: run `make schemas` "
        f"(python -m schemas.publish) and commit the result. Stale: {stale}"
    )


def test_generation_is_deterministic() -> None:
    assert publish.generate() == publish.generate()
    for text in publish.generate().values():
        assert text.endswith("\n") and not text.endswith("\n\n")


# --------------------------------------------------------------------------- (b) complete


def test_every_event_type_has_its_file() -> None:
    generated = publish.generate()
    for name in EVENT_NAMES:
        path = publish.event_file(name, EVENT_SCHEMA_VERSION)
        assert path in generated, name
        schema = load(path)
        assert schema["properties"]["type"]["const"] == name
        assert schema["properties"]["schema_version"]["const"] == EVENT_SCHEMA_VERSION
    assert sorted(load(publish.ENVELOPE_FILE)["properties"]["type"]["enum"]) == EVENT_NAMES


def test_every_command_type_has_its_file() -> None:
    for name in COMMAND_NAMES:
        schema = load(publish.command_file(name, COMMAND_SCHEMA_VERSION))
        assert schema["properties"]["type"]["const"] == name


def test_every_schema_declares_dialect_and_a_unique_id() -> None:
    ids: dict[str, str] = {}
    for path in sorted(p for p in publish.generate() if p.endswith(".json")):
        schema = load(path)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema", path
        assert re.fullmatch(r"urn:grant-ledger:schema:[A-Za-z0-9:]+:v[1-9]\d*", schema["$id"])
        assert schema["$id"] not in ids, f"{path} and {ids.get(schema['$id'])} share an $id"
        ids[schema["$id"]] = path
        Draft202012Validator.check_schema(schema)
        # Self-contained: an integrator needs no resolver for other files.
        assert all(ref.startswith("#/") for ref in walk_refs(schema)), path
    assert load(publish.event_file("GrantAwarded", 1))["$id"] == (
        "urn:grant-ledger:schema:events:GrantAwarded:v1"
    )


def test_published_files_are_package_data() -> None:
    pyproject = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = pyproject["tool"]["setuptools"]["package-data"]["schemas"]
    schemas_dir = PROJECT_ROOT / "schemas"
    # The same recursive glob setuptools applies to package-data patterns.
    shipped = {
        match
        for pattern in patterns
        for match in glob.glob(pattern, root_dir=schemas_dir, recursive=True)
    }
    on_disk = {
        path.relative_to(schemas_dir).as_posix() for path in PUBLISHED.rglob("*") if path.is_file()
    }
    assert on_disk and on_disk <= shipped, sorted(on_disk - shipped)
    # And the installed package (editable here, a wheel elsewhere) serves them as resources.
    envelope = resources.files("schemas").joinpath("published", publish.ENVELOPE_FILE)
    assert json.loads(envelope.read_text(encoding="utf-8"))["$id"].endswith(":envelope:v1")


# --------------------------------------------------------------------------- (c) true of messages


def test_the_scenario_covers_every_event_type(envelopes: list[dict[str, Any]]) -> None:
    assert sorted({e["type"] for e in envelopes}) == EVENT_NAMES
    assert any(e["note"] is not None for e in envelopes)


def test_real_messages_validate_against_envelope_and_their_own_file(
    envelopes: list[dict[str, Any]],
) -> None:
    envelope_validator = validator(load(publish.ENVELOPE_FILE))
    for message in envelopes:
        envelope_validator.validate(message)
        validator(load(event_file_of(message))).validate(message)
        strict_integer_validator(load(event_file_of(message))).validate(message)


def test_real_messages_follow_the_published_chain_rule(envelopes: list[dict[str, Any]]) -> None:
    prev_hash = GENESIS_HASH
    for position, message in enumerate(envelopes, start=1):
        assert message["position"] == position
        assert message["prev_hash"] == prev_hash
        assert message["hash"] == chain_hash(prev_hash, canonical_bytes(message))
        prev_hash = message["hash"]


def test_fractional_money_is_invalid(envelopes: list[dict[str, Any]]) -> None:
    message = one_of_type(envelopes, "FundsDisbursed")
    message["data"]["amount_ore"] = 400_000.5
    assert not is_valid(load(publish.ENVELOPE_FILE), message)
    assert not is_valid(load(event_file_of(message)), message)


def test_whole_float_money_is_invalid_for_a_strict_integer_reader(
    envelopes: list[dict[str, Any]],
) -> None:
    message = one_of_type(envelopes, "GrantAwarded")
    message["data"]["amounts_ore"]["2018"] = 500_000.0
    # JSON Schema counts 500000.0 as an integer; a consumer that must never see a float in
    # money (Python's json makes it one) redefines "integer", as this validator does.
    assert list(strict_integer_validator(load(event_file_of(message))).iter_errors(message))


@pytest.mark.parametrize("field", ["hash", "prev_hash", "position", "event_id", "data"])
def test_a_message_missing_a_field_is_invalid(envelopes: list[dict[str, Any]], field: str) -> None:
    message = one_of_type(envelopes, "GrantAwarded")
    del message[field]
    assert not is_valid(load(publish.ENVELOPE_FILE), message)
    assert not is_valid(load(event_file_of(message)), message)


def test_an_unknown_event_type_is_invalid(envelopes: list[dict[str, Any]]) -> None:
    message = one_of_type(envelopes, "GrantAwarded")
    message["type"] = message["data"]["type"] = "GrantRevoked"
    assert not is_valid(load(publish.ENVELOPE_FILE), message)
    assert not (PUBLISHED / event_file_of(message)).exists()


def test_data_of_another_type_is_invalid_in_a_type_file(envelopes: list[dict[str, Any]]) -> None:
    message = one_of_type(envelopes, "GrantAwarded")
    message["data"] = one_of_type(envelopes, "FundsDisbursed")["data"]
    assert not is_valid(load(publish.event_file("GrantAwarded", 1)), message)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("recorded_at", "2018-06-26 10:00:00"),  # no T, no offset: not RFC 3339
        ("effective_date", "26/06/2018"),
        ("hash", "ABC"),
        ("schema_version", 0),
    ],
)
def test_malformed_fields_are_invalid(
    envelopes: list[dict[str, Any]], field: str, value: object
) -> None:
    message = one_of_type(envelopes, "AppropriationSet")
    schema = load(event_file_of(message))
    message[field] = value
    assert not is_valid(schema, message)
    assert not is_valid(load(publish.ENVELOPE_FILE), message)


def test_a_year_map_with_a_non_year_key_is_invalid(envelopes: list[dict[str, Any]]) -> None:
    message = one_of_type(envelopes, "GrantAwarded")
    message["data"]["amounts_ore"]["next year"] = 1
    assert not is_valid(load(event_file_of(message)), message)


def test_unknown_properties_are_tolerated(envelopes: list[dict[str, Any]]) -> None:
    # Consumers are tolerant readers: a later optional field must not break them.
    message = one_of_type(envelopes, "GrantAwarded")
    message["data"]["added_later"] = "x"
    message["added_later"] = 1
    assert is_valid(load(publish.ENVELOPE_FILE), message)
    assert is_valid(load(event_file_of(message)), message)


def test_checkpoint_schema_accepts_what_the_model_makes() -> None:
    checkpoint = {
        "position": 1000,
        "hash": "a" * 64,
        "events": 1000,
        "recorded_at": "2018-06-26T10:00:00.000000Z",
    }
    assert is_valid(load(publish.CHECKPOINT_FILE), checkpoint)
    assert not is_valid(load(publish.CHECKPOINT_FILE), {**checkpoint, "position": 1.5})


# --------------------------------------------------------------------------- (d) AsyncAPI


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    """The parsed AsyncAPI document."""
    loaded: dict[str, Any] = yaml.safe_load(
        (PUBLISHED / publish.ASYNCAPI_FILE).read_text(encoding="utf-8")
    )
    return loaded


def resolve_pointer(document: dict[str, Any], ref: str) -> Any:
    """The node a local `#/...` reference points to."""
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_asyncapi_declares_version_and_both_topics(asyncapi: dict[str, Any]) -> None:
    assert asyncapi["asyncapi"] == "3.0.0"
    addresses = {channel["address"] for channel in asyncapi["channels"].values()}
    assert addresses == {DEFAULT_TOPIC, DEFAULT_CHECKPOINT_TOPIC}
    event_messages = asyncapi["channels"]["events"]["messages"]
    assert sorted(event_messages) == EVENT_NAMES
    assert list(asyncapi["channels"]["checkpoints"]["messages"]) == ["Checkpoint"]


def test_asyncapi_references_resolve(asyncapi: dict[str, Any]) -> None:
    refs = list(walk_refs(asyncapi))
    files = [ref for ref in refs if not ref.startswith("#")]
    assert len(files) >= len(EVENT_NAMES) + 1
    for ref in refs:
        if ref.startswith("#/"):
            resolve_pointer(asyncapi, ref)
        else:
            assert (PUBLISHED / ref).is_file(), f"asyncapi.yaml references missing {ref}"
            assert json.loads((PUBLISHED / ref).read_text(encoding="utf-8"))["$schema"]


def test_asyncapi_states_the_chain_rule_and_money(asyncapi: dict[str, Any]) -> None:
    import schemas.chain  # noqa: PLC0415 (only its docstring is wanted)

    assert (schemas.chain.__doc__ or "").strip() in asyncapi["info"]["description"]
    assert "integer öre" in asyncapi["info"]["description"]


def test_message_keys_match_the_documented_keys(
    asyncapi: dict[str, Any], events: list[ProgrammeEvent]
) -> None:
    messages = asyncapi["components"]["messages"]
    for event in events:
        key = message_key(event)
        key_schema = messages[event.data.type]["bindings"]["kafka"]["key"]
        assert re.search(key_schema["pattern"], key), (event.data.type, key)
        expected = event.data.recipient if isinstance(event.data, GrantEventData) else None
        assert key == (expected or event.data.programme_id)


def test_relay_headers_match_the_documented_headers(
    asyncapi: dict[str, Any], envelopes: list[dict[str, Any]]
) -> None:
    # The relay is the producer of the headers; this keeps the document and it in step.
    relay_messages = pytest.importorskip("ledger.relay.messages")
    messages = asyncapi["components"]["messages"]
    for envelope in envelopes:
        headers = {
            name: value.decode() for name, value in relay_messages.cloudevents_headers(envelope)
        }
        schema = {"$schema": publish.JSON_SCHEMA_DIALECT, **messages[envelope["type"]]["headers"]}
        try:
            validator(schema).validate(headers)
        except ValidationError as error:  # pragma: no cover (message for the failure)
            pytest.fail(f"{envelope['type']} headers {headers} do not match asyncapi: {error}")
