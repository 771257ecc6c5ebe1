"""`make schemas`: write the published contract, generated from the pydantic models, to published/.

What integrators get (all committed, all shipped in the wheel as package data):

- `events/<Type>.v<N>.schema.json`: one file per event type and schema version, each the schema of
  the WHOLE message value (the envelope) with `type` and `schema_version` fixed and `data` that
  event's fields. An integrator holds a message, not a bare `data`: with the message's `type` and
  `schema_version` it picks exactly one self-contained file and validates the message against it
  (no `$ref` across files, no resolver to set up); a file per version also keeps old messages on
  the unlimited-retention topic checkable after a type moves on to a new version.
- `envelope.v1.schema.json`: any message value of the current versions, `data` a oneOf over the
  event types discriminated by `type`; for tools that want one schema for the whole topic.
- `checkpoint.v1.schema.json`, `commands/<Type>.v<N>.schema.json` and `asyncapi.yaml`.
- `baseline/`: the last released set, written only by `--release` (see schemas.compatibility).

Records in event, envelope and checkpoint schemas are open (no `additionalProperties: false`):
consumers are tolerant readers, so a new optional field is not a breaking change. Command schemas
stay closed, because the ledger refuses unknown command fields. Output is deterministic (sorted
keys, two-space indent, trailing newline) so the files can be committed and compared in tests.
"""

import argparse
import copy
import json
import re
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml
from pydantic import BaseModel

import schemas.chain
import schemas.checkpoint_signature
from schemas.commands import APPLICATION_COMMANDS, COMMAND_SCHEMA_VERSION, PROGRAMME_COMMANDS
from schemas.envelope import (
    CLOUDEVENTS_SOURCE,
    CLOUDEVENTS_SPECVERSION,
    CONTENT_TYPE,
    Checkpoint,
    EventEnvelope,
)
from schemas.events import EVENT_SCHEMA_VERSION, EVENT_TYPES, EventData, GrantEventData

PUBLISHED_DIR: Final = Path(__file__).resolve().parent / "published"
BASELINE: Final = "baseline"
JSON_SCHEMA_DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
# How AsyncAPI 3.0 is told the payload files are JSON Schema 2020-12 (a custom schemaFormat,
# which the spec allows), rather than its own draft-07-based schema object.
ASYNCAPI_SCHEMA_FORMAT: Final = "application/schema+json;version=draft-2020-12"
KAFKA_BINDING_VERSION: Final = "0.5.0"
ENVELOPE_VERSION: Final = 1
CHECKPOINT_VERSION: Final = 1
EVENTS_TOPIC: Final = "grant-ledger.events"
CHECKPOINTS_TOPIC: Final = "grant-ledger.checkpoints"
ENVELOPE_FILE: Final = f"envelope.v{ENVELOPE_VERSION}.schema.json"
CHECKPOINT_FILE: Final = f"checkpoint.v{CHECKPOINT_VERSION}.schema.json"
ASYNCAPI_FILE: Final = "asyncapi.yaml"
# What the relay (ledger/relay/messages.py) puts on the wire; tests compare the two.
CE_TYPE_TEMPLATE: Final = "grant-ledger.{type}.v{schema_version}"
CE_SOURCE_PREFIX: Final = f"{CLOUDEVENTS_SOURCE}:programme:"
CHECKPOINT_KEY: Final = "checkpoint"
RELAY_BOOKKEEPING_HEADER: Final = "gl_notification_id"
MONEY_NOTE: Final = "Money in integer öre (1 kr = 100 öre), never a float."


def schema_id(*parts: str | int) -> str:
    """The `$id` of a published schema, e.g. urn:grant-ledger:schema:events:GrantAwarded:v1."""
    *names, version = parts
    return ":".join(["urn:grant-ledger:schema", *map(str, names), f"v{version}"])


def event_type_name(model: type[EventData]) -> str:
    """The `type` string of an event model (its Literal default)."""
    name = model.model_fields["type"].default
    assert isinstance(name, str), model
    return name


def event_file(name: str, version: int) -> str:
    """Path of an event type's schema inside published/."""
    return f"events/{name}.v{version}.schema.json"


