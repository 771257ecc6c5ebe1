"""Schema evolution: what breaks consumers, and the gate that keeps breaking changes out.

The gate: `schemas/published/baseline/` is the set of schemas last released to integrators.
`test_released_schemas_are_honoured` regenerates the schemas from the models and, for every
baseline file, demands one of:

- the same file is still generated and the checker finds no breaking change from the baseline
  (new optional fields and wider bounds pass), or
- the type moved on to a higher version (a new `<Type>.v2.schema.json`, the v1 file carried
  forward from the baseline so old messages stay checkable), and, for an event type, every
  breaking step from version N has an upcaster registered under (type, N) in schemas.upcasting.

So changing a model in a breaking way without bumping its schema_version and registering an
upcaster fails here, with the list of breaking changes. `python -m schemas.publish --release`
freezes a new baseline when a release goes out.
"""

import copy
import json
import re
from typing import Any

import pytest

from schemas import publish, upcasting
from schemas.commands import COST_SHARE_CAP, REQUIRED_WHEN, required_when
from schemas.compatibility import BreakingChange, Change, breaking_changes, is_compatible
from schemas.events import EVENT_SCHEMA_VERSION, EVENT_TYPES, event_type_name

BASELINE = publish.PUBLISHED_DIR / publish.BASELINE
VERSIONED = re.compile(r"^(?P<stem>(?:\w+/)?[A-Za-z]\w*)\.v(?P<version>[1-9]\d*)\.schema\.json$")
ENVELOPE_STEM = "envelope"


def kinds(old: dict[str, Any], new: dict[str, Any]) -> set[Change]:
    """The kinds of breaking change from old to new."""
    return {change.kind for change in breaking_changes(old, new)}


@pytest.fixture
def award_v1() -> dict[str, Any]:
    """A small event schema in the published style (envelope with $defs)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {
            "Award": {
                "type": "object",
                "properties": {
                    "type": {"const": "Award", "type": "string"},
                    "recipient": {"type": "string", "pattern": "^\\d{4}$"},
                    "amount_ore": {"type": "integer", "minimum": 1, "maximum": 10**15},
                    "kind": {"type": "string", "enum": ["municipality", "region"]},
                    "note": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                },
                "required": ["type", "recipient", "amount_ore", "kind"],
            }
        },
        "type": "object",
        "properties": {"position": {"type": "integer"}, "data": {"$ref": "#/$defs/Award"}},
        "required": ["position", "data"],
    }


def data_of(schema: dict[str, Any]) -> dict[str, Any]:
    """The event's data schema inside a test schema."""
    data: dict[str, Any] = schema["$defs"]["Award"]
    return data


# --------------------------------------------------------------------------- the checker


def test_an_identical_schema_is_compatible(award_v1: dict[str, Any]) -> None:
    assert is_compatible(award_v1, copy.deepcopy(award_v1))


def test_a_removed_field_breaks(award_v1: dict[str, Any]) -> None:
    new = copy.deepcopy(award_v1)
    del data_of(new)["properties"]["kind"]
    data_of(new)["required"].remove("kind")
    [change] = breaking_changes(award_v1, new)
    assert change == BreakingChange(Change.REMOVED, "$.data.kind", "property removed")


def test_a_renamed_field_breaks(award_v1: dict[str, Any]) -> None:
    new = copy.deepcopy(award_v1)
    props = data_of(new)["properties"]
    props["sum_ore"] = props.pop("amount_ore")
    data_of(new)["required"] = ["type", "recipient", "sum_ore", "kind"]
    [change] = breaking_changes(award_v1, new)
    assert change.kind is Change.RENAMED and change.path == "$.data.amount_ore"
    assert "sum_ore" in change.detail


def test_a_changed_type_breaks(award_v1: dict[str, Any]) -> None:
    new = copy.deepcopy(award_v1)
    data_of(new)["properties"]["amount_ore"] = {"type": "number", "minimum": 1}
    assert kinds(award_v1, new) == {Change.TYPE_CHANGED}


