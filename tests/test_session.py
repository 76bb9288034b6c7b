"""CallSession and the other payload models, read through a real handler.

Every field of jambonz's ``CallSession`` interface is read from a POST JSON body and from a
GET query string, in bracket notation (``sip[headers][X-Foo]=bar``) and with JSON text values
(``sip={"headers":...}``). Unknown keys must survive.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest
from starlette.testclient import TestClient

from jambonz_webhooks import CallSession, CallStatus, DialResult, GatherResult, JambonzApp, WebhookResponse
from jambonz_webhooks.session import RecognizerDefaults, SessionDefaults, SipInvite, SynthesizerDefaults
from tests.payloads import SDP, call_info, session_new

# ---------------------------------------------------------------------------------------------
# Encoding a payload the three ways a hook may carry it
# ---------------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A scalar as jambonz (JavaScript) would write it in a query string."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def bracket_pairs(data: dict[str, Any]) -> list[tuple[str, str]]:
    """``{"sip": {"headers": {"X": "y"}}}`` -> ``[("sip[headers][X]", "y")]``; lists by index."""
    pairs: list[tuple[str, str]] = []

    def walk(key: str, value: Any) -> None:
        if isinstance(value, dict):
            for inner_key, inner in value.items():
                walk(f"{key}[{inner_key}]", inner)
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                walk(f"{key}[{index}]", inner)
        else:
            pairs.append((key, _text(value)))

    for key, value in data.items():
        walk(key, value)
    return pairs


def json_value_pairs(data: dict[str, Any]) -> list[tuple[str, str]]:
    """Top-level scalars as text, objects and lists as compact JSON text (``sip={"headers":...}``)."""
    return [
        (
            key,
            json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            if isinstance(value, dict | list)
            else _text(value),
        )
        for key, value in data.items()
    ]


def bracket_query(data: dict[str, Any], *, literal_brackets: bool = True) -> str:
    """A query string in bracket notation; brackets left as they are or percent-encoded."""
    return urlencode(bracket_pairs(data), safe="[]" if literal_brackets else "")


def json_query(data: dict[str, Any]) -> str:
    return urlencode(json_value_pairs(data))


POST = "post"
GET_BRACKETS = "get-brackets"
GET_JSON = "get-json"
TRANSPORTS = (POST, GET_BRACKETS, GET_JSON)


def deliver(client: TestClient, path: str, transport: str, payload: dict[str, Any]) -> httpx2.Response:
    if transport == POST:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        return client.post(path, content=body, headers={"content-type": "application/json"})
    if transport == GET_BRACKETS:
        return client.get(f"{path}?{bracket_query(payload)}")
    assert transport == GET_JSON
    return client.get(f"{path}?{json_query(payload)}")


# ---------------------------------------------------------------------------------------------
# The app under test: a call hook that keeps what its handler received and echoes the call_sid
# ---------------------------------------------------------------------------------------------


@dataclass
class Echo:
    client: TestClient
    calls: list[CallSession] = field(default_factory=list)

    def send(self, transport: str, payload: dict[str, Any]) -> httpx2.Response:
        self.calls.clear()
        return deliver(self.client, "/incoming", transport, payload)

    def get(self, query: str) -> httpx2.Response:
        self.calls.clear()
        return self.client.get(f"/incoming?{query}")

    def post_bytes(self, body: bytes) -> httpx2.Response:
        self.calls.clear()
        return self.client.post("/incoming", content=body, headers={"content-type": "application/json"})

    def session(self, transport: str, payload: dict[str, Any]) -> CallSession:
        response = self.send(transport, payload)
        assert response.status_code == 200, response.text
        assert response.json() == [{"verb": "say", "text": payload["call_sid"]}]
        assert len(self.calls) == 1
        call = self.calls[0]
        assert isinstance(call, CallSession)
        return call


def make_echo_app() -> tuple[JambonzApp, list[CallSession]]:
    app = JambonzApp(fallback=None, insecure=True)
    calls: list[CallSession] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        calls.append(call)
        return WebhookResponse().say(text=call.call_sid)

    return app, calls


@pytest.fixture(scope="module")
def echo() -> Iterator[Echo]:
    app, calls = make_echo_app()
    with TestClient(app) as client:
        echo = Echo(client)
        echo.calls = calls
        yield echo


# ---------------------------------------------------------------------------------------------
# Every field of CallSession, each its own test case, over the three transports
# ---------------------------------------------------------------------------------------------

UNKNOWN_OBJECT: dict[str, Any] = {
    "recording": {"url": "s3://bucket/calls/rec.wav", "channels": 2},
    "labels": ["vip", "callback"],
}

PAYLOAD: dict[str, Any] = session_new(has_recording=True, recording_meta=UNKNOWN_OBJECT)
SIP: dict[str, Any] = PAYLOAD["sip"]


def _sip(call: CallSession) -> SipInvite:
    assert call.sip is not None
    return call.sip


def _defaults(call: CallSession) -> SessionDefaults:
    assert call.defaults is not None
    return call.defaults


def _all_ways(name: str) -> Callable[[CallSession], Any]:
    """Read an unknown key as an attribute, through ``.get`` and in ``model_extra``."""

    def read(call: CallSession) -> Any:
        extra = call.model_extra
        assert extra is not None
        return (getattr(call, name), call.get(name), extra[name])

    return read


def _attribute_and_get(attribute: str, key: str) -> Callable[[CallSession], Any]:
    """Read a named field as its attribute and through ``.get(json_name)``."""

    def read(call: CallSession) -> Any:
        return (getattr(call, attribute), call.get(key))

    return read


_SAME = object()
_TYPE = "type"


@dataclass(frozen=True)
class FieldCase:
    id: str
    read: Callable[[CallSession], Any]
    post: Any
    brackets: Any = _SAME
    """Expected from a query string in bracket notation (every value is text)."""
    json_values: Any = _SAME
    """Expected from a query string with JSON text values."""

    def expected(self, transport: str) -> Any:
        if transport == GET_BRACKETS and self.brackets is not _SAME:
            return self.brackets
        if transport == GET_JSON and self.json_values is not _SAME:
            return self.json_values
        return self.post


_TOP_LEVEL_TEXT = [
    ("call_sid", "call_sid"),
    ("account_sid", "account_sid"),
    ("application_sid", "application_sid"),
    ("direction", "direction"),
    ("from_", "from"),
    ("to", "to"),
    ("call_id", "call_id"),
    ("sip_reason", "sip_reason"),
    ("caller_name", "caller_name"),
    ("caller_id", "caller_id"),
    ("call_status", "call_status"),
    ("originating_sip_trunk_name", "originating_sip_trunk_name"),
    ("originating_sip_ip", "originating_sip_ip"),
    ("service_provider_sid", "service_provider_sid"),
    ("trace_id", "trace_id"),
    ("parent_call_sid", "parent_call_sid"),
    ("api_base_url", "api_base_url"),
]

_ENV_VARS_AS_TEXT = {"COMPANY_NAME": "Acme", "MAX_RETRIES": "3", "DEBUG": "false"}
_UNKNOWN_OBJECT_AS_TEXT = {
    "recording": {"url": "s3://bucket/calls/rec.wav", "channels": "2"},
    "labels": ["vip", "callback"],
}
_UNKNOWN_OBJECT_JSON = json.dumps(UNKNOWN_OBJECT, separators=(",", ":"))

FIELD_CASES: list[FieldCase] = [
    *(
        FieldCase(key, _attribute_and_get(attribute, key), (PAYLOAD[key], PAYLOAD[key]))
        for attribute, key in _TOP_LEVEL_TEXT
    ),
    FieldCase(
        "sip_status", lambda c: (c.sip_status, type(c.sip_status), c.get("sip_status")), (100, int, 100)
    ),
    FieldCase("sip.headers", lambda c: _sip(c).headers, SIP["headers"]),
    FieldCase("sip.body", lambda c: _sip(c).body, SDP),
    FieldCase("sip.method", lambda c: _sip(c).method, "INVITE"),
    FieldCase("sip.uri", lambda c: _sip(c).uri, "sip:+15083728299@jambonz.example"),
    FieldCase("sip.calledNumber", lambda c: _sip(c).called_number, "+15083728299"),
    FieldCase("sip.callingNumber", lambda c: _sip(c).calling_number, "+15083084809"),
    FieldCase("sip.protocol", lambda c: _sip(c).protocol, "udp"),
    FieldCase("sip.source_address", lambda c: _sip(c).source_address, "203.0.113.10"),
    FieldCase(
        "sip.source_port",
        lambda c: (_sip(c).source_port, type(_sip(c).source_port)),
        (5060, int),
        brackets=("5060", str),
    ),
    FieldCase(
        "sip.unknown_keys",
        lambda c: (_sip(c).model_extra, getattr(_sip(c), _TYPE)),
        ({"type": "request", "source": "network"}, "request"),
    ),
    FieldCase("env_vars", lambda c: c.env_vars, PAYLOAD["env_vars"], brackets=_ENV_VARS_AS_TEXT),
    FieldCase("defaults.synthesizer.vendor", lambda c: _synth(c).vendor, "google"),
    FieldCase("defaults.synthesizer.language", lambda c: _synth(c).language, "en-US"),
    FieldCase("defaults.synthesizer.voice", lambda c: _synth(c).voice, "en-US-Standard-C"),
    FieldCase("defaults.recognizer.vendor", lambda c: _recog(c).vendor, "deepgram"),
    FieldCase("defaults.recognizer.language", lambda c: _recog(c).language, "en-US"),
    FieldCase(
        "customerData",
        lambda c: (c.customer_data, c.get("customerData")),
        (PAYLOAD["customerData"], PAYLOAD["customerData"]),
    ),
    FieldCase(
        "customerData.keys_not_snake_cased",
        lambda c: sorted(c.customer_data or {}),
        ["crmId", "nested"],
    ),
    FieldCase(
        "fs_sip_address", _attribute_and_get("fs_sip_address", "fs_sip_address"), ("10.0.1.5:5060",) * 2
    ),
    FieldCase("fs_public_ip", _attribute_and_get("fs_public_ip", "fs_public_ip"), ("198.51.100.20",) * 2),
    FieldCase("sbc_callid", lambda c: (c.sbc_callid, c.get("sbc_callid")), (PAYLOAD["sbc_callid"],) * 2),
    FieldCase("unknown.has_recording", _all_ways("has_recording"), (True,) * 3, ("true",) * 3, ("true",) * 3),
    FieldCase(
        "unknown.nested_object",
        _all_ways("recording_meta"),
        (UNKNOWN_OBJECT,) * 3,
        brackets=(_UNKNOWN_OBJECT_AS_TEXT,) * 3,
        # The model cannot know an unknown key holds JSON: its text is kept as it came.
        json_values=(_UNKNOWN_OBJECT_JSON,) * 3,
    ),
]


def _synth(call: CallSession) -> SynthesizerDefaults:
    synthesizer = _defaults(call).synthesizer
    assert synthesizer is not None
    return synthesizer


def _recog(call: CallSession) -> RecognizerDefaults:
    recognizer = _defaults(call).recognizer
    assert recognizer is not None
    return recognizer


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("case", FIELD_CASES, ids=[case.id for case in FIELD_CASES])
def test_call_session_field(echo: Echo, case: FieldCase, transport: str) -> None:
    call = echo.session(transport, PAYLOAD)
    assert case.read(call) == case.expected(transport)


def test_every_interface_field_has_a_case() -> None:
    """The cases above cover every property of jambonz's CallSession interface."""
    interface = {
        "call_sid", "account_sid", "application_sid", "direction", "from", "to", "call_id",
        "sip_status", "sip_reason", "caller_name", "caller_id", "call_status",
        "originating_sip_trunk_name", "originating_sip_ip", "service_provider_sid", "trace_id",
        "parent_call_sid", "api_base_url", "sip.headers", "sip.body", "sip.method", "sip.uri",
        "sip.calledNumber", "sip.callingNumber", "sip.protocol", "sip.source_address",
        "sip.source_port", "env_vars", "defaults.synthesizer.vendor",
        "defaults.synthesizer.language", "defaults.synthesizer.voice",
        "defaults.recognizer.vendor", "defaults.recognizer.language", "customerData",
    }  # fmt: skip
    assert interface <= {case.id for case in FIELD_CASES}
    named = {info.alias or name for name, info in CallSession.model_fields.items()}
    assert {key for key in interface if "." not in key} <= named


