"""Application environment variables: the portal's discovery answer, and typed, coerced values."""

from __future__ import annotations

import json
import logging
from typing import Any, Literal

import jsonschema
import pytest
from pydantic import Field, ValidationError
from starlette.testclient import TestClient

from jambonz_webhooks import (
    CallSession,
    EnvVar,
    EnvVarError,
    EnvVars,
    GatherResult,
    JambonzApp,
    MemoryStore,
    WebhookResponse,
)
from tests import payloads

# The shape the jambonz API server checks the discovery answer against (PROTOCOL.md, section 6):
# a bare object mapping names (letters, digits, underscore; at least one) to declarations.
DISCOVERY_SHAPE: dict[str, Any] = {
    "type": "object",
    "minProperties": 1,
    "propertyNames": {"pattern": "^[a-zA-Z0-9_]+$"},
    "additionalProperties": {
        "type": "object",
        "required": ["type", "description"],
        "additionalProperties": False,
        "properties": {
            "type": {"enum": ["string", "number", "boolean"]},
            "description": {"type": "string"},
            "required": {"type": "boolean"},
            "default": {"type": ["string", "number", "boolean"]},
            "enum": {"type": "array"},
            "obscure": {"type": "boolean"},
            "uiHint": {"enum": ["input", "textarea", "filepicker"]},
            "jambonzResource": {"enum": ["carriers"]},
        },
    },
}
JSON = {"content-type": "application/json"}


class Settings(EnvVars):
    """The variables of the test app."""

    COMPANY_NAME: str = Field("Acme", description="Who greets the caller")
    MAX_RETRIES: int = Field(3, description="Menu attempts")
    DEBUG: bool = Field(False, description="Verbose logs")
    MODE: Literal["day", "night"] = Field("day", description="Opening hours")
    API_TOKEN: str | None = Field(None, description="CRM token", json_schema_extra={"obscure": True})
    CARRIER: str = Field(description="Outbound carrier", json_schema_extra={"jambonz_resource": "carriers"})


def discovered(app: JambonzApp, path: str = "/incoming") -> Any:
    response = TestClient(app).options(path, headers={"accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    return response.json()


def test_an_envvars_class_is_declared_to_the_portal_in_its_shape() -> None:
    app = JambonzApp(env_vars=Settings, webhook_secret=[], insecure=True)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().hangup()

    answer = discovered(app)
    jsonschema.validate(answer, DISCOVERY_SHAPE)
    assert answer == {
        "COMPANY_NAME": {"description": "Who greets the caller", "type": "string", "default": "Acme"},
        "MAX_RETRIES": {"description": "Menu attempts", "type": "number", "default": 3},
        "DEBUG": {"description": "Verbose logs", "type": "boolean", "default": False},
        "MODE": {
            "description": "Opening hours",
            "type": "string",
            "default": "day",
            "enum": ["day", "night"],
        },
        "API_TOKEN": {"description": "CRM token", "type": "string", "obscure": True},
        "CARRIER": {
            "description": "Outbound carrier",
            "type": "string",
            "required": True,
            "jambonzResource": "carriers",
        },
    }
    assert set(app.env_vars) == set(Settings.model_fields)


class Secrets(EnvVars):
    API_TOKEN: str = Field("default-token-7f3a", description="CRM token", json_schema_extra={"obscure": True})


def test_an_obscure_variables_default_is_never_served_but_still_used() -> None:
    app = JambonzApp(env_vars=Secrets, webhook_secret=[], insecure=True)
    seen: list[str] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, env: Secrets) -> WebhookResponse:
        seen.append(env.API_TOKEN)
        return WebhookResponse().hangup()

    client = TestClient(app)
    response = client.options("/incoming", headers={"accept": "application/json"})
    assert response.json() == {"API_TOKEN": {"description": "CRM token", "type": "string", "obscure": True}}
    assert b"default-token-7f3a" not in response.content
    # By name too.
    token = EnvVar(description="t", obscure=True, default="x-default-token")
    by_name = JambonzApp(env_vars={"API_TOKEN": token}, webhook_secret=[], insecure=True)
    by_name.call_hook("/incoming")(incoming)
    assert b"x-default-token" not in TestClient(by_name).options("/incoming").content
    # The portal set no value: the default is what the handler gets.
    assert client.post("/incoming", json={**payloads.session_new(), "env_vars": {}}).status_code == 200
    assert seen == ["default-token-7f3a"]


def test_declarations_by_name_are_declared_as_given() -> None:
    app = JambonzApp(
        env_vars={
            "GREETING": EnvVar(description="What to say first", ui_hint="textarea"),
            "VOLUME": {"type": "number", "description": "Gain", "default": 1.5, "enum": [1, 1.5, 2]},
        },
        webhook_secret=[],
        insecure=True,
    )

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().hangup()

    answer = discovered(app)
    jsonschema.validate(answer, DISCOVERY_SHAPE)
    assert answer["GREETING"] == {"description": "What to say first", "type": "string", "uiHint": "textarea"}
    assert answer["VOLUME"]["enum"] == [1, 1.5, 2]


@pytest.mark.parametrize(
    ("declarations", "message"),
    [
        ({"MY-VAR": {"description": "d"}}, "letters, digits and underscores"),
        ({"X": {"description": "d", "type": "number", "default": "three"}}, "is not a number"),
        ({"X": {"description": "d", "type": "number", "default": True}}, "is not a number"),
        ({"X": {"description": "d", "type": "boolean", "default": 1}}, "is not a boolean"),
        ({"X": {"description": "d", "enum": ["a"], "default": "b"}}, "not one of the enum"),
        ({"X": {"description": "d", "type": "date"}}, "type"),
        ({"X": {"description": "d", "secret": True}}, "Extra inputs"),
        ({"X": {"type": "string"}}, "description"),
    ],
)
def test_a_declaration_the_portal_would_refuse_is_refused_when_the_app_is_built(
    declarations: dict[str, Any], message: str
) -> None:
    with pytest.raises((ValueError, ValidationError), match=message):
        JambonzApp(env_vars=declarations, webhook_secret=[], insecure=True)


def test_a_field_type_jambonz_has_no_variable_for_is_refused() -> None:
    class Odd(EnvVars):
        WHEN: list[str] = Field(description="not a jambonz type")

    with pytest.raises(TypeError, match="string, number and boolean"):
        JambonzApp(env_vars=Odd, webhook_secret=[], insecure=True)


def test_values_are_coerced_to_the_declared_types_and_defaults_fill_the_rest() -> None:
    env = Settings.from_values({"MAX_RETRIES": "5", "DEBUG": "true", "CARRIER": "twilio", "OTHER": 1})
    assert env == Settings(
        COMPANY_NAME="Acme", MAX_RETRIES=5, DEBUG=True, MODE="day", API_TOKEN=None, CARRIER="twilio"
    )


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"CARRIER": "c", "MAX_RETRIES": "many"}, "MAX_RETRIES"),
        ({"CARRIER": "c", "DEBUG": "perhaps"}, "DEBUG"),
        ({"CARRIER": "c", "MODE": "evening"}, "MODE"),
        ({}, "CARRIER"),
    ],
)
def test_a_value_that_does_not_fit_is_a_clear_error(values: dict[str, Any], named: str) -> None:
    with pytest.raises(EnvVarError) as caught:
        Settings.from_values(values)
    message = str(caught.value)
    assert message.startswith("the call's env_vars do not match Settings: ")
    assert named in message
    if values.get(named) is not None:
        assert repr(values[named]) in message  # the value received, to find it in the portal


