"""The builder's wire form (verbs/_wire.py) against the models it is derived from.

The builder validates a verb straight into the dict jambonz receives when the model can be
mirrored, and falls back to the model otherwise. These tests hold the two paths to the same
answer: the same bytes for every valid verb, built in and out of a request, written at the root
and under a mount prefix; the same errors for invalid input; and hooks kept until the answer is
encoded, then written out as the model would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, reject
from pydantic import ValidationError

from jambonz_webhooks import HookContext, UnroutedHandlerError, WebhookResponse, verbs
from jambonz_webhooks.hooks import HookObject, PendingHook, current_context
from jambonz_webhooks.response import builder_name, encode_verbs, to_verb
from jambonz_webhooks.verbs import VERB_MODELS, Gather, Say, Verb
from jambonz_webhooks.verbs._wire import VerbValidator, wire_validator
from tests.test_conformance import MODELS, PROFILE, VERBS, instances


async def menu() -> None:
    """A routed handler."""


async def stray() -> None:
    """A handler no route serves."""


ROOT = HookContext("", {menu: "/menu"})
MOUNTED = HookContext("/ivr", {menu: "/menu"})


@contextmanager
def answering(context: HookContext | None) -> Iterator[None]:
    """Run as a route runs its handler: with the request's hook context set."""
    token = current_context.set(context)
    try:
        yield
    finally:
        current_context.reset(token)


def build(model: type[Verb], fields: dict[str, Any]) -> Verb | dict[str, Any]:
    response: WebhookResponse = getattr(WebhookResponse(), builder_name(model.verb_name))(**fields)
    (verb,) = response.verbs
    return verb


# The verbs the fast path must cover: all but those with model-level rules of their own.
MODEL_PATH = {"config", "gptlive_s2s", "rest:dial"}


@pytest.mark.slow
def test_every_verb_without_model_rules_takes_the_wire_form() -> None:
    wire = {name for name, model in VERB_MODELS.items() if wire_validator(model) is not None}
    assert set(VERB_MODELS) - wire == MODEL_PATH
    for name in MODEL_PATH:
        assert VERB_MODELS[name].__pydantic_decorators__.model_validators


def test_a_built_verb_is_the_dict_jambonz_receives() -> None:
    with answering(ROOT):
        response = (
            WebhookResponse()
            .say(text="Hi")
            .gather(input=["digits"], num_digits=1, action_hook=menu, say={"text": "Press 1"})
            .hangup()
        )
    assert response.verbs == [
        {"verb": "say", "text": "Hi"},
        {
            "verb": "gather",
            "actionHook": PendingHook(menu),  # written when the answer is encoded
            "input": ["digits"],
            "numDigits": 1,
            "say": {"text": "Press 1"},
        },
        {"verb": "hangup"},
    ]
    assert all(type(verb) is dict for verb in response.verbs)
    assert response.to_json(ROOT) == (
        b'[{"verb":"say","text":"Hi"},'
        b'{"verb":"gather","actionHook":"/menu","input":["digits"],"numDigits":1,"say":{"text":"Press 1"}},'
        b'{"verb":"hangup"}]'
    )


@pytest.mark.slow
@pytest.mark.parametrize("schema_id", VERBS)
def test_both_paths_write_the_same_bytes(schema_id: str) -> None:
    model = MODELS[schema_id]
    assert issubclass(model, Verb)

    @PROFILE
    @given(instances(model))
    def check(data: dict[str, Any]) -> None:
        try:
            built = model.model_validate(data)
        except ValidationError:
            reject()
        fields = {key: value for key, value in data.items() if key != "verb"}
        # Built outside a request and inside one; written at the root and under a prefix.
        for building in (None, MOUNTED):
            with answering(building):
                verb = build(model, fields)
            for context in (None, ROOT, MOUNTED):
                assert encode_verbs([verb], context) == encode_verbs([built], context)

    check()