def command_file(name: str, version: int) -> str:
    """Path of a command type's schema inside published/."""
    return f"commands/{name}.v{version}.schema.json"


# --------------------------------------------------------------------------- JSON Schema


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _open_records(schema: dict[str, Any]) -> None:
    """Drop `additionalProperties: false` from records; close year maps to their key pattern."""
    for node in _walk(schema):
        if "properties" in node and node.get("additionalProperties") is False:
            del node["additionalProperties"]
        elif "patternProperties" in node and "properties" not in node:
            # Pydantic emits dict[YearKey, ...] as patternProperties alone, which would let any
            # other key through; every key of a year map is a year.
            node.setdefault("additionalProperties", False)


def _describe_money(schema: dict[str, Any]) -> None:
    for node in _walk(schema):
        for name, prop in node.get("properties", {}).items():
            if name.endswith("_ore") and isinstance(prop, dict):
                prop.setdefault("description", MONEY_NOTE)


def _reachable_defs(schema: dict[str, Any]) -> set[str]:
    defs: dict[str, Any] = schema.get("$defs", {})
    found: set[str] = set()
    todo = [{k: v for k, v in schema.items() if k != "$defs"}]
    while todo:
        for node in _walk(todo.pop()):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name not in found:
                    found.add(name)
                    todo.append(defs[name])
    return found


def _prune_defs(schema: dict[str, Any]) -> None:
    keep = _reachable_defs(schema)
    defs = {k: v for k, v in schema.get("$defs", {}).items() if k in keep}
    if defs:
        schema["$defs"] = defs
    else:
        schema.pop("$defs", None)


def _with_header(schema: dict[str, Any], schema_urn: str) -> dict[str, Any]:
    return {"$schema": JSON_SCHEMA_DIALECT, "$id": schema_urn, **schema}


def envelope_schema() -> dict[str, Any]:
    """The whole message value on `grant-ledger.events`, any current event type."""
    schema = EventEnvelope.model_json_schema(mode="validation")
    _open_records(schema)
    _describe_money(schema)
    names = [event_type_name(model) for model in EVENT_TYPES]
    for name in names:
        # `type` has a default in the models, so pydantic leaves it optional; on the wire it is
        # always there, and it is what consumers dispatch on.
        required = schema["$defs"][name]["required"]
        if "type" not in required:
            required.insert(0, "type")
    schema["properties"]["type"]["enum"] = sorted(names)
    schema["description"] = (
        f"{EventEnvelope.__doc__} Any event type of the current schema versions; `data` is one "
        f"of the event types, selected by its `type`. {MONEY_NOTE}"
    )
    return _with_header(schema, schema_id("envelope", ENVELOPE_VERSION))


