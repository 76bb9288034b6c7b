"""The public names: what the top level holds, one name for one concept (docs/names.md)."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
from typing import Any

import pytest

import jambonz_webhooks
from jambonz_webhooks import verbs
from jambonz_webhooks.events import CALLBACK_MODELS
from jambonz_webhooks.verbs import VERB_MODELS, Verb

# The modules a user imports from, each named in docs/names.md.
PUBLIC_MODULES = (
    "jambonz_webhooks",
    "jambonz_webhooks.verbs",
    "jambonz_webhooks.events",
    "jambonz_webhooks.session",
    "jambonz_webhooks.rest",
    "jambonz_webhooks.security",
    "jambonz_webhooks.testing",
)


def _exported(module_name: str) -> dict[str, Any]:
    module = importlib.import_module(module_name)
    return {name: getattr(module, name) for name in module.__all__}


def test_response_is_the_same_class_as_webhook_response() -> None:
    assert jambonz_webhooks.Response is jambonz_webhooks.WebhookResponse
    answer = jambonz_webhooks.Response().say(text="hi")
    assert isinstance(answer, jambonz_webhooks.WebhookResponse)
    assert answer.to_list() == [{"verb": "say", "text": "hi"}]


def test_the_top_level_holds_no_verb_model() -> None:
    models = [name for name, value in _exported("jambonz_webhooks").items() if inspect.isclass(value)]
    assert not [name for name in models if issubclass(getattr(jambonz_webhooks, name), Verb)]


def test_every_verb_model_is_exported_by_the_verbs_module() -> None:
    exported = {id(value) for value in _exported("jambonz_webhooks.verbs").values()}
    assert all(id(model) in exported for model in VERB_MODELS.values())
    assert len(VERB_MODELS) == 40


def test_every_hook_payload_model_is_at_the_top_level() -> None:
    top = {id(value) for value in _exported("jambonz_webhooks").values()}
    missing = sorted(model.__name__ for model in CALLBACK_MODELS.values() if id(model) not in top)
    assert missing == []


def test_every_top_level_name_is_documented() -> None:
    undocumented = [
        name
        for name, value in _exported("jambonz_webhooks").items()
        if (inspect.isclass(value) or inspect.isfunction(value)) and not inspect.getdoc(value)
    ]
    assert undocumented == []


def test_every_exported_name_resolves() -> None:
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            assert getattr(module, name) is not None, f"{module_name}.{name}"


def test_one_name_for_one_concept_across_the_public_modules() -> None:
    """A class name means the same class in every public module that exports it."""
    seen: dict[str, tuple[str, object]] = {}
    clashes = []
    for module_name in PUBLIC_MODULES:
        for name, value in _exported(module_name).items():
            if not inspect.isclass(value):
                continue
            if name in seen and seen[name][1] is not value:
                clashes.append(f"{name}: {seen[name][0]} and {module_name}")
            seen.setdefault(name, (module_name, value))
    assert clashes == []


def test_one_class_has_one_name_except_the_response_alias() -> None:
    names: dict[object, set[str]] = {}
    for module_name in PUBLIC_MODULES:
        for name, value in _exported(module_name).items():
            if inspect.isclass(value):
                names.setdefault(value, set()).add(name)
    several = {tuple(sorted(found)) for found in names.values() if len(found) > 1}
    assert several == {("Response", "WebhookResponse")}


@pytest.mark.parametrize("name", ["Say", "Dial", "VERB_MODELS", "compute_signature", "DEFAULT_FALLBACK"])
def test_internals_and_verbs_are_not_at_the_top_level(name: str) -> None:
    assert name not in jambonz_webhooks.__all__
    with pytest.raises(ImportError):
        exec(f"from jambonz_webhooks import {name}", {})


def test_importing_the_top_level_does_not_load_the_rest_client() -> None:
    # A user who never calls the REST API does not pay for httpx2 and the REST models.
    code = "import sys, jambonz_webhooks; print('jambonz_webhooks.rest.client' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_verbs_module_names_match_their_jambonz_names() -> None:
    for wire_name, model in VERB_MODELS.items():
        camel = "".join(part[:1].upper() + part[1:] for part in wire_name.replace(":", "_").split("_"))
        assert getattr(verbs, model.__name__) is model
        assert model.__name__.lower() == camel.lower().replace("-", ""), wire_name
