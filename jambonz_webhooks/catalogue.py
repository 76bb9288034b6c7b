"""The catalogue of models, checked against a folder of jambonz's JSON schemas.

When jambonz publishes new schemas, run::

    python -m jambonz_webhooks.catalogue path/to/schema        # folders verbs/, components/, callbacks/

It lists every schema without a model, every model whose schema is gone, and, for each pair,
the properties one has and the other lacks, required fields, enum values and JSON types that
differ, and verbs without a builder method on :class:`~jambonz_webhooks.WebhookResponse`. It exits 1
when it finds a difference, so it can gate an upgrade.

Deliberate differences are not reported: payload models require the call fields jambonz always
sends, and keep enums of incoming values open (``Literal[...] | str``), which compares as no enum;
a model lists any other deliberate difference, with its reason, in ``schema_deviations``.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import pkgutil
import sys
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .response import WebhookResponse, builder_name

__all__ = ["Difference", "compare", "load_schemas", "main", "models_by_schema_id"]

KINDS = ("verbs", "components", "callbacks")
_CALL_FIELDS = frozenset(
    {"call_sid", "account_sid", "application_sid", "direction", "from", "to", "call_id", "sip_status"}
)


@dataclass(frozen=True, slots=True)
class Difference:
    """One way a model and its schema disagree."""

    schema_id: str
    what: str
    detail: str = ""

    @property
    def property(self) -> str | None:
        """The property the difference is about, when it is about one."""
        if self.what.startswith(("enum of ", "type of ")):
            return self.what.split(" ")[2]
        return self.detail if "propert" in self.what or "required" in self.what else None

    def __str__(self) -> str:
        return f"{self.schema_id}: {self.what}" + (f": {self.detail}" if self.detail else "")


# Modules that define no model and import what only some installs have: the pytest plugin
# (pytest, a dev dependency), the command line and its entry point.
_NOT_MODELS = ("__main__", ".cli", ".pytest_plugin")


def models_by_schema_id() -> dict[str, type[BaseModel]]:
    """Every model of the package that follows one of jambonz's schemas, by that schema's id.

    Raises:
        ModuleNotFoundError: a module of the package needs a dependency that is not installed
            (an optional one: its models cannot be compared without it).

    """
    import jambonz_webhooks

    found: dict[str, type[BaseModel]] = {}
    modules = pkgutil.walk_packages(jambonz_webhooks.__path__, prefix="jambonz_webhooks.")
    for info in modules:
        if info.name.endswith(_NOT_MODELS):
            continue
        module = importlib.import_module(info.name)
        for _, obj in inspect.getmembers(module, inspect.isclass):
            schema_id = obj.__dict__.get("schema_id")
            if isinstance(schema_id, str) and issubclass(obj, BaseModel):
                found.setdefault(schema_id, obj)
    return found


def load_schemas(folder: Path) -> dict[str, dict[str, Any]]:
    """The schemas in ``folder`` by short id (``"verbs/say"``), read from ``<kind>/*.schema.json``."""
    schemas: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        for path in sorted((folder / kind).glob("*.schema.json")):
            schemas[f"{kind}/{path.name.removesuffix('.schema.json')}"] = json.loads(path.read_text())
    if not schemas:
        raise FileNotFoundError(f"no schemas under {folder} (expected verbs/, components/, callbacks/)")
    return schemas


def compare(folder: Path) -> list[Difference]:
    """Everything that differs between the package's models and the schemas in ``folder``."""
    schemas = load_schemas(folder)
    models = models_by_schema_id()
    differences: list[Difference] = []
    for schema_id, schema in schemas.items():
        model = models.get(schema_id)
        if model is None:
            differences.append(Difference(schema_id, "no model"))
            continue
        deviations = getattr(model, "schema_deviations", {})
        differences.extend(
            difference
            for difference in _compare_model(schema_id, _flatten(schema_id, schema, schemas), model, schemas)
            if difference.property not in deviations
        )
        if schema_id.startswith("verbs/"):
            verb = _verb_name(schema_id, schema, schemas)
            method = getattr(WebhookResponse, builder_name(verb), None)
            if getattr(method, "verb_model", None) is not model:
                differences.append(
                    Difference(schema_id, "no builder method", f"WebhookResponse.{builder_name(verb)}")
                )
    for schema_id, model in sorted(models.items()):
        if schema_id not in schemas:
            differences.append(Difference(schema_id, "model without a schema", model.__qualname__))
    return differences


def _resolve(ref: str, schema_id: str, schemas: Mapping[str, dict[str, Any]]) -> str:
    """A ``$ref`` (``"../components/llm-base"``, ``"base"``) as a short schema id."""
    kind = schema_id.split("/")[0]
    if ref.startswith("../"):
        return ref.removeprefix("../")
    return f"{kind}/{ref}"


def _flatten(schema_id: str, schema: dict[str, Any], schemas: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """Properties and required names of a schema, with its ``allOf`` bases and ``$ref`` merged in."""
    properties: dict[str, Any] = {}
    origins: dict[str, str] = {}  # where each property is declared, to resolve its own $refs
    required: set[str] = set()
    parts = [(schema_id, schema)]
    if "$ref" in schema:
        target = _resolve(schema["$ref"], schema_id, schemas)
        parts.insert(0, (target, schemas[target]))
    for base in schema.get("allOf", []):
        if "$ref" in base:
            target = _resolve(base["$ref"], schema_id, schemas)
            parts.insert(0, (target, schemas[target]))
    for origin, part in parts:
        # A schema that is "a string or an object" (components/actionHook) describes its object branch.
        objects = [branch for branch in part.get("oneOf", part.get("anyOf", [])) if "properties" in branch]
        for piece in [part, *objects]:
            properties.update(piece.get("properties", {}))
            origins.update(dict.fromkeys(piece.get("properties", {}), origin))
        required.update(part.get("required", []))
        if len(objects) == 1:
            required.update(objects[0].get("required", []))
        branches = part.get("oneOf", part.get("anyOf", []))
        if branches and all("required" in branch for branch in branches):
            # Required in every branch (agent-turn's "type"): required.
            required.update(set.intersection(*(set(branch["required"]) for branch in branches)))
    return {"properties": properties, "origins": origins, "required": required}


def _verb_name(schema_id: str, schema: dict[str, Any], schemas: Mapping[str, dict[str, Any]]) -> str:
    const = schema.get("properties", {}).get("verb", {}).get("const")
    if isinstance(const, str) and (const == schema_id.split("/")[1] or "$ref" not in schema):
        return const
    # A synonym written as a $ref to another verb (room -> conference) keeps its own name.
    return schema_id.split("/")[1].replace("sip-", "sip:")


def _compare_model(
    schema_id: str, flat: dict[str, Any], model: type[BaseModel], schemas: Mapping[str, dict[str, Any]]
) -> Iterator[Difference]:
    ours = model.model_json_schema(by_alias=True, mode="validation")
    our_properties: dict[str, Any] = ours.get("properties", {})
    defs: dict[str, Any] = ours.get("$defs", {})
    their_properties: dict[str, Any] = flat["properties"]
    for name in sorted(set(their_properties) - set(our_properties)):
        yield Difference(schema_id, "property missing from the model", name)
    if model.model_config.get("extra") == "forbid":
        for name in sorted(set(our_properties) - set(their_properties)):
            yield Difference(schema_id, "property not in the schema", name)
    our_required = set(ours.get("required", []))
    if schema_id.startswith("callbacks/"):
        # Deliberate: call_sid (and in CallSession the fields jambonz always sends) are required,
        # although the schemas mark nothing required.
        our_required -= _CALL_FIELDS
    for name in sorted(flat["required"] - our_required):
        if name in our_properties:
            yield Difference(schema_id, "required by the schema, optional in the model", name)
    for name in sorted(our_required - flat["required"]):
        yield Difference(schema_id, "required by the model, optional in the schema", name)
    for name in sorted(set(their_properties) & set(our_properties)):
        theirs = _external(their_properties[name], flat["origins"][name], schemas)
        mine = _deref(our_properties[name], defs)
        their_enum, our_enum = _enum(theirs), _enum(mine, defs)
        if name == "verb" and their_enum is not None and our_enum is not None and our_enum <= their_enum:
            continue  # a synonym (room) writes one of the names its schema allows
        if their_enum is not None and our_enum is not None and their_enum != our_enum:
            yield Difference(
                schema_id, f"enum of {name} differs", f"schema {sorted(their_enum)}, model {sorted(our_enum)}"
            )
        their_types, our_types = _types(theirs), _types(mine, defs)
        if their_types and our_types and not _compatible(their_types, our_types):
            yield Difference(
                schema_id,
                f"type of {name} differs",
                f"schema {sorted(their_types)}, model {sorted(our_types)}",
            )


def _external(
    schema: dict[str, Any], schema_id: str, schemas: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    """Follow a property's ``$ref`` to another schema file (``../components/actionHook``)."""
    while "$ref" in schema and not schema["$ref"].startswith("#"):
        target = _resolve(schema["$ref"], schema_id, schemas)
        if target not in schemas:
            break
        schema, schema_id = schemas[target], target
    return schema


def _deref(schema: dict[str, Any], defs: Mapping[str, Any]) -> dict[str, Any]:
    while "$ref" in schema and schema["$ref"].startswith("#/$defs/"):
        schema = defs[schema["$ref"].removeprefix("#/$defs/")]
    return schema


def _branches(schema: dict[str, Any], defs: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if defs is not None:
        schema = _deref(schema, defs)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return [leaf for branch in schema[key] for leaf in _branches(branch, defs)]
    return [schema]


def _enum(schema: dict[str, Any], defs: Mapping[str, Any] | None = None) -> frozenset[Any] | None:
    values: set[Any] = set()
    for branch in _branches(schema, defs):
        if "enum" in branch:
            values.update(branch["enum"])
        elif "const" in branch:
            values.add(branch["const"])
        elif branch.get("type") not in (None, "null"):
            return None  # an open branch (``Literal[...] | str``): no closed set to compare
    return frozenset(values) or None


def _types(schema: dict[str, Any], defs: Mapping[str, Any] | None = None) -> frozenset[str]:
    types: set[str] = set()
    for branch in _branches(schema, defs):
        kind = branch.get("type")
        if kind is None and ("properties" in branch or "$ref" in branch):
            kind = "object"
        if kind is None and ("enum" in branch or "const" in branch):
            value = (branch.get("enum") or [branch.get("const")])[0]
            kind = {str: "string", bool: "boolean", int: "integer", float: "number"}.get(type(value))
        if isinstance(kind, list):
            types.update(kind)
        elif isinstance(kind, str):
            types.add(kind)
    types.discard("null")
    return frozenset(types)


def _compatible(theirs: frozenset[str], ours: frozenset[str]) -> bool:
    # A JSON number may be written as an integer; our int | float is their number.
    widen = {"integer": "number"}
    return {widen.get(kind, kind) for kind in theirs} == {widen.get(kind, kind) for kind in ours}


def main(argv: list[str] | None = None) -> int:
    """Compare the models with a schema folder; print the differences; 1 when there are some."""
    parser = argparse.ArgumentParser(
        prog="python -m jambonz_webhooks.catalogue", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "folder", type=Path, help="a folder of jambonz's schemas (verbs/, components/, callbacks/)"
    )
    parser.add_argument("--json", action="store_true", help="print the differences as JSON")
    args = parser.parse_args(argv)
    differences = compare(args.folder)
    if args.json:
        print(json.dumps([asdict(difference) for difference in differences], indent=2))
    else:
        for difference in differences:
            print(difference)
        print(f"{len(differences)} difference(s) with {args.folder}", file=sys.stderr)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
