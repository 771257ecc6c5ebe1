"""Is a new JSON Schema of a message still safe for the consumers of the old one?

The topic keeps every message for ever and integrators' consumers are written against the
published files, so a schema of the same type and version may only change in ways that
(a) every message already on the topic still validates and means the same, and (b) a consumer
written for the old schema still finds every field it reads, of the type it expects. Breaking:

- a property removed (or renamed: removed plus an added property of the same schema),
- a property whose type changed (including becoming nullable, or no longer nullable),
- a property that became required (old messages lack it) or stopped being required (a consumer
  that reads it may find it missing); for commands, also an optional field that a rule newly
  requires under a condition (its `x-required-when`, see schemas/commands.py): clients that send
  the documented shape would be refused,
- a narrowed value set: enum values or a const dropped, a bound tightened, a pattern or format
  added or changed, unknown properties newly forbidden.

Fine: a new optional property, a widened bound or enum, a new event type in a oneOf (consumers
skip types they do not know), changed titles, descriptions, defaults.

How a breaking change gets in anyway (the rule tests/unit/test_schema_compatibility.py enforces):
`schemas/published/baseline/` holds the schemas of the last release. Every file there must still
be generated, compatible, or superseded by a higher version of the same type: bump the event's
`schema_version` (a new `events/<Type>.v2.schema.json` is generated, the v1 file stays published,
carried from the baseline), and register an upcaster from v1 to v2 in schemas.upcasting, so the
ledger and consumers can read the old messages as the new version. On release,
`python -m schemas.publish --release` freezes the new set as the baseline.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from schemas.commands import REQUIRED_WHEN

ANNOTATIONS: Final = frozenset(
    {"title", "description", "default", "examples", "$comment", "$schema", "$id", "discriminator"}
)
# Keywords whose larger value admits less, and whose smaller value admits less.
LOWER_BOUNDS: Final = ("minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties")
UPPER_BOUNDS: Final = ("maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties")
MAX_REF_DEPTH: Final = 64


class Change(StrEnum):
    """The kinds of breaking change."""

    REMOVED = "removed"
    RENAMED = "renamed"
    TYPE_CHANGED = "type changed"
    NOW_REQUIRED = "now required"
    NO_LONGER_REQUIRED = "no longer required"
    NARROWED = "narrowed"


@dataclass(frozen=True, slots=True)
class BreakingChange:
    """One change that breaks consumers, at a path such as `$.data<GrantAwarded>.amounts_ore`."""

    kind: Change
    path: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}: {self.kind.value}: {self.detail}"


def breaking_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[BreakingChange]:
    """Every breaking change from `old` to `new` (two self-contained schemas of one message)."""
    found: list[BreakingChange] = []
    _compare(_inline(old, old, 0), _inline(new, new, 0), "$", found)
    return found


def is_compatible(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True when no consumer of `old` is broken by `new`."""
    return not breaking_changes(old, new)


# --------------------------------------------------------------------------- normalising


def _pointer(root: Mapping[str, Any], ref: str) -> Any:
    if not ref.startswith("#/"):
        raise ValueError(f"only local $refs (published files are self-contained): {ref}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _inline(node: Any, root: Mapping[str, Any], depth: int) -> Any:
    # Resolve $refs so both sides compare by content, whatever the $defs are called.
    if depth > MAX_REF_DEPTH:
        raise ValueError("recursive schema: $refs nest deeper than the checker follows")
    if isinstance(node, list):
        return [_inline(item, root, depth) for item in node]
    if not isinstance(node, Mapping):
        return node
    if "$ref" in node:
        target = _inline(_pointer(root, node["$ref"]), root, depth + 1)
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return {**target, **_inline(siblings, root, depth)}
    return {
        k: _inline(v, root, depth) for k, v in node.items() if k not in ("$defs", "definitions")
    }


def _essence(node: Any) -> Any:
    """The schema without annotations: what decides which values are valid."""
    if isinstance(node, list):
        return [_essence(item) for item in node]
    if isinstance(node, Mapping):
        return {k: _essence(v) for k, v in node.items() if k not in ANNOTATIONS}
    return node


def _types(schema: Mapping[str, Any]) -> frozenset[str]:
    declared = schema.get("type")
    if isinstance(declared, str):
        return frozenset({declared})
    if isinstance(declared, list):
        return frozenset(declared)
    return frozenset()


def _alternatives(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    for keyword in ("oneOf", "anyOf"):
        if keyword in schema:
            rest = {k: v for k, v in schema.items() if k != keyword}
            return [{**rest, **branch} for branch in schema[keyword]]
    return [schema]


def _branch_key(schema: Mapping[str, Any]) -> tuple[bool, str]:
    # A branch is named by its `type` const when it has one (an event in a discriminated
    # union: True), otherwise by its JSON types (e.g. the `null` of a nullable field: False).
    const = schema.get("properties", {}).get("type", {}).get("const")
    if isinstance(const, str):
        return True, const
    return False, "|".join(sorted(_types(schema))) or "any"


def _type_names(schema: Mapping[str, Any]) -> str:
    return "|".join(sorted(_types(schema))) or "any"


# --------------------------------------------------------------------------- comparing


def _compare(
    old: Mapping[str, Any], new: Mapping[str, Any], path: str, found: list[BreakingChange]
) -> None:
    old_branches = {_branch_key(b): b for b in _alternatives(old)}
    new_branches = {_branch_key(b): b for b in _alternatives(new)}
    if len(old_branches) > 1 or len(new_branches) > 1:
        for (is_event, name), branch in old_branches.items():
            if (is_event, name) not in new_branches:
                found.append(BreakingChange(Change.TYPE_CHANGED, path, f"no longer accepts {name}"))
            else:
                where = f"{path}<{name}>" if is_event else path
                _compare(branch, new_branches[is_event, name], where, found)
        for is_event, name in new_branches.keys() - old_branches.keys():
            # A new event type is fine (consumers skip unknown types); a new JSON type is not.
            if not is_event:
                found.append(BreakingChange(Change.TYPE_CHANGED, path, f"now also {name}"))
        return
    old, new = next(iter(old_branches.values())), next(iter(new_branches.values()))
    if _types(old) != _types(new):
        detail = f"{_type_names(old)} -> {_type_names(new)}"
        found.append(BreakingChange(Change.TYPE_CHANGED, path, detail))
        return
    _compare_values(old, new, path, found)
    _compare_object(old, new, path, found)
    if "items" in old or "items" in new:
        _compare(old.get("items", {}), new.get("items", {}), f"{path}[]", found)


def _compare_values(
    old: Mapping[str, Any], new: Mapping[str, Any], path: str, found: list[BreakingChange]
) -> None:
    def narrowed(detail: str) -> None:
        found.append(BreakingChange(Change.NARROWED, path, detail))

    if "const" in new and ("const" not in old or old["const"] != new["const"]):
        narrowed(f"const {old.get('const')!r} -> {new['const']!r}")
    if "enum" in new:
        if "enum" not in old:
            narrowed(f"now restricted to {new['enum']}")
        elif dropped := [value for value in old["enum"] if value not in new["enum"]]:
            narrowed(f"enum no longer has {dropped}")
    for keyword in LOWER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] > old[keyword]):
            narrowed(f"{keyword} {old.get(keyword)} -> {new[keyword]}")
    for keyword in UPPER_BOUNDS:
        if keyword in new and (keyword not in old or new[keyword] < old[keyword]):
            narrowed(f"{keyword} {old.get(keyword)} -> {new[keyword]}")
    for keyword in ("pattern", "format"):
        # Whether one regular expression admits less than another is not worth deciding here:
        # any change counts.
        if keyword in new and new[keyword] != old.get(keyword):
            narrowed(f"{keyword} {old.get(keyword)!r} -> {new[keyword]!r}")