def event_schema(model: type[EventData], envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The whole message value for one event type: the envelope with `data` that event."""
    name = event_type_name(model)
    schema = copy.deepcopy({k: v for k, v in envelope.items() if k not in ("$schema", "$id")})
    props = schema["properties"]
    props["type"] = {"const": name, "description": props["type"]["description"], "type": "string"}
    props["schema_version"] = {"const": EVENT_SCHEMA_VERSION, "type": "integer"}
    props["data"] = {"$ref": f"#/$defs/{name}"}
    schema["title"] = f"{name} event"
    schema["description"] = (
        f"{model.__doc__} One message value on {EVENTS_TOPIC} with type {name}, "
        f"schema_version {EVENT_SCHEMA_VERSION}; `data` holds the event's own fields. {MONEY_NOTE}"
    )
    _prune_defs(schema)
    return _with_header(schema, schema_id("events", name, EVENT_SCHEMA_VERSION))


def checkpoint_schema() -> dict[str, Any]:
    """The message value on `grant-ledger.checkpoints`."""
    schema = Checkpoint.model_json_schema(mode="validation")
    _open_records(schema)
    return _with_header(schema, schema_id("checkpoint", CHECKPOINT_VERSION))


def command_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A command as clients send it (closed: the ledger refuses unknown fields)."""
    schema = model.model_json_schema(mode="validation")
    _describe_money(schema)
    schema["description"] = (
        f"{model.__doc__} The schema checks the shape; the ledger also checks the programme's "
        f"rules and refuses what breaks them. {MONEY_NOTE}"
    )
    return _with_header(schema, schema_id("commands", model.__name__, COMMAND_SCHEMA_VERSION))


# --------------------------------------------------------------------------- AsyncAPI


def _multi_format(ref: str) -> dict[str, Any]:
    return {"schemaFormat": ASYNCAPI_SCHEMA_FORMAT, "schema": {"$ref": ref}}


def _key_schema(prop: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {**{k: v for k, v in prop.items() if k != "title"}, "description": description}


def _event_headers(name: str, programme_id: Mapping[str, Any]) -> dict[str, Any]:
    # Spelled out, not re.escape'd: JSON Schema patterns are ECMA-262, where `\-` is invalid.
    assert re.fullmatch(r"[a-z:-]+", CE_SOURCE_PREFIX), CE_SOURCE_PREFIX
    source_pattern = "^" + CE_SOURCE_PREFIX + str(programme_id["pattern"]).lstrip("^")
    return {
        "type": "object",
        "required": ["ce_specversion", "ce_id", "ce_type", "ce_source", "ce_time", "content-type"],
        "properties": {
            "ce_specversion": {"type": "string", "const": CLOUDEVENTS_SPECVERSION},
            "ce_id": {"type": "string", "description": "The envelope's event_id."},
            "ce_type": {
                "type": "string",
                "const": CE_TYPE_TEMPLATE.format(type=name, schema_version=EVENT_SCHEMA_VERSION),
                "description": "grant-ledger.<type>.v<schema_version>",
            },
            "ce_source": {
                "type": "string",
                "pattern": source_pattern,
                "description": f"{CE_SOURCE_PREFIX}<programme_id>",
            },
            "ce_time": {
                "type": "string",
                "format": "date-time",
                "description": "The envelope's recorded_at.",
            },
            "content-type": {"type": "string", "const": CONTENT_TYPE},
            RELAY_BOOKKEEPING_HEADER: {
                "type": "string",
                "description": "The relay's own bookkeeping (store notification id); not part "
                "of the contract, ignore it.",
            },
        },
    }


def _event_message(model: type[EventData], envelope: Mapping[str, Any]) -> dict[str, Any]:
    name = event_type_name(model)
    data_props = envelope["$defs"][name]["properties"]
    if issubclass(model, GrantEventData):
        key = _key_schema(
            data_props["recipient"],
            "data.recipient, the recipient code (kommunkod, länskod or organisationsnummer): "
            "all of one recipient's events are in one partition, in order.",
        )
    else:
        key = _key_schema(
            data_props["programme_id"],
            "data.programme_id: all of a programme's own events are in one partition, in order.",
        )
    return {
        "name": name,
        "title": name,
        "summary": model.__doc__,
        "contentType": CONTENT_TYPE,
        "headers": _event_headers(name, data_props["programme_id"]),
        "payload": _multi_format(f"./{event_file(name, EVENT_SCHEMA_VERSION)}"),
        "bindings": {"kafka": {"key": key, "bindingVersion": KAFKA_BINDING_VERSION}},
    }


def _topic_binding(topic: str, partitions: int | None) -> dict[str, Any]:
    # retention.ms -1: the topic is the whole history, replayable from position 1.
    binding: dict[str, Any] = {
        "topic": topic,
        "topicConfiguration": {"cleanup.policy": ["delete"], "retention.ms": -1},
        "bindingVersion": KAFKA_BINDING_VERSION,
    }
    if partitions is not None:
        binding["partitions"] = partitions
    return {"kafka": binding}


def asyncapi_document(envelope: Mapping[str, Any]) -> dict[str, Any]:
    """The AsyncAPI 3.0 description of both topics, referencing the JSON Schema files."""
    names = [event_type_name(model) for model in EVENT_TYPES]
    chain_rule = (schemas.chain.__doc__ or "").strip()
    signature_rule = (schemas.checkpoint_signature.__doc__ or "").strip()
    messages: dict[str, Any] = {
        event_type_name(model): _event_message(model, envelope) for model in EVENT_TYPES
    }
    messages["Checkpoint"] = {
        "name": "Checkpoint",
        "title": "Checkpoint",
        "summary": Checkpoint.__doc__,
        "contentType": CONTENT_TYPE,
        "headers": {
            "type": "object",
            "required": ["content-type"],
            "properties": {
                "content-type": {"type": "string", "const": CONTENT_TYPE},
                RELAY_BOOKKEEPING_HEADER: {
                    "type": "string",
                    "description": "The relay's own bookkeeping; not part of the contract.",
                },
            },
        },
        "payload": _multi_format(f"./{CHECKPOINT_FILE}"),
        "bindings": {
            "kafka": {
                "key": {"type": "string", "const": CHECKPOINT_KEY},
                "bindingVersion": KAFKA_BINDING_VERSION,
            }
        },
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "grant-ledger",
            "version": f"{ENVELOPE_VERSION}.0.0",
            "description": (
                "Every event the grant ledger records, in one global order, exactly once, on "
                f"`{EVENTS_TOPIC}`; points of the hash chain on `{CHECKPOINTS_TOPIC}`. "
                "Topic names are the defaults "
                "(GRANT_LEDGER_TOPIC, GRANT_LEDGER_CHECKPOINT_TOPIC).\n"
                "\n"
                "Validate a message with the JSON Schema file named by its `type` and "
                "`schema_version`: `events/<type>.v<schema_version>.schema.json` (draft 2020-12, "
                "self-contained). Ignore properties you do not know (new optional fields may "
                "appear within a version) and skip types you do not know.\n"
                "\n"
                f"{MONEY_NOTE} `recorded_at` is system time (UTC), `effective_date` the business "
                "date. `position` is global and gap-free from 1: order by it across partitions.\n"
                "\n"
                f"Hash chain:\n{chain_rule}\n"
            ),
            "license": {"name": "MIT"},
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": {
            "events": {
                "address": EVENTS_TOPIC,
                "title": "Ledger events",
                "description": (
                    "One message per recorded event. Key: the recipient code for grant events, "
                    "the programme id for programme events. Value: the envelope (JSON). Headers: "
                    "CloudEvents 1.0 Kafka binding, binary mode (ce_* and content-type). "
                    "The partition count is GRANT_LEDGER_PARTITIONS (default 6). Retention is "
                    f"unlimited: the topic is the full history.\n\nHash chain:\n{chain_rule}\n"
                ),
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in names},
                "bindings": _topic_binding(EVENTS_TOPIC, None),
            },
            "checkpoints": {
                "address": CHECKPOINTS_TOPIC,
                "title": "Hash-chain checkpoints",
                "description": (
                    "Every GRANT_LEDGER_CHECKPOINT_EVERY events (and when the relay goes idle), "
                    "the chain's `hash` after the event at `position`, signed by the ledger's "
                    "Ed25519 key (`key_id`, `signature`); one partition, key `checkpoint`. "
                    "A checkpoint goes out only once every event up to it is on the events "
                    "topic, so a valid signature proves positions 1..position.\n\nSignature:\n"
                    f"{signature_rule}\n"
                ),
                "messages": {"Checkpoint": {"$ref": "#/components/messages/Checkpoint"}},
                "bindings": _topic_binding(CHECKPOINTS_TOPIC, 1),
            },
        },
        "operations": {
            "publishEvents": {
                "action": "send",
                "channel": {"$ref": "#/channels/events"},
                "summary": "The relay publishes each recorded event, in global order.",
                "messages": [{"$ref": f"#/channels/events/messages/{name}"} for name in names],
            },
            "publishCheckpoints": {
                "action": "send",
                "channel": {"$ref": "#/channels/checkpoints"},
                "summary": "The relay publishes a checkpoint after the events it covers.",
                "messages": [{"$ref": "#/channels/checkpoints/messages/Checkpoint"}],
            },
        },
        "components": {
            "schemas": {
                "Envelope": _multi_format(f"./{ENVELOPE_FILE}"),
                "Checkpoint": _multi_format(f"./{CHECKPOINT_FILE}"),
            },
            "messages": messages,
        },
    }