def test_bracket_keys_percent_encoded_or_not_give_the_same_session(echo: Echo) -> None:
    literal = echo.session(GET_BRACKETS, PAYLOAD)
    response = echo.get(bracket_query(PAYLOAD, literal_brackets=False))
    assert response.status_code == 200, response.text
    encoded = echo.calls[0]
    assert "%5B" in bracket_query(PAYLOAD, literal_brackets=False)
    assert encoded.model_dump() == literal.model_dump()
    assert encoded.model_extra == literal.model_extra


def test_query_styles_can_be_mixed(echo: Echo) -> None:
    """Bracket notation for some objects, JSON text for others, in one query string."""
    minimal = {key: PAYLOAD[key] for key in ("call_sid", "account_sid", "application_sid", "direction")}
    minimal.update({key: PAYLOAD[key] for key in ("from", "to", "call_id", "sip_status")})
    query = "&".join(
        [
            bracket_query(minimal),
            bracket_query({"defaults": PAYLOAD["defaults"], "customerData": {"crmId": "x"}}),
            urlencode({"sip": json.dumps(SIP), "env_vars": json.dumps({"A": 1})}),
        ]
    )
    response = echo.get(query)
    assert response.status_code == 200, response.text
    call = echo.calls[0]
    assert call.customer_data == {"crmId": "x"}
    assert _sip(call).headers == SIP["headers"]
    assert _sip(call).source_port == 5060
    assert call.env_vars == {"A": 1}
    assert _synth(call).voice == "en-US-Standard-C"


