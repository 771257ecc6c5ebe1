"""The OpenAPI document a client generator can use.

FastAPI derives the operations, parameters and response models; this adds what it cannot see
because the command endpoints read their raw bodies (to check size and type first): the command
union from `schemas/` with its discriminator on `type` (actor and agency optional over HTTP:
they come from the token), the batch as JSON Lines of the same commands, and every 422 in the
one refusal shape instead of FastAPI's own.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from schemas.commands import COMMAND_ADAPTER

COMPONENTS = "#/components/schemas/"
COMMAND_REF = {"$ref": f"{COMPONENTS}Command"}
TOKEN_FIELDS = ("actor", "agency")
COMMAND_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "One command. `actor` and `agency` may be left out: they are the token's.",
        "content": {"application/json": {"schema": COMMAND_REF}},
    }
}
BATCH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "JSON Lines (application/x-ndjson): one command object per line.",
        "content": {"application/x-ndjson": {"schema": {"type": "array", "items": COMMAND_REF}}},
    }
}
FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install_openapi(app: FastAPI) -> None:
    """Make `app.openapi()` return the completed document (built once)."""

    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            _add_commands(schema)
            _one_refusal_shape(schema)
            _optional_not_nullable(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]


def _add_commands(schema: dict[str, Any]) -> None:
    components: dict[str, Any] = schema.setdefault("components", {}).setdefault("schemas", {})
    union = COMMAND_ADAPTER.json_schema(ref_template=COMPONENTS + "{model}")
    definitions: dict[str, Any] = union.pop("$defs")
    for variant in union["oneOf"]:
        name = variant["$ref"].removeprefix(COMPONENTS)
        body = definitions[name]
        missing = [field for field in TOKEN_FIELDS if field not in body.get("required", ())]
        assert not missing, f"{name} no longer requires {missing}: revisit the HTTP body"
        body["required"] = [field for field in body["required"] if field not in TOKEN_FIELDS]
        for field in TOKEN_FIELDS:
            body["properties"][field]["description"] = (
                f"Optional over HTTP: the token's {field}; when given it must equal it (else 403)."
            )
    for name, definition in definitions.items():
        existing = components.get(name)
        assert existing is None or existing == definition, f"two schemas named {name}"
        components[name] = definition
    components["Command"] = union


def _one_refusal_shape(schema: dict[str, Any]) -> None:
    error_ref = {"$ref": f"{COMPONENTS}ErrorBody"}
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            response = operation.get("responses", {}).get("422")
            if response is None:
                continue
            response["content"] = {"application/json": {"schema": error_ref}}
            if response.get("description") == "Validation Error":
                response["description"] = "The input is not valid: the field and value are named."
    components = schema.get("components", {}).get("schemas", {})
    for name in FASTAPI_VALIDATION_SCHEMAS:
        components.pop(name, None)
    assert "ErrorBody" in components, "the refusal shape is documented"


def _optional_not_nullable(schema: dict[str, Any]) -> None:
    """An optional query parameter is absent or a value, never JSON null (a query string has
    no null): `anyOf [X, null]` becomes X, which client generators also read better."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", ()):
                declared = parameter.get("schema", {})
                variants = declared.get("anyOf")
                if parameter.get("in") != "query" or parameter.get("required") or not variants:
                    continue
                kept = [variant for variant in variants if variant != {"type": "null"}]
                if len(kept) == 1 and len(kept) < len(variants):
                    declared.pop("anyOf")
                    declared.update(kept[0])