class Keys(EnvVars):
    API_TOKEN: int = Field(description="A numeric key", json_schema_extra={"obscure": True})
    LABEL: int = Field(0, description="A label")


def test_an_obscure_variables_value_is_never_in_the_error_and_others_are_cut() -> None:
    with pytest.raises(EnvVarError) as caught:
        Keys.from_values({"API_TOKEN": "sk-live-0123456789", "LABEL": "x" * 500})
    message = str(caught.value)
    assert "API_TOKEN" in message and "sk-live" not in message
    assert "LABEL" in message and "'xxxx" in message and "x" * 100 not in message


def _app(seen: list[Settings]) -> JambonzApp:
    app = JambonzApp(env_vars=Settings, webhook_secret=[], insecure=True, state=MemoryStore())

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, env: Settings) -> WebhookResponse:
        seen.append(env)
        return (
            WebhookResponse()
            .say(text=f"Welcome to {env.COMPANY_NAME}")
            .gather(input=["digits"], action_hook=menu)
        )

    @app.action_hook("/menu")
    async def menu(result: GatherResult, env: Settings) -> WebhookResponse:
        seen.append(env)
        return WebhookResponse().say(text=f"{env.COMPANY_NAME} allows {env.MAX_RETRIES} tries")

    return app


def test_a_handler_gets_the_typed_variables_on_every_hook_of_the_call() -> None:
    seen: list[Settings] = []
    session = payloads.session_new(env_vars={"COMPANY_NAME": "Globex", "MAX_RETRIES": "5", "CARRIER": "c"})
    with TestClient(_app(seen)) as client:
        first = client.post("/incoming", content=json.dumps(session), headers=JSON)
        assert first.json()[0] == {"verb": "say", "text": "Welcome to Globex"}
        # The gather's payload has no env_vars: they come from the call's state.
        gather = payloads.call_info(call_sid=session["call_sid"], reason="dtmfDetected", digits="1")
        assert "env_vars" not in gather
        second = client.post("/menu", content=json.dumps(gather), headers=JSON)
        assert second.json() == [{"verb": "say", "text": "Globex allows 5 tries"}]
    assert [env.MAX_RETRIES for env in seen] == [5, 5]


def test_variables_that_do_not_fit_are_logged_and_the_caller_hears_the_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[Settings] = []
    session = payloads.session_new(env_vars={"MAX_RETRIES": "many", "CARRIER": "c"})
    with caplog.at_level(logging.ERROR, logger="jambonz_webhooks"), TestClient(_app(seen)) as client:
        response = client.post("/incoming", content=json.dumps(session), headers=JSON)
    assert response.status_code == 200
    assert response.json()[0]["text"].startswith("We are sorry")
    assert seen == []  # the handler never ran
    (record,) = [r for r in caplog.records if r.name == "jambonz_webhooks"]
    assert record.call_sid == session["call_sid"]  # type: ignore[attr-defined]
    assert "MAX_RETRIES" in record.getMessage()
    assert "'many'" in record.getMessage()