def test_json_text_nested_inside_bracket_notation(echo: Echo) -> None:
    data = {key: PAYLOAD[key] for key in ("call_sid", "account_sid", "application_sid", "direction")}
    data.update({key: PAYLOAD[key] for key in ("from", "to", "call_id", "sip_status")})
    query = (
        bracket_query(data)
        + "&"
        + urlencode(
            {"sip[headers]": json.dumps({"X-Foo": "bar"}), "defaults[synthesizer]": '{"vendor":"google"}'}
        )
    )
    response = echo.get(query)
    assert response.status_code == 200, response.text
    call = echo.calls[0]
    assert _sip(call).headers == {"X-Foo": "bar"}
    assert _synth(call).vendor == "google"


def test_minimal_session_leaves_optional_fields_none(echo: Echo) -> None:
    payload = {key: PAYLOAD[key] for key in ("call_sid", "account_sid", "application_sid", "direction")}
    payload.update({"from": "anonymous", "to": "", "call_id": "x@y", "sip_status": 100})
    call = echo.session(POST, payload)
    assert call.from_ == "anonymous"
    assert call.to == ""
    assert call.sip is None
    assert call.env_vars is None
    assert call.defaults is None
    assert call.customer_data is None
    assert call.caller_name is None
    assert call.get("caller_name", "dflt") == "dflt"
    assert call.get("no_such_key") is None
    assert call.get("no_such_key", 7) == 7
    assert call.model_extra == {}


