"""Fuzzing the payload models and the whole request path with arbitrary input.

Whatever bytes or JSON arrive, a payload model either validates or raises pydantic's
ValidationError (which the route turns into a 4xx), and a hook answers 2xx or 4xx with a short
JSON error: never a 500, never another exception.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.testclient import TestClient

from jambonz_webhooks import CallSession, GatherResult, JambonzApp, WebhookResponse
from jambonz_webhooks.events import CALLBACK_MODELS
from jambonz_webhooks.payload import CallInfo
from tests import payloads

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)

# Keys jambonz sends, so that generated objects hit real fields and not only unknown ones.
KEYS = st.sampled_from(
    sorted(set(payloads.session_new()) | {"speech", "digits", "reason", "alternatives", "headers", "x"})
)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(KEYS | st.text(max_size=8), inner, max_size=6)
    ),
    max_leaves=25,
)
MODELS: list[type[CallInfo]] = [CallSession, *CALLBACK_MODELS.values()]


def _validates_or_refuses(model: type[CallInfo], parse: Callable[[], CallInfo]) -> None:
    """Either a model instance or pydantic's ValidationError: any other exception fails the test."""
    try:
        instance = parse()
    except ValidationError as exc:
        assert exc.errors(), "a ValidationError names what is wrong"
    else:
        assert isinstance(instance, model)
        assert isinstance(instance.call_sid, str)


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_a_model_validates_any_json_or_raises_validation_error(model: type[CallInfo]) -> None:
    @FUZZ
    @given(JSON_VALUES)
    def check(value: Any) -> None:
        body = json.dumps(value).encode()
        _validates_or_refuses(model, lambda: model.model_validate_json(body, strict=True))
        _validates_or_refuses(model, lambda: model.model_validate(value))

    check()


@pytest.mark.slow
@FUZZ
@given(st.binary(max_size=300))
def test_a_model_refuses_arbitrary_bytes_with_validation_error(body: bytes) -> None:
    _validates_or_refuses(CallSession, lambda: CallSession.model_validate_json(body, strict=True))


def _app() -> JambonzApp:
    app = JambonzApp(webhook_secret=[], insecure=True)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().say(text=call.call_sid).hangup()

    @app.action_hook("/menu")
    async def menu(result: GatherResult, call: CallSession) -> WebhookResponse:
        return WebhookResponse().say(text=result.digits or "none")

    return app


CLIENT = TestClient(_app(), raise_server_exceptions=False)


def _assert_answer_is_sound(response: Any) -> None:
    assert response.status_code in (200, 400, 413, 415, 422), response.text
    if response.status_code != 200:
        assert response.headers["content-type"] == "application/json"
        error = response.json()
        assert isinstance(error["error"], str)
        assert "Traceback" not in response.text


@pytest.mark.slow
@FUZZ
@given(JSON_VALUES, st.sampled_from(["/incoming", "/menu"]))
def test_any_json_body_gets_an_answer_or_a_4xx(value: Any, path: str) -> None:
    body = json.dumps(value).encode()
    _assert_answer_is_sound(CLIENT.post(path, content=body, headers={"content-type": "application/json"}))


@pytest.mark.slow
@FUZZ
@given(JSON_VALUES, st.sampled_from(["/incoming", "/menu"]))
def test_payload_fields_with_any_values_get_an_answer_or_a_4xx(value: Any, path: str) -> None:
    # A real payload with one field replaced: the decoder gets past the shape and into the fields.
    payload = payloads.session_new()
    key = sorted(payload)[len(json.dumps(value)) % len(payload)]
    payload[key] = value
    body = json.dumps(payload).encode()
    _assert_answer_is_sound(CLIENT.post(path, content=body, headers={"content-type": "application/json"}))


@pytest.mark.slow
@FUZZ
@given(st.binary(max_size=500), st.sampled_from(["/incoming", "/menu"]))
def test_any_bytes_get_an_answer_or_a_4xx(body: bytes, path: str) -> None:
    _assert_answer_is_sound(CLIENT.post(path, content=body, headers={"content-type": "application/json"}))


@pytest.mark.slow
@FUZZ
@given(st.text(max_size=200), st.sampled_from(["/incoming", "/menu"]))
def test_any_query_string_gets_an_answer_or_a_4xx(query: str, path: str) -> None:
    # The GET path: bracket notation, JSON text values and coercion all see hostile input.
    _assert_answer_is_sound(CLIENT.get(path, params={"q": query}))
    # Raw, with its structure (= & [ ]) kept and the rest escaped as a client would.
    _assert_answer_is_sound(CLIENT.get(f"{path}?{quote(query, safe='=&[]')}"))