def test_money_as_string_breaks(award_v1: dict[str, Any]) -> None:
    new = copy.deepcopy(award_v1)
    data_of(new)["properties"]["amount_ore"] = {"type": "string"}
    assert Change.TYPE_CHANGED in kinds(award_v1, new)


def test_a_field_becoming_nullable_or_not_breaks(award_v1: dict[str, Any]) -> None:
    nullable = copy.deepcopy(award_v1)
    data_of(nullable)["properties"]["amount_ore"] = {
        "anyOf": [{"type": "integer", "minimum": 1, "maximum": 10**15}, {"type": "null"}]
    }
    assert kinds(award_v1, nullable) == {Change.TYPE_CHANGED}
    not_null = copy.deepcopy(award_v1)
    data_of(not_null)["properties"]["note"] = {"type": "string"}
    assert kinds(award_v1, not_null) == {Change.TYPE_CHANGED}


def test_a_newly_required_field_breaks(award_v1: dict[str, Any]) -> None:
    existing = copy.deepcopy(award_v1)
    data_of(existing)["required"].append("note")
    assert kinds(award_v1, existing) == {Change.NOW_REQUIRED}
    added = copy.deepcopy(award_v1)
    data_of(added)["properties"]["decision_ref"] = {"type": "string"}
    data_of(added)["required"].append("decision_ref")
    [change] = breaking_changes(award_v1, added)
    assert change == BreakingChange(Change.NOW_REQUIRED, "$.data.decision_ref", "became required")


def test_a_rule_that_requires_an_optional_field_breaks(award_v1: dict[str, Any]) -> None:
    conditional = copy.deepcopy(award_v1)
    data_of(conditional)["properties"]["note"][REQUIRED_WHEN] = "programme.cost_share_cap_percent"
    [change] = breaking_changes(award_v1, conditional)
    assert change == BreakingChange(
        Change.NOW_REQUIRED, "$.data.note", "required when programme.cost_share_cap_percent"
    )
    assert breaking_changes(conditional, award_v1) == [], "dropping the condition is fine"


def test_a_field_no_longer_required_breaks(award_v1: dict[str, Any]) -> None:
    new = copy.deepcopy(award_v1)
    data_of(new)["required"].remove("kind")
    assert kinds(award_v1, new) == {Change.NO_LONGER_REQUIRED}


def test_an_added_optional_field_is_fine(award_v1: dict[str, Any]) -> None:
    new = copy.deepcopy(award_v1)
    data_of(new)["properties"]["decided_by"] = {
        "anyOf": [{"type": "string"}, {"type": "null"}],
        "default": None,
    }
    assert breaking_changes(award_v1, new) == []


def test_widening_and_new_annotations_are_fine(award_v1: dict[str, Any]) -> None:
    new = copy.deepcopy(award_v1)
    props = data_of(new)["properties"]
    props["amount_ore"] = {"type": "integer", "minimum": 0, "description": "öre"}
    props["kind"]["enum"] = ["municipality", "region", "organisation"]
    new["title"] = "Award event"
    assert breaking_changes(award_v1, new) == []


def test_narrowing_breaks(award_v1: dict[str, Any]) -> None:
    cases = {
        "enum": ("kind", {"type": "string", "enum": ["municipality"]}),
        "bound": ("amount_ore", {"type": "integer", "minimum": 100, "maximum": 10**15}),
        "pattern": ("recipient", {"type": "string", "pattern": "^\\d{10}$"}),
        "format": ("recipient", {"type": "string", "pattern": "^\\d{4}$", "format": "uuid"}),
    }
    for case, (field, schema) in cases.items():
        new = copy.deepcopy(award_v1)
        data_of(new)["properties"][field] = schema
        assert kinds(award_v1, new) == {Change.NARROWED}, case


def test_forbidding_unknown_properties_breaks(award_v1: dict[str, Any]) -> None:
    new = copy.deepcopy(award_v1)
    data_of(new)["additionalProperties"] = False
    assert kinds(award_v1, new) == {Change.NARROWED}