# ---------------------------------------------------------------------------------------------
# Required fields and strict JSON
# ---------------------------------------------------------------------------------------------

# What jambonz-feature-server 0.9.8 sets on every kind of call (lib/session/call-info.js); not
# application_sid, which a REST-created call without an application lacks (see test_call_hooks.py).
REQUIRED = ["call_sid", "account_sid", "direction", "from", "to", "call_id", "sip_status"]


def _named_fields(response: httpx2.Response) -> set[str]:
    body = response.json()
    assert isinstance(body, dict)
    assert isinstance(body["error"], str)
    return {item["field"] for item in body.get("fields", [])}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("missing", REQUIRED)
def test_missing_required_field_is_422_naming_it(echo: Echo, missing: str, transport: str) -> None:
    payload = session_new()
    del payload[missing]
    response = echo.send(transport, payload)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert missing in response.json()["error"]
    assert _named_fields(response) == {missing}
    assert echo.calls == []


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_missing_application_sid_reaches_the_handler(echo: Echo, transport: str) -> None:
    payload = session_new()
    del payload["application_sid"]
    call = echo.session(transport, payload)
    assert call.application_sid is None
    assert call.account_sid == PAYLOAD["account_sid"]


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("sip_status", "200", "sip_status"),
        ("sip_status", True, "sip_status"),
        ("sip_status", 200.5, "sip_status"),
        ("call_sid", 123, "call_sid"),
        ("from", 15083084809, "from"),
        ("to", None, "to"),
        ("direction", "sideways", "direction"),
        ("direction", "Inbound", "direction"),
        ("caller_name", 42, "caller_name"),
        ("sip", {"headers": "X-Foo: bar"}, "sip.headers"),
        ("sip", {"headers": {"X-Foo": 1}}, "sip.headers.X-Foo"),
        ("defaults", {"synthesizer": {"vendor": 7}}, "defaults.synthesizer.vendor"),
        ("customerData", ["not", "an", "object"], "customerData"),
    ],
)
def test_strict_json_rejects_wrong_types(echo: Echo, key: str, value: Any, named: str) -> None:
    response = echo.send(POST, session_new(**{key: value}))
    assert response.status_code == 422, response.text
    assert named in _named_fields(response)
    assert key in response.json()["error"]
    assert echo.calls == []


