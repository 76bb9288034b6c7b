"""The models against jambonz's official schemas (from the jambonz-python-sdk package).

- every verb, component and callback schema has a model, every verb a builder method, and the
  properties, required fields, enums and types agree (``jambonz_webhooks.catalogue``);
- hypothesis draws many valid instances of each verb and component model: their JSON must pass
  the official schema, and building the same verb through ``WebhookResponse`` must give the same JSON;
- schema-shaped invalid input (an unknown field, a wrong type, a value outside an enum or a
  bound, a required field left out) must be rejected by the model.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pydantic_core
import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from jambonz_webhooks import WebhookResponse
from jambonz_webhooks.catalogue import compare, models_by_schema_id
from jambonz_webhooks.response import builder_name
from jambonz_webhooks.verbs import Component, Verb
from tests import schemas
from tests.strategies import from_schema

MODELS = models_by_schema_id()
TYPED = sorted(
    sid for sid, model in MODELS.items() if issubclass(model, Component) and sid in schemas.schemas()
)
VERBS = [sid for sid in TYPED if sid.startswith("verbs/")]

# Where the official schemas contradict themselves, so that no JSON can satisfy them.
SCHEMA_DEFECTS = {
    # components/target: confirmHook is oneOf [a URI string, an actionHook], and an actionHook is
    # itself a string or an object, so any string matches both branches and fails oneOf.
    "is valid under each of",
}

PROFILE = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def official_errors(schema_id: str, data: Any) -> list[str]:
    return [error for error in schemas.errors(schema_id, data) if not any(d in error for d in SCHEMA_DEFECTS)]


def dump(model: BaseModel) -> Any:
    return pydantic_core.from_json(pydantic_core.to_json(model, exclude_none=True, by_alias=True))


def instances(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    return from_schema(model.model_json_schema(by_alias=True, mode="validation"))


# ---------------------------------------------------------------------------------------------
# The catalogue is complete
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_catalogue_has_no_difference_with_the_official_schemas() -> None:
    differences = compare(schemas.schema_dir())
    assert [str(difference) for difference in differences] == []


@pytest.mark.parametrize("schema_id", sorted(schemas.schemas()))
def test_every_schema_has_a_model(schema_id: str) -> None:
    assert schema_id in MODELS, f"no model follows {schema_id}"


@pytest.mark.parametrize("schema_id", schemas.schema_ids("verbs"))
def test_every_verb_has_a_builder_method(schema_id: str) -> None:
    model = MODELS[schema_id]
    assert issubclass(model, Verb)
    method = getattr(WebhookResponse, builder_name(model.verb_name), None)
    assert method is not None, f"Response has no method {builder_name(model.verb_name)}"
    assert method.verb_model is model


@pytest.mark.slow
def test_catalogue_command_lists_what_a_new_release_changes(tmp_path: Path) -> None:
    folder = tmp_path / "schema"
    shutil.copytree(schemas.schema_dir(), folder)
    say = json.loads((folder / "verbs/say.schema.json").read_text())
    say["properties"]["whisper"] = {"type": "boolean"}
    (folder / "verbs/say.schema.json").write_text(json.dumps(say))
    (folder / "verbs/teleport.schema.json").write_text(
        json.dumps(
            {
                "$id": "https://jambonz.org/schema/verbs/teleport",
                "properties": {"verb": {"const": "teleport"}},
            }
        )
    )
    (folder / "components/vad.schema.json").unlink()
    pause = json.loads((folder / "verbs/pause.schema.json").read_text())
    pause["properties"]["length"] = {"type": "string"}
    (folder / "verbs/pause.schema.json").write_text(json.dumps(pause))

    run = subprocess.run(
        [sys.executable, "-m", "jambonz_webhooks.catalogue", str(folder), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 1
    found = {(item["schema_id"], item["what"], item["detail"]) for item in json.loads(run.stdout)}
    assert found == {
        ("verbs/say", "property missing from the model", "whisper"),
        ("verbs/teleport", "no model", ""),
        ("components/vad", "model without a schema", "Vad"),
        ("verbs/pause", "type of length differs", "schema ['string'], model ['integer', 'number']"),
    }


@pytest.mark.slow
def test_catalogue_command_is_quiet_on_the_official_schemas() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "jambonz_webhooks.catalogue", str(schemas.schema_dir())],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (run.returncode, run.stdout) == (0, "")


# ---------------------------------------------------------------------------------------------
# Valid instances: our JSON passes the official schema
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("schema_id", TYPED)
def test_valid_instances_pass_the_official_schema(schema_id: str) -> None:
    model = MODELS[schema_id]

    @PROFILE
    @given(instances(model))
    def check(data: Any) -> None:
        try:
            built = model.model_validate(data)
        except ValidationError:
            reject()  # a cross-field rule the JSON schema of the model cannot express
        written = dump(built)
        assert official_errors(schema_id, written) == [], written
        # And the model reads its own JSON back to the same thing.
        assert dump(model.model_validate(written)) == written

    check()


@pytest.mark.slow
@pytest.mark.parametrize("schema_id", VERBS)
def test_builder_method_writes_what_the_model_writes(schema_id: str) -> None:
    model = MODELS[schema_id]
    assert issubclass(model, Verb)

    @PROFILE
    @given(instances(model))
    def check(data: Any) -> None:
        try:
            built = model.model_validate(data)
        except ValidationError:
            reject()
        fields = {key: value for key, value in data.items() if key != "verb"}
        response = getattr(WebhookResponse(), builder_name(model.verb_name))(**fields)
        assert response.to_list() == [dump(built)]

    check()


# ---------------------------------------------------------------------------------------------
# Invalid input is rejected
# ---------------------------------------------------------------------------------------------

_WRONG_VALUE: dict[str, Any] = {
    "string": [["not", "a", "string"]],
    "integer": ["seven", [7]],
    "number": ["seven", [7.5]],
    "boolean": ["maybe", [True]],
    "array": ["not a list", 12],
    "object": ["not an object", [1, 2]],
}


def _json_types(schema: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    while "$ref" in schema:
        schema = defs[schema["$ref"].removeprefix("#/$defs/")]
    kinds: set[str] = set()
    for branch in schema.get("anyOf", [schema]):
        while "$ref" in branch:
            branch = defs[branch["$ref"].removeprefix("#/$defs/")]
        kind = branch.get("type")
        if kind is None and "properties" in branch:
            kind = "object"
        if isinstance(kind, str):
            kinds.add(kind)
        if "enum" in branch or "const" in branch:
            kinds.add("enum")
    kinds.discard("null")
    return kinds


@pytest.mark.slow
@pytest.mark.parametrize("schema_id", TYPED)
def test_schema_shaped_invalid_input_is_rejected(schema_id: str) -> None:
    model = MODELS[schema_id]
    our_schema = model.model_json_schema(by_alias=True, mode="validation")
    properties: dict[str, Any] = our_schema.get("properties", {})
    defs: dict[str, Any] = our_schema.get("$defs", {})
    required = list(our_schema.get("required", []))
    # The properties whose wrong values are unambiguous: one JSON type (or an enum) only.
    typed = {name: kinds for name, spec in properties.items() if len(kinds := _json_types(spec, defs)) == 1}

    # A model of a free-form schema object (gladia's options) keeps unknown fields by design.
    closed = model.model_config.get("extra") == "forbid"
    choices = [
        kind
        for kind, possible in (
            ("unknown field", closed),
            ("wrong type", typed),
            ("missing required", required),
        )
        if possible
    ]
    if not choices:
        # Nothing is invalid for a free-form object with no typed property: it keeps what it gets.
        assert model.model_validate({"anyVendorKey": {"x": 1}}).model_extra == {"anyVendorKey": {"x": 1}}
        return
    mutations = st.sampled_from(choices)

    @PROFILE
    @given(instances(model), mutations, st.data())
    def check(data: Any, mutation: str, draw: st.DataObject) -> None:
        try:
            model.model_validate(data)
        except ValidationError:
            reject()
        bad = dict(data)
        if mutation == "unknown field":
            bad["notAJambonzField"] = 1
        elif mutation == "wrong type":
            if not typed:
                reject()
            name = draw.draw(st.sampled_from(sorted(typed)))
            (kind,) = typed[name]
            if name == "verb":
                bad[name] = "not-this-verb"
            elif kind == "enum":
                bad[name] = "not-a-documented-value"
            else:
                bad[name] = draw.draw(st.sampled_from(_WRONG_VALUE[kind]))
        else:
            if not required:
                reject()
            del bad[draw.draw(st.sampled_from(required))]
        with pytest.raises(ValidationError):
            model.model_validate(bad)
        if mutation != "unknown field":
            # The mutation is invalid for jambonz too, not just for us.
            assert schemas.errors(schema_id, bad), bad

    check()