def test_a_new_event_in_a_union_is_fine_and_a_dropped_one_breaks() -> None:
    envelope = json.loads((publish.PUBLISHED_DIR / publish.ENVELOPE_FILE).read_text("utf-8"))
    fewer = copy.deepcopy(envelope)
    fewer["properties"]["data"]["oneOf"] = [
        ref
        for ref in fewer["properties"]["data"]["oneOf"]
        if not ref["$ref"].endswith("/GrantAwarded")
    ]
    [dropped] = breaking_changes(envelope, fewer)
    assert dropped == BreakingChange(
        Change.TYPE_CHANGED, "$.data", "no longer accepts GrantAwarded"
    )
    assert breaking_changes(fewer, envelope) == []


def test_changes_inside_a_union_member_are_found() -> None:
    envelope = json.loads((publish.PUBLISHED_DIR / publish.ENVELOPE_FILE).read_text("utf-8"))
    new = copy.deepcopy(envelope)
    new["$defs"]["FundsDisbursed"]["properties"]["amount_ore"]["type"] = "number"
    [change] = breaking_changes(envelope, new)
    assert change.path == "$.data<FundsDisbursed>.amount_ore"
    assert change.kind is Change.TYPE_CHANGED


# --------------------------------------------------------------------------- upcasters


def test_upcasters_are_registered_for_real_versions() -> None:
    names = {event_type_name(model) for model in EVENT_TYPES}
    for event_type, from_version in upcasting.UPCASTERS:
        assert event_type in names, event_type
        assert 1 <= from_version < EVENT_SCHEMA_VERSION, (event_type, from_version)


def test_upcast_applies_each_registered_step_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upcasting, "UPCASTERS", {})
    upcasting.upcaster("GrantAwarded", 1)(lambda d: {"conditions": d["terms"]})
    # No upcaster from v2: that step was compatible, the data passes through unchanged.
    upcasting.upcaster("GrantAwarded", 3)(lambda d: {**d, "v4": True})
    data = {"terms": ["report by March"]}
    assert upcasting.upcast("GrantAwarded", 1, data, to_version=4) == {
        "conditions": ["report by March"],
        "v4": True,
    }
    assert data == {"terms": ["report by March"]}, "the caller's dict is not mutated"
    assert upcasting.upcast("GrantAwarded", 4, {"x": 1}, to_version=4) == {"x": 1}
    with pytest.raises(ValueError, match="already registered"):
        upcasting.upcaster("GrantAwarded", 1)(lambda d: d)
    with pytest.raises(ValueError, match="cannot downcast"):
        upcasting.upcast("GrantAwarded", 5, {}, to_version=4)


# --------------------------------------------------------------------------- the gate


def versions(files: dict[str, str]) -> dict[str, dict[int, dict[str, Any]]]:
    """{"events/GrantAwarded": {1: schema}, ...} for the versioned JSON files."""
    found: dict[str, dict[int, dict[str, Any]]] = {}
    for path, text in files.items():
        match = VERSIONED.match(path)
        if match:
            found.setdefault(match["stem"], {})[int(match["version"])] = json.loads(text)
    return found


