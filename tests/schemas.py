"""jambonz's official JSON schemas, as the PyPI package jambonz-python-sdk ships them.

Tests read them from the installed package (a dev dependency), never from ../shared, so that
a fresh clone tests against a published copy. ``$ref`` values are resolved through each
schema's ``$id`` (``../components/synthesizer`` from ``verbs/say``).
"""

from __future__ import annotations

import functools
import json
from importlib import resources
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ID_PREFIX = "https://jambonz.org/schema/"
KINDS = ("verbs", "components", "callbacks")


def schema_dir() -> Path:
    """The folder of jambonz's schemas inside the installed jambonz-python-sdk."""
    return Path(str(resources.files("jambonz_sdk") / "schema"))


@functools.cache
def schemas() -> dict[str, dict[str, Any]]:
    """Every schema by its short id (``"verbs/say"``, ``"components/vad"``, ``"callbacks/gather"``)."""
    found: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        for path in sorted((schema_dir() / kind).glob("*.schema.json")):
            found[f"{kind}/{path.name.removesuffix('.schema.json')}"] = json.loads(path.read_text())
    return found


def schema_ids(kind: str) -> list[str]:
    """The short ids of one kind of schema, sorted."""
    return sorted(key for key in schemas() if key.startswith(kind + "/"))


@functools.cache
def _registry() -> Registry:
    resources_ = [
        (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
        for schema in schemas().values()
    ]
    return Registry().with_resources(resources_)


@functools.cache
def validator(schema_id: str) -> Draft202012Validator:
    """A validator of the official schema ``schema_id`` (``"verbs/say"``), its references resolved."""
    return Draft202012Validator(schemas()[schema_id], registry=_registry())


def errors(schema_id: str, instance: Any) -> list[str]:
    """What the official schema finds wrong with ``instance`` (empty when it is valid)."""
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message}"
        for error in validator(schema_id).iter_errors(instance)
    ]
