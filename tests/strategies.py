"""Hypothesis strategies that draw JSON instances from a JSON schema.

Only the part of JSON Schema that pydantic writes for our models is covered: ``type``,
``properties``/``required``/``additionalProperties``, ``items``, ``$ref`` into ``$defs``,
``anyOf``/``oneOf``/``allOf`` (of one), ``enum``, ``const``, numeric bounds and item counts.
A schema using anything else raises, so a model that grows past it is noticed.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import strategies as st

JSON = Any

_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-1000, 1000), st.text(max_size=8))
_FREE_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
_KNOWN = {
    "type", "properties", "required", "additionalProperties", "items", "$ref", "$defs", "anyOf",
    "oneOf", "allOf", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum",
    "minItems", "maxItems", "minLength", "maxLength", "title", "description", "default", "format",
    "examples", "deprecated", "pattern",
}  # fmt: skip


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[JSON]:
    """A strategy of instances of ``schema`` (a pydantic ``model_json_schema()``, with its ``$defs``)."""
    return _strategy(schema, schema.get("$defs", {}), depth=0)


_PYDANTIC_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}


def _push_bounds(schema: dict[str, Any]) -> dict[str, Any]:
    """pydantic writes a bound on a union (``int | float``) as ``ge``/``le`` beside its ``anyOf``."""
    bounds = {_PYDANTIC_BOUNDS[key]: schema[key] for key in _PYDANTIC_BOUNDS if key in schema}
    if not bounds:
        return schema
    rest = {key: value for key, value in schema.items() if key not in _PYDANTIC_BOUNDS}
    if "anyOf" in rest:
        rest["anyOf"] = [{**branch, **bounds} for branch in rest["anyOf"]]
        return rest
    return {**rest, **bounds}


def _strategy(schema: dict[str, Any], defs: dict[str, Any], depth: int) -> st.SearchStrategy[JSON]:
    schema = _push_bounds(schema)
    unknown = set(schema) - _KNOWN
    if unknown:
        raise ValueError(f"schema keywords this generator does not know: {sorted(unknown)}")
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        return st.deferred(lambda: _strategy(defs[name], defs, depth + 1))
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return st.one_of([_strategy(branch, defs, depth) for branch in schema[key]])
    if "allOf" in schema:
        (only,) = schema["allOf"]
        return _strategy(only, defs, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([_strategy({**schema, "type": one}, defs, depth) for one in kind])
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    if kind == "string":
        return _string(schema)
    if kind == "array":
        items = _strategy(schema.get("items", {}), defs, depth + 1) if schema.get("items") else _FREE_JSON
        low = schema.get("minItems", 0)
        return st.lists(
            items, min_size=low, max_size=max(low, schema.get("maxItems", low + 2)) if depth < 4 else low
        )
    if kind == "object" or "properties" in schema:
        return _object(schema, defs, depth)
    if not schema or set(schema) <= {"title", "description", "default"}:
        return _FREE_JSON
    raise ValueError(f"cannot draw from schema {schema!r}")


def _number(schema: dict[str, Any], *, integer: bool) -> st.SearchStrategy[JSON]:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    exclude_low, exclude_high = "exclusiveMinimum" in schema, "exclusiveMaximum" in schema
    low_int = -100_000 if low is None else math.floor(low) + 1 if exclude_low else math.ceil(low)
    high_int = 100_000 if high is None else math.ceil(high) - 1 if exclude_high else math.floor(high)
    # No whole number may fit at all (0 < x < 1).
    integers = st.integers(low_int, high_int) if low_int <= high_int else st.nothing()
    if integer:
        return integers
    floats = st.floats(
        min_value=-1e6 if low is None else low,
        max_value=1e6 if high is None else high,
        exclude_min=exclude_low,
        exclude_max=exclude_high,
        allow_nan=False,
        allow_infinity=False,
    )
    return floats | integers


def _string(schema: dict[str, Any]) -> st.SearchStrategy[JSON]:
    if schema.get("format") == "uri":
        return st.sampled_from(
            ["https://example.com/audio.mp3", "http://127.0.0.1:3000/hook", "/relative/hook"]
        )
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True)
    return st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 12))


def _object(schema: dict[str, Any], defs: dict[str, Any], depth: int) -> st.SearchStrategy[JSON]:
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    if not properties:
        extra = schema.get("additionalProperties", True)
        values = _FREE_JSON if extra in (True, {}) else _strategy(extra, defs, depth + 1)
        return st.dictionaries(st.text(min_size=1, max_size=8), values, max_size=3 if depth < 4 else 0)
    fixed = {key: _strategy(properties[key], defs, depth + 1) for key in properties if key in required}
    optional = {key: _strategy(properties[key], defs, depth + 1) for key in properties if key not in required}
    if depth >= 4:
        optional = {}
    return st.fixed_dictionaries(fixed, optional=optional)