def test_strict_json_accepts_source_port_as_text_or_number(echo: Echo) -> None:
    as_text = echo.session(POST, session_new(sip={**SIP, "source_port": "5061"}))
    assert _sip(as_text).source_port == "5061"
    as_number = echo.session(POST, session_new(sip={**SIP, "source_port": 5061}))
    assert _sip(as_number).source_port == 5061


@pytest.mark.parametrize("transport", [GET_BRACKETS, GET_JSON])
def test_query_text_is_coerced(echo: Echo, transport: str) -> None:
    call = echo.session(transport, session_new(sip_status="200", call_sid="123"))
    assert call.sip_status == 200
    assert call.call_sid == "123"


@pytest.mark.parametrize(
    ("key", "value"), [("direction", "sideways"), ("sip_status", "abc"), ("sip_status", "")]
)
@pytest.mark.parametrize("transport", [GET_BRACKETS, GET_JSON])
def test_query_values_that_cannot_be_coerced_are_422(
    echo: Echo, transport: str, key: str, value: str
) -> None:
    response = echo.send(transport, session_new(**{key: value}))
    assert response.status_code == 422, response.text
    assert key in _named_fields(response)
    assert echo.calls == []


def test_body_that_is_not_json_is_400(echo: Echo) -> None:
    response = echo.post_bytes(b'{"call_sid": ')
    assert response.status_code == 400
    assert "JSON" in response.json()["error"]


def test_body_that_is_a_json_array_is_422(echo: Echo) -> None:
    response = echo.post_bytes(json.dumps([session_new()]).encode())
    assert response.status_code == 422
    assert "object" in response.json()["error"]


# ---------------------------------------------------------------------------------------------
# Non-ASCII values
# ---------------------------------------------------------------------------------------------

UNICODE_VALUES: dict[str, Any] = {
    "caller_name": "Zoë Ångström 李小龍 🎉",
    "from": "sip:josé@例え.jp",
    "to": "+33 6 12 34 56 78 ☎",
    "customerData": {"note": "café ☕ 👋🏽", "clé": "värde"},
}


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_non_ascii_and_emoji_values_survive(echo: Echo, transport: str) -> None:
    payload = session_new(**UNICODE_VALUES)
    call = echo.session(transport, payload)
    assert call.caller_name == UNICODE_VALUES["caller_name"]
    assert call.from_ == UNICODE_VALUES["from"]
    assert call.to == UNICODE_VALUES["to"]
    assert call.customer_data == UNICODE_VALUES["customerData"]
    assert _sip(call).headers["X-Odd-Header"] == 'a=b; c="d e"; ünïcödé ☎'


def test_non_ascii_as_json_escapes_is_the_same(echo: Echo) -> None:
    payload = session_new(**UNICODE_VALUES)
    body = json.dumps(payload, ensure_ascii=True).encode()
    assert b"\\u" in body
    response = echo.post_bytes(body)
    assert response.status_code == 200, response.text
    assert echo.calls[0].caller_name == UNICODE_VALUES["caller_name"]
    assert echo.calls[0].customer_data == UNICODE_VALUES["customerData"]


def test_frozen_session_cannot_be_changed(echo: Echo) -> None:
    call = echo.session(POST, PAYLOAD)
    name = "call_sid"
    with pytest.raises(ValueError, match="frozen"):
        setattr(call, name, "other")
    assert call.call_sid == PAYLOAD["call_sid"]


# ---------------------------------------------------------------------------------------------
# The other payload models: GatherResult, DialResult, CallStatus
# ---------------------------------------------------------------------------------------------


@dataclass
class Models:
    client: TestClient
    gathers: list[GatherResult] = field(default_factory=list)
    dials: list[DialResult] = field(default_factory=list)
    statuses: list[CallStatus] = field(default_factory=list)