# --------------------------------------------------------------------------- rendering


def render_json(schema: Mapping[str, Any]) -> str:
    """Deterministic JSON text: sorted keys, two-space indent, UTF-8, trailing newline."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


class _Dumper(yaml.SafeDumper):
    """Safe YAML with multi-line strings as literal blocks, so the chain rule stays readable."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def render_yaml(document: Mapping[str, Any]) -> str:
    """Deterministic YAML text: sorted keys, block style, UTF-8."""
    text = yaml.dump(dict(document), Dumper=_Dumper, sort_keys=True, allow_unicode=True, width=100)
    return text if text.endswith("\n") else text + "\n"


def _carried_forward(published: Path) -> dict[str, str]:
    # Older versions stay published: their messages stay on the topic for ever. They can no
    # longer be generated from the models, so they come verbatim from the released baseline.
    # Commands are not carried: the ledger only accepts the current command versions.
    baseline = published / BASELINE
    if not baseline.is_dir():
        return {}
    return {
        path.relative_to(baseline).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(baseline.rglob("*.json"))
        if path.relative_to(baseline).parts[0] != "commands"
    }


def generate(published: Path = PUBLISHED_DIR) -> dict[str, str]:
    """Every published file (path relative to published/, excluding baseline/) and its text."""
    envelope = envelope_schema()
    files = {
        ENVELOPE_FILE: render_json(envelope),
        CHECKPOINT_FILE: render_json(checkpoint_schema()),
        ASYNCAPI_FILE: render_yaml(asyncapi_document(envelope)),
    }
    for model in EVENT_TYPES:
        path = event_file(event_type_name(model), EVENT_SCHEMA_VERSION)
        files[path] = render_json(event_schema(model, envelope))
    for command in (*PROGRAMME_COMMANDS, *APPLICATION_COMMANDS):
        files[command_file(command.__name__, COMMAND_SCHEMA_VERSION)] = render_json(
            command_schema(command)
        )
    return {**_carried_forward(published), **dict(sorted(files.items()))}


