"""Target releases: the refusals for 0.9.8 held to the real validator that jambonz 0.9.8 runs.

jambonz-feature-server 0.9.8 validates answers with npm @jambonz/verb-specifications 0.1.13 (its
package-lock.json). The package is installed from the npm registry into a temporary folder and
run with node on the JSON our verbs write, so the tables of ``targets.py`` cannot drift from it.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.testclient import TestClient

from jambonz_webhooks import CallSession, JambonzApp, Release, ReleaseError, WebhookResponse
from jambonz_webhooks.targets import OPEN_SOURCE_REFUSED_VERBS
from jambonz_webhooks.verbs import VERB_MODELS, jambonz_name
from tests import schemas
from tests.payloads import session_new

VALIDATOR = "@jambonz/verb-specifications@0.1.13"

# Runs the validator on each case (a list of verbs as jambonz receives them) and prints, per
# case, null when it accepts them or the message it refuses them with.
_HARNESS = """
const {validate} = require('@jambonz/verb-specifications');
const logger = {info() {}, debug() {}, error() {}};
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
console.log(JSON.stringify(cases.map((verbs) => {
  try { validate(logger, verbs); return null; } catch (err) { return err.message; }
})));
"""


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder where ``node harness.js`` runs jambonz 0.9.8's validator."""
    node, npm = shutil.which("node"), shutil.which("npm")
    assert node and npm, "node and npm are needed (scripts/test.sh installs them)"
    folder = tmp_path_factory.mktemp("verb-specifications")
    subprocess.run(
        [
            npm,
            "install",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--omit=dev",
            "--prefix",
            str(folder),
            VALIDATOR,
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (folder / "harness.js").write_text(_HARNESS)
    yield folder


def validate(folder: Path, cases: list[list[dict[str, Any]]]) -> list[str | None]:
    """The validator's verdict on each case: None (accepted) or its error message."""
    done = subprocess.run(
        ["node", "harness.js"],
        cwd=folder,
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        check=True,
    )
    verdicts: list[str | None] = json.loads(done.stdout)
    return verdicts


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in typing.get_args(annotation) for model in _models_in(arg)]


def _is_list(annotation: Any) -> bool:
    if typing.get_origin(annotation) is list:
        return True
    return any(_is_list(arg) for arg in typing.get_args(annotation))


def property_cases() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every property a verb model can write, at any depth, as a verb holding just that path.

    Yields (verb, dotted path, the verb's JSON). The leaf value is a placeholder: the validator
    refuses an unknown property by its name, before it looks at any value.
    """
    for name, model in sorted(VERB_MODELS.items()):
        stack: list[tuple[type[BaseModel], tuple[tuple[str, bool], ...]]] = [(model, ())]
        seen: set[type[BaseModel]] = set()
        while stack:
            current, path = stack.pop()
            for field, info in current.model_fields.items():
                if info.exclude:
                    continue
                key = info.serialization_alias or info.alias or jambonz_name(field)
                if not path and key == "verb":
                    continue
                here = (*path, (key, _is_list(info.annotation)))
                value: Any = 1
                for index in range(len(here) - 1, -1, -1):
                    step, many = here[index]
                    value = {step: [value] if many and index < len(here) - 1 else value}
                yield name, ".".join(step for step, _ in here), {"verb": name, **value}
                for nested in _models_in(info.annotation):
                    if nested not in seen:
                        seen.add(nested)
                        stack.append((nested, here))


def _unknown(message: str | None, key: str) -> bool:
    return message is not None and message.endswith(f"unknown property {key}")


@pytest.mark.slow
def test_each_property_refused_for_098_exactly_when_the_validator_refuses_it(validator: Path) -> None:
    cases = list(property_cases())
    verdicts = validate(validator, [[verb] for _, _, verb in cases])
    release = Release("0.9.8")
    wrong = []
    for (name, path, verb), message in zip(cases, verdicts, strict=True):
        if name in OPEN_SOURCE_REFUSED_VERBS:
            assert message == f"invalid instruction: {name}", (name, message)
            continue
        ours = {refusal.property for refusal in release.refusals([verb])}
        theirs = _unknown(message, path.rsplit(".", 1)[-1])
        if (path in ours) != theirs:
            wrong.append((name, path, sorted(ours), message))
    assert not wrong
    assert len(cases) > 500  # the walk reached the components, not only the verbs' own fields


def example_verbs() -> list[dict[str, Any]]:
    """Every verb of the catalogue as our builder writes it, from jambonz's own examples."""
    found: list[dict[str, Any]] = []
    for schema_id in schemas.schema_ids("verbs"):
        for example in schemas.schemas()[schema_id].get("examples", []):
            found.extend(WebhookResponse([example]).to_list())
    found.append(WebhookResponse().room(name="standup").to_list()[0])  # room's schema has no example
    found.append(
        WebhookResponse()
        .rest_dial(call_hook="/hook", from_="+15551230000", to={"type": "phone", "number": "1"})
        .to_list()[0]
    )
    return found


def test_every_verb_as_built_agrees_with_the_validator(validator: Path) -> None:
    verbs = example_verbs()
    assert {verb["verb"] for verb in verbs} == set(VERB_MODELS)
    verdicts = validate(validator, [[verb] for verb in verbs])
    release = Release("0.9.8")
    for verb, message in zip(verbs, verdicts, strict=True):
        refusals = release.refusals([verb])
        if verb["verb"] in OPEN_SOURCE_REFUSED_VERBS:
            assert message == f"invalid instruction: {verb['verb']}"
            assert [refusal.property for refusal in refusals] == [""]
        elif refusals:
            assert _unknown(message, refusals[0].property.rsplit(".", 1)[-1]), (verb, message)
        else:
            assert message is None, (verb, message)  # the rest of the catalogue: accepted
    # The seven, each refused by the validator, and accepted by the commercial line.
    assert {
        verb["verb"]
        for verb, message in zip(verbs, verdicts, strict=True)
        if message and message.startswith("invalid instruction")
    } == OPEN_SOURCE_REFUSED_VERBS
    for release_name in ("11.x", "11.1.7"):
        assert Release(release_name).refusals(verbs) == []


def test_response_with_a_target_refuses_and_names_the_release() -> None:
    answer = WebhookResponse(target="0.9.8").say(text="hi")
    with pytest.raises(
        ReleaseError, match=r"jambonz 0\.9\.8 does not accept the verb agent \(added in jambonz 10\.1\.0\)"
    ):
        answer.agent({"stt": {"vendor": "google"}, "llm": {"vendor": "openai", "model": "gpt-4o"}})
    with pytest.raises(ReleaseError, match="property responseTimeoutMs of llm") as caught:
        answer.llm(vendor="openai", llm_options={}, response_timeout_ms=100)
    assert (caught.value.verb, caught.value.property) == ("llm", "responseTimeoutMs")
    assert answer.to_list() == [{"verb": "say", "text": "hi"}]  # the refused verbs were not kept
    with pytest.raises(ReleaseError, match="the verb room"):
        WebhookResponse([{"verb": "room", "name": "standup"}], target="0.9.8")
    with pytest.raises(ReleaseError, match=r"added in jambonz 11\.1\.7"):
        WebhookResponse(target="11.1").add(schemas.schemas()["verbs/nova_s2s"]["examples"][0])
    assert WebhookResponse().target is None and answer.target == Release("0.9.8")


def test_bad_targets_fail_where_declared() -> None:
    for bad in ("", "9.1", "0.8.0", "eleven"):
        with pytest.raises(ValueError):
            Release(bad)


def test_an_app_target_makes_the_fallback_answer_and_the_log_say_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = JambonzApp(insecure=True, target="0.9.8")

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().say(text="hi").room(name="standup")

    with TestClient(app) as client, caplog.at_level(logging.ERROR):
        answer = client.post("/incoming", json=session_new())
    assert answer.status_code == 200
    assert [verb["verb"] for verb in answer.json()] == ["say", "hangup"]  # the default fallback
    assert "jambonz 0.9.8 does not accept the verb room" in caplog.text
    with pytest.raises(ReleaseError):
        JambonzApp(insecure=True, target="0.9.8", fallback=WebhookResponse().room(name="x"))


def routes(*args: str) -> subprocess.CompletedProcess[str]:
    """``jambonz-webhooks routes tests.apps.targets:app ARGS`` from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "jambonz_webhooks", "routes", "tests.apps.targets:app", *args],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_routes_reports_per_hook_what_a_target_refuses() -> None:
    result = routes("--target", "0.9.8", "--json")
    assert result.returncode == 1, result.stderr
    problems = {(problem["hook"], problem["message"]) for problem in json.loads(result.stdout)["problems"]}
    known = "(0.9.8's validator does not know it; the commercial line has it): it would fail the call"
    assert problems == {
        ("/menu", f"jambonz 0.9.8 does not accept the verb room {known}"),
        ("/ai", f"jambonz 0.9.8 does not accept the property responseTimeoutMs of llm {known}"),
    }
    text = routes("--target", "0.9.8")
    assert "/menu [tests.apps.targets.menu]: jambonz 0.9.8 does not accept the verb room" in text.stdout
    for accepted in (("--target", "11.x"), ()):
        result = routes(*accepted)
        assert result.returncode == 0, result.stdout
        assert "0 problem(s)" in result.stdout
    bad = routes("--target", "9.1")
    assert bad.returncode == 2
    assert "not a jambonz release" in bad.stderr