@pytest.fixture(scope="module")
def models() -> Iterator[Models]:
    app = JambonzApp(fallback=None, insecure=True)
    gathers: list[GatherResult] = []
    dials: list[DialResult] = []
    statuses: list[CallStatus] = []

    @app.action_hook("/gather")
    async def gathered(result: GatherResult) -> WebhookResponse:
        gathers.append(result)
        return WebhookResponse().say(text=result.transcript or result.digits or str(result.reason))

    @app.action_hook("/dial")
    def dialed(result: DialResult) -> list[dict[str, Any]]:
        dials.append(result)
        return [{"verb": "hangup"}]

    @app.status_hook("/status")
    async def status(status: CallStatus) -> None:
        statuses.append(status)

    with TestClient(app) as client:
        yield Models(client, gathers, dials, statuses)


@pytest.fixture
def fresh(models: Models) -> Models:
    models.gathers.clear()
    models.dials.clear()
    models.statuses.clear()
    return models


SPEECH: dict[str, Any] = {
    "is_final": True,
    "language_code": "en-US",
    "channel_tag": 1,
    "alternatives": [
        {"transcript": "I'd like to speak to sales", "confidence": 0.93},
        {"transcript": "I like to speak to sails", "confidence": 0.41},
    ],
    "vendor": {"name": "deepgram", "evt": {"type": "Results", "duration": 1.84, "is_final": True}},
}


def test_gather_speech_result(fresh: Models) -> None:
    payload = call_info(reason="speechDetected", speech=SPEECH)
    response = fresh.client.post("/gather", json=payload)
    assert response.status_code == 200, response.text
    assert response.json() == [{"verb": "say", "text": "I'd like to speak to sales"}]
    (result,) = fresh.gathers
    assert result.reason == "speechDetected"
    assert result.digits is None
    assert result.transcript == "I'd like to speak to sales"
    assert result.speech is not None
    assert result.speech.is_final is True
    assert result.speech.language_code == "en-US"
    assert result.speech.channel_tag == 1
    assert [alt.confidence for alt in result.speech.alternatives] == [0.93, 0.41]
    assert result.speech.alternatives[1].transcript == "I like to speak to sails"
    assert result.speech.vendor is not None
    assert result.speech.vendor.name == "deepgram"
    assert result.speech.vendor.evt == SPEECH["vendor"]["evt"]
    assert result.call_sid == payload["call_sid"]
    assert result.from_ == payload["from"]


def test_gather_dtmf_result(fresh: Models) -> None:
    response = fresh.client.post("/gather", json=call_info(reason="dtmfDetected", digits="0123#"))
    assert response.status_code == 200, response.text
    (result,) = fresh.gathers
    assert result.reason == "dtmfDetected"
    assert result.digits == "0123#"
    assert result.speech is None
    assert result.transcript is None
    assert response.json() == [{"verb": "say", "text": "0123#"}]


def test_gather_timeout_and_low_confidence(fresh: Models) -> None:
    assert fresh.client.post("/gather", json=call_info(reason="timeout")).status_code == 200
    low = call_info(
        reason="stt-low-confidence",
        speech={"is_final": True, "alternatives": [{"transcript": "mumble", "confidence": 0.1}]},
        details={"threshold": 0.5},
    )
    assert fresh.client.post("/gather", json=low).status_code == 200
    timeout, low_result = fresh.gathers
    assert timeout.reason == "timeout"
    assert timeout.transcript is None
    assert low_result.reason == "stt-low-confidence"
    assert low_result.details == {"threshold": 0.5}
    assert low_result.transcript == "mumble"


def test_gather_empty_alternatives_has_no_transcript(fresh: Models) -> None:
    payload = call_info(reason="speechDetected", speech={"is_final": True, "alternatives": []})
    assert fresh.client.post("/gather", json=payload).status_code == 200
    assert fresh.gathers[0].transcript is None


def test_gather_unknown_reason_is_accepted(fresh: Models) -> None:
    payload = call_info(reason="someReasonFromTheFuture", digits="5", new_field={"x": 1})
    response = fresh.client.post("/gather", json=payload)
    assert response.status_code == 200, response.text
    (result,) = fresh.gathers
    assert result.reason == "someReasonFromTheFuture"
    assert result.get("new_field") == {"x": 1}