def _compare_condition(
    old: Mapping[str, Any], new: Mapping[str, Any], path: str, found: list[BreakingChange]
) -> None:
    """An optional field a rule newly requires (or requires on another condition) breaks the
    clients that leave it out, as surely as a field in `required` would."""
    condition = new.get(REQUIRED_WHEN)
    if condition is not None and condition != old.get(REQUIRED_WHEN):
        found.append(BreakingChange(Change.NOW_REQUIRED, path, f"required when {condition}"))


def _compare_object(
    old: Mapping[str, Any], new: Mapping[str, Any], path: str, found: list[BreakingChange]
) -> None:
    renamed_to = _compare_properties(old, new, path, found)
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(new_required - old_required - renamed_to):
        found.append(BreakingChange(Change.NOW_REQUIRED, f"{path}.{name}", "became required"))
    for name in sorted((old_required - new_required) & new.get("properties", {}).keys()):
        found.append(
            BreakingChange(Change.NO_LONGER_REQUIRED, f"{path}.{name}", "may now be missing")
        )
    _compare_other_keys(old, new, path, found)


def _compare_properties(
    old: Mapping[str, Any], new: Mapping[str, Any], path: str, found: list[BreakingChange]
) -> set[str]:
    """Compare the named properties; returns the new names that old ones were renamed to."""
    old_props: Mapping[str, Any] = old.get("properties", {})
    new_props: Mapping[str, Any] = new.get("properties", {})
    added = [name for name in new_props if name not in old_props]
    renamed_to: set[str] = set()
    for name, schema in old_props.items():
        if name in new_props:
            _compare_condition(schema, new_props[name], f"{path}.{name}", found)
            _compare(schema, new_props[name], f"{path}.{name}", found)
            continue
        twin = next(
            (
                a
                for a in added
                if a not in renamed_to and _essence(new_props[a]) == _essence(schema)
            ),
            None,
        )
        if twin is None:
            found.append(BreakingChange(Change.REMOVED, f"{path}.{name}", "property removed"))
        else:
            renamed_to.add(twin)
            found.append(BreakingChange(Change.RENAMED, f"{path}.{name}", f"renamed to {twin!r}"))
    return renamed_to


def _compare_other_keys(
    old: Mapping[str, Any], new: Mapping[str, Any], path: str, found: list[BreakingChange]
) -> None:
    """Compare what an object allows besides its named properties."""
    old_extra = old.get("additionalProperties", True)
    new_extra = new.get("additionalProperties", True)
    if new_extra is False and old_extra is not False:
        found.append(BreakingChange(Change.NARROWED, path, "unknown properties now forbidden"))
    elif isinstance(old_extra, Mapping) and isinstance(new_extra, Mapping):
        _compare(old_extra, new_extra, f"{path}[*]", found)
    new_patterns: Mapping[str, Any] = new.get("patternProperties", {})
    for pattern, schema in old.get("patternProperties", {}).items():
        if pattern in new_patterns:
            _compare(schema, new_patterns[pattern], f"{path}[{pattern}]", found)
        elif new_extra is False or new_patterns:
            detail = f"keys {pattern!r} no longer allowed"
            found.append(BreakingChange(Change.NARROWED, path, detail))
    if "propertyNames" in new:
        if "propertyNames" in old:
            _compare(old["propertyNames"], new["propertyNames"], f"{path}{{keys}}", found)
        else:
            found.append(BreakingChange(Change.NARROWED, path, "property names now constrained"))