def _on_disk(published: Path) -> dict[str, Path]:
    return {
        path.relative_to(published).as_posix(): path
        for pattern in ("*.json", "*.yaml")
        for path in published.rglob(pattern)
        if path.relative_to(published).parts[0] != BASELINE
    }


def stale_files(published: Path = PUBLISHED_DIR) -> list[str]:
    """Published files that differ from, are missing from or are extra to what `generate` makes."""
    wanted = generate(published)
    present = _on_disk(published)
    stale = [
        path
        for path, text in wanted.items()
        if path not in present or present[path].read_text(encoding="utf-8") != text
    ]
    return sorted(stale + [path for path in present if path not in wanted])


def write(published: Path = PUBLISHED_DIR) -> list[str]:
    """Write the generated files, delete published files no longer generated; the paths changed."""
    changed = stale_files(published)
    wanted = generate(published)
    for path in changed:
        target = published / path
        if path in wanted:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(wanted[path], encoding="utf-8")
        else:
            target.unlink()
    return changed


def release_baseline(published: Path = PUBLISHED_DIR) -> None:
    """Freeze the current JSON schemas as the released baseline that later changes must honour."""
    baseline = published / BASELINE
    # Generated before the old baseline goes: older versions are carried forward from it.
    files = generate(published)
    if baseline.exists():
        shutil.rmtree(baseline)
    for path, text in files.items():
        if path.endswith(".json"):
            target = baseline / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    """Command line of `python -m schemas.publish`."""
    parser = argparse.ArgumentParser(prog="python -m schemas.publish", description=__doc__)
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1)")
    parser.add_argument(
        "--release", action="store_true", help="also freeze the result as baseline/ (on release)"
    )
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        for path in stale:
            print(f"stale: schemas/published/{path}", file=sys.stderr)
        if stale:
            print("run `make schemas`", file=sys.stderr)
        return 1 if stale else 0
    for path in write():
        print(f"wrote schemas/published/{path}")
    if args.release:
        release_baseline()
        print(f"froze schemas/published/{BASELINE}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