@pytest.mark.slow
@pytest.mark.parametrize("schema_id", VERBS)
def test_invalid_input_gets_the_models_own_error(schema_id: str) -> None:
    model = MODELS[schema_id]
    assert issubclass(model, Verb)
    required = [name for name in model.model_json_schema(by_alias=True).get("required", []) if name != "verb"]

    @PROFILE
    @given(instances(model))
    def check(data: dict[str, Any]) -> None:
        try:
            model.model_validate(data)
        except ValidationError:
            reject()
        fields = {key: value for key, value in data.items() if key != "verb"}
        # An unknown field, and each required field left out in turn.
        mutants = [fields | {"notAJambonzField": 1}]
        mutants += [{key: value for key, value in fields.items() if key != name} for name in required]
        for bad in mutants:
            with pytest.raises(ValidationError) as from_model:
                model.model_validate(bad)
            with pytest.raises(ValidationError) as from_builder:
                build(model, bad)
            assert from_builder.value.title == model.__name__
            assert from_builder.value.errors() == from_model.value.errors()

    check()


def test_errors_name_the_verb_and_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        # What a type checker flags, the builder refuses at run time too.
        WebhookResponse().gather(input=["digit"], num_digitz=1)  # type: ignore[call-overload]
    error = caught.value
    assert error.title == "Gather"
    assert [(e["loc"], e["type"]) for e in error.errors()] == [
        (("input", 0), "literal_error"),
        (("num_digitz",), "extra_forbidden"),
    ]
    with pytest.raises(ValidationError, match="Play"):
        WebhookResponse().play()  # type: ignore[call-overload]  # url is required
    with pytest.raises(ValidationError, match="numDigits"):
        WebhookResponse().gather(numDigits="one")  # type: ignore[call-overload]


def test_none_means_unset_at_every_level() -> None:
    with answering(ROOT):
        response = (
            WebhookResponse().say(text="a", loop=None).gather(say={"text": "b", "loop": None}, timeout=None)
        )
    assert response.to_json() == b'[{"verb":"say","text":"a"},{"verb":"gather","say":{"text":"b"}}]'


def test_models_given_inside_a_built_verb_are_written_by_their_model() -> None:
    # A Say where gather's SayPrompt goes: written without the verb key, as the model writes it.
    response = WebhookResponse().gather(
        say=Say(text="b"), recognizer={"vendor": "google", "language": "en-US"}
    )
    assert response.to_json() == (
        b'[{"verb":"gather","recognizer":{"vendor":"google","language":"en-US"},"say":{"text":"b"}}]'
    )
    assert encode_verbs(response.verbs) == encode_verbs(
        [Gather(say=Say(text="b"), recognizer={"vendor": "google", "language": "en-US"})]
    )


def test_hooks_wait_for_the_encoding_even_in_a_request() -> None:
    # The context a verb is built in does not matter: the one it is encoded with does.
    with answering(MOUNTED):
        response = (
            WebhookResponse()
            .gather(action_hook=menu)
            .redirect(action_hook="/x")
            .dial(
                target=[{"type": "phone", "number": "15551230000"}],
                action_hook={"url": menu, "method": "get"},
            )
        )
    assert response.verbs[:2] == [
        {"verb": "gather", "actionHook": PendingHook(menu)},
        {"verb": "redirect", "actionHook": PendingHook("/x")},
    ]
    assert response.verbs[2] == {
        "verb": "dial",
        "target": [verbs.Target(type="phone", number="15551230000")],
        "actionHook": PendingHook(HookObject(url=menu, method="get")),
    }
    assert response.to_list(ROOT) == [
        {"verb": "gather", "actionHook": "/menu"},
        {"verb": "redirect", "actionHook": "/x"},
        {
            "verb": "dial",
            "target": [{"type": "phone", "number": "15551230000"}],
            "actionHook": {"url": "/menu", "method": "GET"},
        },
    ]
    assert response.to_list(MOUNTED)[:2] == [
        {"verb": "gather", "actionHook": "/ivr/menu"},
        {"verb": "redirect", "actionHook": "/ivr/x"},
    ]
    assert response.to_list(MOUNTED)[2]["actionHook"] == {"url": "/ivr/menu", "method": "GET"}


def test_hooks_of_a_verb_built_outside_a_request_wait_for_its_encoding() -> None:
    response = (
        WebhookResponse()
        .gather(action_hook=menu)
        .redirect(action_hook="/x")
        .redirect(action_hook="https://a/b")
    )
    assert response.verbs[0]["actionHook"] == PendingHook(menu)  # type: ignore[index]
    assert response.verbs[2]["actionHook"] == "https://a/b"  # type: ignore[index]
    assert response.to_json(MOUNTED) == (
        b'[{"verb":"gather","actionHook":"/ivr/menu"},{"verb":"redirect","actionHook":"/ivr/x"},'
        b'{"verb":"redirect","actionHook":"https://a/b"}]'
    )
    # Validated again (a verb list handed to WebhookResponse), a waiting hook is still a hook.
    assert WebhookResponse(response.verbs).to_json(ROOT) == (
        b'[{"verb":"gather","actionHook":"/menu"},{"verb":"redirect","actionHook":"/x"},'
        b'{"verb":"redirect","actionHook":"https://a/b"}]'
    )