def comparable(stem: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The part of a schema the gate compares: the envelope's `data` is judged per event type."""
    if stem != ENVELOPE_STEM:
        return schema
    return {**schema, "properties": {k: v for k, v in schema["properties"].items() if k != "data"}}


def honour_problems(baseline: dict[str, str], generated: dict[str, str]) -> list[str]:
    """Why the schemas generated from the models do not honour the released baseline."""
    problems: list[str] = []
    current = versions(generated)
    for stem, released in sorted(versions(baseline).items()):
        latest = max(released)
        if stem not in current:
            problems.append(f"{stem}: no longer generated, but released (v{latest})")
            continue
        [(now, schema)] = current[stem].items()
        if now < latest:
            problems.append(f"{stem}: version went back from v{latest} to v{now}")
            continue
        broken = breaking_changes(comparable(stem, released[latest]), comparable(stem, schema))
        if not broken:
            continue
        listed = "; ".join(map(str, broken))
        if now == latest:
            problems.append(
                f"{stem}.v{now} changed in a way that breaks consumers: {listed}. Make the "
                "change compatible (a new field optional, with a default), or bump the schema "
                f"version (a new {stem}.v{now + 1}.schema.json) and, for an event, register an "
                "upcaster in schemas/upcasting.py."
            )
        elif stem.startswith("events/"):
            name = stem.removeprefix("events/")
            if not any((name, v) in upcasting.UPCASTERS for v in range(latest, now)):
                problems.append(
                    f"{stem} v{latest} -> v{now} breaks consumers ({listed}): register an "
                    f"upcaster for ({name!r}, {latest}) in schemas/upcasting.py."
                )
    return problems


def released() -> dict[str, str]:
    """The baseline: the schemas of the last release."""
    return {
        path.relative_to(BASELINE).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(BASELINE.rglob("*.json"))
    }


@pytest.fixture(scope="module")
def from_models() -> dict[str, str]:
    """The schemas generated from the models alone (no baseline to carry older versions from)."""
    return publish.generate(None)


def test_the_baseline_holds_every_event_type() -> None:
    baseline = versions(released())
    for model in EVENT_TYPES:
        assert f"events/{event_type_name(model)}" in baseline
    assert ENVELOPE_STEM in baseline


def test_released_schemas_are_honoured(from_models: dict[str, str]) -> None:
    problems = honour_problems(released(), from_models)
    assert not problems, "\n".join(problems)


def test_the_gate_refuses_a_breaking_change_until_versioned_and_upcast(
    from_models: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    v1_path, v2_path = publish.event_file("GrantAwarded", 1), publish.event_file("GrantAwarded", 2)
    schema = json.loads(from_models[v1_path])
    schema["$defs"]["GrantAwarded"]["properties"]["decision"] = schema["$defs"]["GrantAwarded"][
        "properties"
    ].pop("decision_ref")
    changed = publish.render_json(schema)

    in_place = {**from_models, v1_path: changed}
    [problem] = honour_problems(released(), in_place)
    assert "bump the schema version" in problem and "decision_ref" in problem

    bumped = {k: v for k, v in from_models.items() if k != v1_path} | {v2_path: changed}
    monkeypatch.setattr(upcasting, "UPCASTERS", {})
    [problem] = honour_problems(released(), bumped)
    assert "register an upcaster for ('GrantAwarded', 1)" in problem

    upcasting.upcaster("GrantAwarded", 1)(lambda d: {"decision": d["decision_ref"]})
    assert honour_problems(released(), bumped) == []


def test_the_gate_refuses_a_rule_that_makes_a_documented_optional_field_required(
    from_models: dict[str, str],
) -> None:
    """ExtendGrant's total_cost_ore is optional in the contract: a rule requiring it breaks the
    clients that send the documented shape, so it needs a new command version."""
    path = publish.command_file("ExtendGrant", 1)
    schema = json.loads(from_models[path])
    schema["properties"]["total_cost_ore"].update(required_when(COST_SHARE_CAP))
    [problem] = honour_problems(released(), {**from_models, path: publish.render_json(schema)})
    assert "total_cost_ore: now required: required when programme.cost_share_cap_percent" in (
        problem
    )
    assert "bump the schema version" in problem


def test_the_gate_lets_an_added_optional_field_through(from_models: dict[str, str]) -> None:
    path = publish.event_file("FundsDisbursed", 1)
    schema = json.loads(from_models[path])
    schema["$defs"]["FundsDisbursed"]["properties"]["value_date"] = {
        "anyOf": [{"type": "string", "format": "date"}, {"type": "null"}],
        "default": None,
    }
    assert honour_problems(released(), {**from_models, path: publish.render_json(schema)}) == []