def test_gather_from_query_string_brackets(fresh: Models) -> None:
    payload = call_info(reason="speechDetected", speech=SPEECH)
    response = fresh.client.get(f"/gather?{bracket_query(payload)}")
    assert response.status_code == 200, response.text
    (result,) = fresh.gathers
    assert result.transcript == "I'd like to speak to sales"
    assert result.speech is not None
    assert result.speech.is_final is True
    assert result.speech.alternatives[0].confidence == 0.93
    assert result.sip_status == 200


def test_gather_from_query_string_json_values(fresh: Models) -> None:
    payload = call_info(reason="speechDetected", speech=SPEECH)
    response = fresh.client.get(f"/gather?{json_query(payload)}")
    assert response.status_code == 200, response.text
    (result,) = fresh.gathers
    assert result.speech is not None
    assert len(result.speech.alternatives) == 2
    assert result.transcript == "I'd like to speak to sales"


@pytest.mark.parametrize(
    ("status", "sip_status", "child"),
    [
        ("completed", 200, "6f3f6a3c-7c5e-4b8e-9d1c-2a3b4c5d6e7f"),
        ("busy", 486, "6f3f6a3c-7c5e-4b8e-9d1c-2a3b4c5d6e80"),
        ("no-answer", 487, None),
        ("failed", 503, None),
        ("canceled-by-new-server", 487, None),
    ],
)
def test_dial_result(fresh: Models, status: str, sip_status: int, child: str | None) -> None:
    payload = call_info(dial_call_status=status, dial_sip_status=sip_status)
    if child is not None:
        payload.update(dial_call_sid=child, dial_sbc_callid="9c8b7a@198.51.100.7")
    response = fresh.client.post("/dial", json=payload)
    assert response.status_code == 200, response.text
    assert response.json() == [{"verb": "hangup"}]
    (result,) = fresh.dials
    assert result.dial_call_status == status
    assert result.dial_sip_status == sip_status
    assert result.dial_call_sid == child
    assert result.dial_sbc_callid == (None if child is None else "9c8b7a@198.51.100.7")


@pytest.mark.parametrize(
    ("status", "final"),
    [
        ("completed", True),
        ("failed", True),
        ("busy", True),
        ("no-answer", True),
        ("in-progress", False),
        ("trying", False),
        ("ringing", False),
        ("early-media", False),
        ("queued", False),
        ("a-status-from-the-future", False),
    ],
)
def test_call_status(fresh: Models, status: str, final: bool) -> None:
    payload = call_info(call_status=status, call_termination_by="caller", duration=42, has_recording=False)
    response = fresh.client.post("/status", json=payload)
    assert response.status_code == 204
    assert response.content == b""
    (result,) = fresh.statuses
    assert result.call_status == status
    assert result.is_final is final
    assert result.call_termination_by == "caller"
    assert result.duration == 42
    assert result.get("has_recording") is False


def test_call_status_unknown_termination_by_is_accepted(fresh: Models) -> None:
    payload = call_info(call_status="completed", call_termination_by="sbc", direction="outbound")
    assert fresh.client.post("/status", json=payload).status_code == 204
    (result,) = fresh.statuses
    assert result.call_termination_by == "sbc"
    assert result.direction == "outbound"
    assert result.is_final


def test_call_status_from_query_coerces_duration(fresh: Models) -> None:
    payload = call_info(call_status="completed", duration=42)
    assert fresh.client.get(f"/status?{bracket_query(payload)}").status_code == 204
    (result,) = fresh.statuses
    assert result.duration == 42
    assert result.is_final


@pytest.mark.slow
def test_payload_models_are_built_when_first_used_or_prepared() -> None:
    # A fresh interpreter: here every model has long been built by the tests before.
    code = """
        from jambonz_webhooks import CallSession, GatherResult
        from jambonz_webhooks.payload import prepare
        print(CallSession.__pydantic_complete__, GatherResult.__pydantic_complete__)
        prepare(CallSession)
        prepare(CallSession)  # already built: left as it is
        print(CallSession.__pydantic_complete__, GatherResult.__pydantic_complete__)
        print(CallSession.model_validate(PAYLOAD).call_sid)
        print(GatherResult.model_validate({"call_sid": "c", "digits": "1"}).digits)
        """
    code = f"PAYLOAD = {session_new(call_sid='c-1')!r}\n" + textwrap.dedent(code)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split("\n") == ["False False", "True False", "c-1", "1", ""]