def test_an_unrouted_handler_fails_when_the_answer_is_encoded() -> None:
    for building in (None, ROOT):
        with answering(building):
            response = WebhookResponse().gather(action_hook=stray).redirect(action_hook={"url": stray})
        for context in (None, ROOT, MOUNTED):
            with pytest.raises(UnroutedHandlerError, match="stray"):
                response.to_json(context)
    # Kept as a model (a verb given as one): the same error, raised as itself.
    with pytest.raises(UnroutedHandlerError, match="stray"):
        encode_verbs([Gather(action_hook=stray)], ROOT)


def test_a_hook_the_model_refuses_is_refused() -> None:
    with answering(ROOT):
        hooks: list[Any] = [12, ["/a"], {"url": "/a", "username": "u"}]
        for hook in hooks:
            with pytest.raises(ValidationError, match="Gather"):
                WebhookResponse().gather(action_hook=hook)
        # transcribe's hooks are URLs only, not hook objects
        with pytest.raises(ValidationError, match="URLs or paths"):
            WebhookResponse().transcribe(transcription_hook={"url": "/t"})  # type: ignore[call-overload]
        assert WebhookResponse().transcribe(transcription_hook=menu).to_list(ROOT) == [
            {"verb": "transcribe", "transcriptionHook": "/menu"}
        ]


def test_dict_verbs_take_the_wire_form_too() -> None:
    assert to_verb({"say": {"text": "a"}}) == {"verb": "say", "text": "a"}
    assert to_verb({"verb": "pause", "length": 2}) == {"verb": "pause", "length": 2}
    assert isinstance(to_verb({"verb": "config", "synthesizer": {"vendor": "google"}}), verbs.Config)


def test_a_validator_built_by_several_threads_at_once_answers_the_same() -> None:
    # Built on first use, with no lock: two builds at once are harmless, each answer is right.
    validator = VerbValidator(Gather)
    fields = {"input": ["digits"], "action_hook": "/menu", "say": {"text": "Press 1"}}
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: validator.validate(fields), range(32)))
    assert all(result == results[0] for result in results)
    assert results[0] == {
        "verb": "gather",
        "actionHook": PendingHook("/menu"),
        "input": ["digits"],
        "say": {"text": "Press 1"},
    }
    assert validator.mirrored
    with pytest.raises(ValidationError, match="Gather"):
        validator.validate({"input": ["digit"]})


# The wire form is derived from pydantic's public API only; this runs this module under the
# lowest and the highest pydantic that pyproject.toml allows, fresh from PyPI. It needs the
# network and a minute, so it runs when asked: JAMBONZ_TEST_PYDANTIC_RANGE=1.
PYDANTIC_RANGE = ("pydantic==2.11.0", "pydantic<3")


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("JAMBONZ_TEST_PYDANTIC_RANGE"), reason="JAMBONZ_TEST_PYDANTIC_RANGE unset"
)
@pytest.mark.parametrize("requirement", PYDANTIC_RANGE)
def test_the_wire_form_on_each_end_of_the_pydantic_range(requirement: str, tmp_path: Path) -> None:
    repo = Path(__file__).resolve().parent.parent
    assert '"pydantic>=2.11,<3"' in (repo / "pyproject.toml").read_text()  # the range tested here
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", requirement], check=True, timeout=600)
    # Everything else (pytest, hypothesis, starlette...) from this environment, after pydantic.
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = [path for path in sys.path if path.endswith("site-packages")]
    (Path(site) / "outer.pth").write_text("\n".join([str(repo), *ours]) + "\n")
    done = subprocess.run(
        [python, "-m", "pytest", "-q", "-x", "-p", "no:randomly", "-p", "no:cacheprovider", __file__],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=1200,
        env={**os.environ, "JAMBONZ_TEST_PYDANTIC_RANGE": ""},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    version = subprocess.run(
        [python, "-c", "import pydantic; print(pydantic.VERSION)"], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert version.startswith("2.")
    print(f"{requirement}: pydantic {version}: {done.stdout.strip().splitlines()[-1]}")
