"""The REST client against a fake jambonz API server (tests/fake_jambonz_api.py) under uvicorn.

The fake checks every request against tests/data/rest_api.json, written from jambonz-api's
swagger.yaml: each test asserts it saw no request outside the API (``assert_clean``). The same
test functions drive :class:`JambonzClient` and :class:`AsyncJambonzClient`, through :class:`Api`
which makes every method awaitable.
"""

from __future__ import annotations

import inspect
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import httpx2
import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError
from pydantic_core import PydanticSerializationError
from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.testclient import TestClient

from jambonz_webhooks import (
    CallInfo,
    CallSession,
    HookContext,
    HookObject,
    JambonzApp,
    MemoryStore,
    RetryPolicy,
    UnroutedHandlerError,
    WebhookResponse,
    hook,
)
from jambonz_webhooks.hooks import current_context, reraise_unrouted
from jambonz_webhooks.rest import (
    ApiAccess,
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AsyncJambonzClient,
    AuthenticationError,
    BadRequestError,
    CallControl,
    CallRecord,
    ConferenceParticipantAction,
    CreateCall,
    JambonzClient,
    NotFoundError,
    Queue,
    RecordCommand,
    SentMessage,
    ServerError,
    UnprocessableEntityError,
    UntrustedAddressError,
    UpdateCall,
)
from jambonz_webhooks.testing import signed_headers
from jambonz_webhooks.verbs import Play, Say
from tests.fake_jambonz_api import ACCOUNT_SID, API_KEY, LIVE_CALL_SID, SPEC, FakeJambonzAPI, RecordedRequest
from tests.payloads import session_new

ENV_NAMES = ("JAMBONZ_API_BASE_URL", "JAMBONZ_ACCOUNT_SID", "JAMBONZ_API_KEY")
CALLS_PATH = f"/v1/Accounts/{ACCOUNT_SID}/Calls"
SECRET = "wh_secret_rest_client_tests"
LIVE_PATH = f"{CALLS_PATH}/{LIVE_CALL_SID}"
UNKNOWN_SID = "00000000-0000-4000-8000-000000000000"
PHONE = {"type": "phone", "number": "+15559870000"}


# --------------------------------------------------------------------------- the two clients


class _Methods:
    """The methods of one resource (``client.calls``), each awaitable whichever client is underneath."""

    def __init__(self, resource: object) -> None:
        self._resource = resource

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self._resource, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            # The sync client blocks this event loop while it waits: harmless, the server runs
            # in its own thread.
            result = method(*args, **kwargs)
            return await result if inspect.isawaitable(result) else result

        return call


class Api:
    """A :class:`JambonzClient` or an :class:`AsyncJambonzClient` behind the same awaitable methods."""

    def __init__(self, client: JambonzClient | AsyncJambonzClient) -> None:
        self.client = client
        self.calls = _Methods(client.calls)
        self.conferences = _Methods(client.conferences)
        self.queues = _Methods(client.queues)
        self.messages = _Methods(client.messages)

    async def __aenter__(self) -> Api:
        # Each client's own context manager: `with` for the sync one, `async with` for the other.
        if isinstance(self.client, AsyncJambonzClient):
            await self.client.__aenter__()
        else:
            self.client.__enter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if isinstance(self.client, AsyncJambonzClient):
            await self.client.__aexit__(*exc_info)
        else:
            self.client.__exit__(*exc_info)

    async def close(self) -> None:
        if isinstance(self.client, AsyncJambonzClient):
            await self.client.aclose()
        else:
            self.client.close()


class MakeApi(Protocol):
    def __call__(self, **settings: Any) -> Api: ...


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Neither the client's settings nor a proxy may come from the machine running the tests.
    hook_settings = ("JAMBONZ_WEBHOOK_SECRET", "JAMBONZ_WEBHOOK_USERNAME", "JAMBONZ_WEBHOOK_PASSWORD")
    proxies = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
    for name in (*ENV_NAMES, *hook_settings, *proxies):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def origin(fake_api_server: tuple[FakeJambonzAPI, str]) -> str:
    return fake_api_server[1]


@pytest.fixture(params=["sync", "async"])
def flavour(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
async def make_api(flavour: str, fake_api: FakeJambonzAPI, origin: str) -> AsyncIterator[MakeApi]:
    """Build clients of the flavour under test, closed after the test; settings override the fake's."""
    made: list[Api] = []

    def make(**settings: Any) -> Api:
        defaults = {"base_url": origin, "account_sid": ACCOUNT_SID, "api_key": API_KEY, "timeout": 5.0}
        kind = JambonzClient if flavour == "sync" else AsyncJambonzClient
        api = Api(kind(**{**defaults, **settings}))
        made.append(api)
        return api

    yield make
    for api in made:
        await api.close()


@pytest.fixture
def api(make_api: MakeApi) -> Api:
    return make_api()


def _only(fake: FakeJambonzAPI) -> RecordedRequest:
    """The one request the fake received."""
    assert len(fake.requests) == 1, [(r.method, r.path, r.status) for r in fake.requests]
    return fake.requests[0]


def _free_closed_port() -> int:
    """A port of 127.0.0.1 nothing listens on: connections to it are refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --------------------------------------------------------------------------- every operation


async def test_create_call_with_a_url_hook(api: Api, fake_api: FakeJambonzAPI) -> None:
    sid = await api.calls.create(
        from_="+15551230000",
        to=PHONE,
        call_hook="https://ivr.example.com/incoming",
        call_status_hook="https://ivr.example.com/status",
    )

    assert uuid.UUID(sid)
    assert sid in fake_api.calls  # the sid the server made, not one the client invented
    fake_api.assert_clean()
    request = _only(fake_api)
    assert (request.method, request.path, request.status) == ("POST", CALLS_PATH, 201)
    assert request.authorization == f"Bearer {API_KEY}"
    assert request.content_type == "application/json"
    assert request.body == {
        "from": "+15551230000",
        "to": PHONE,
        "call_hook": {"url": "https://ivr.example.com/incoming"},
        "call_status_hook": {"url": "https://ivr.example.com/status"},
    }


async def test_create_call_with_a_hook_object(api: Api, fake_api: FakeJambonzAPI) -> None:
    hook = {"url": "https://ivr.example.com/incoming", "method": "POST", "username": "u", "password": "p w"}

    await api.calls.create(from_="+15551230000", to=PHONE, call_hook=hook)
    await api.calls.create(
        from_="+15551230000",
        to=PHONE,
        call_hook=HookObject(url="https://ivr.example.com/incoming", method="get"),
    )

    fake_api.assert_clean()
    first, second = (request.body for request in fake_api.requests)
    # The spec's method enum is lower case: "POST" is written as "post".
    assert first["call_hook"] == {**hook, "method": "post"}
    assert second["call_hook"] == {"url": "https://ivr.example.com/incoming", "method": "get"}


@pytest.mark.parametrize(
    "hook",
    ["/incoming", "incoming", {"url": "/incoming", "method": "GET"}, "ftp://ivr.example.com/x"],
    ids=["path", "relative", "object-with-path", "not-http"],
)
@pytest.mark.parametrize("field", ["call_hook", "call_status_hook"])
async def test_a_new_calls_hook_is_an_absolute_url(
    api: Api, fake_api: FakeJambonzAPI, field: str, hook: Any
) -> None:
    # fs create-call.js makes the new call's HTTP client from the URL: a path has no address.
    fields: dict[str, Any] = {"call_hook": "https://ivr.example.com/incoming", field: hook}
    with pytest.raises(ValidationError, match=f"{field}: a new call's hook is an absolute URL"):
        await api.calls.create(from_="+15551230000", to=PHONE, **fields)
    assert fake_api.requests == []  # refused before anything was sent


async def test_a_new_calls_hook_may_be_a_handler_only_inside_no_call(
    api: Api, fake_api: FakeJambonzAPI
) -> None:
    async def incoming() -> None: ...

    with pytest.raises(ValidationError, match="call_hook: a new call's hook is an absolute URL"):
        await api.calls.create(from_="+15551230000", to=PHONE, call_hook=incoming)
    assert fake_api.requests == []


async def test_create_call_with_answering_machine_detection(api: Api, fake_api: FakeJambonzAPI) -> None:
    # Read by the feature server from the create-call body (rest_dial.js), though not in the spec.
    await api.calls.create(
        from_="+15551230000",
        to=PHONE,
        call_hook="https://ivr.example.com/incoming",
        amd={"actionHook": "/amd", "thresholdWordCount": 5},
        caller_name="Acme Dental",
        refer_hook="/refer",
        dual_streams=True,
    )
    fake_api.assert_clean()
    body = _only(fake_api).body
    assert body["amd"] == {"actionHook": "/amd", "thresholdWordCount": 5}
    assert (body["callerName"], body["referHook"], body["dual_streams"]) == (
        "Acme Dental",
        {"url": "/refer"},
        True,
    )
    with pytest.raises(ValidationError, match="amd"):
        await api.calls.create(
            from_="+1", to=PHONE, call_hook="https://ivr.example.com/i", amd={"action_hok": "/amd"}
        )


async def test_create_call_running_verbs_given_now(api: Api, fake_api: FakeJambonzAPI) -> None:
    verbs = WebhookResponse().say(text="Your appointment is tomorrow at 10 — à demain").hangup()
    target = {
        "type": "sip",
        "sip_uri": "sip:alice@pbx.example.com",
        "auth": {"username": "a", "password": "b"},
    }

    sid = await api.calls.create(
        from_="+15551230000",
        to=target,
        app_json=verbs,
        tag={"appointment": "A-1042", "attempt": 2},
        timeout=30,
        time_limit=120,
        headers={"X-Campaign": "reminders"},
        answer_on_bridge=True,
        from_host="sip.example.com",
    )

    fake_api.assert_clean()
    body = _only(fake_api).body
    assert isinstance(body["app_json"], str)  # the JSON text of the verbs, not the array
    assert json.loads(body["app_json"]) == [
        {"verb": "say", "text": "Your appointment is tomorrow at 10 — à demain"},
        {"verb": "hangup"},
    ]
    assert {key: value for key, value in body.items() if key != "app_json"} == {
        "from": "+15551230000",
        "to": {
            "type": "sip",
            "sipUri": "sip:alice@pbx.example.com",
            "auth": {"username": "a", "password": "b"},
        },
        "tag": {"appointment": "A-1042", "attempt": 2},
        "timeout": 30,
        "timeLimit": 120,
        "headers": {"X-Campaign": "reminders"},
        "answerOnBridge": True,
        "fromHost": "sip.example.com",
    }
    assert fake_api.calls[sid]["to"] == "sip:alice@pbx.example.com"


UPDATES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "redirect-url",
        {"call_hook": "https://ivr.example.com/next"},
        {"call_hook": {"url": "https://ivr.example.com/next"}},
    ),
    (
        "redirect-object",
        {"call_hook": {"url": "/next", "method": "GET", "username": "u", "password": "p"}},
        {"call_hook": {"url": "/next", "method": "get", "username": "u", "password": "p"}},
    ),
    ("child-call-hook", {"child_call_hook": "/child"}, {"child_call_hook": {"url": "/child"}}),
    ("completed", {"call_status": "completed"}, {"call_status": "completed"}),
    ("no-answer", {"call_status": "no-answer"}, {"call_status": "no-answer"}),
    ("mute", {"mute_status": "mute"}, {"mute_status": "mute"}),
    ("unmute", {"mute_status": "unmute"}, {"mute_status": "unmute"}),
    ("listen-pause", {"listen_status": "pause"}, {"listen_status": "pause"}),
    ("listen-silence", {"listen_status": "silence"}, {"listen_status": "silence"}),
    ("listen-resume", {"listen_status": "resume"}, {"listen_status": "resume"}),
    (
        "whisper-say-model",
        {"whisper": Say(text="One moment")},
        {"whisper": {"verb": "say", "text": "One moment"}},
    ),
    (
        "whisper-play-model",
        {"whisper": Play(url="https://cdn.example.com/beep.wav")},
        {"whisper": {"verb": "play", "url": "https://cdn.example.com/beep.wav"}},
    ),
    (
        "whisper-dict-verb",
        {"whisper": {"verb": "say", "text": ["Hold on", "please"]}},
        {"whisper": {"verb": "say", "text": ["Hold on", "please"]}},
    ),
    (
        "whisper-url",
        {"whisper": "https://ivr.example.com/whisper"},
        {"whisper": {"url": "https://ivr.example.com/whisper"}},
    ),
    ("conf-hold", {"conf_hold_status": "hold"}, {"conf_hold_status": "hold"}),
    ("conf-unhold", {"conf_hold_status": "unhold"}, {"conf_hold_status": "unhold"}),
    ("conf-mute", {"conf_mute_status": "mute"}, {"conf_mute_status": "mute"}),
    ("conf-unmute", {"conf_mute_status": "unmute"}, {"conf_mute_status": "unmute"}),
    (
        "record-model",
        {
            "record": RecordCommand.model_validate(
                {
                    "action": "startCallRecording",
                    "recording_id": "rec-1",
                    "siprec_server_url": "sip:srs@10.0.0.9",
                }
            )
        },
        {
            "record": {
                "action": "startCallRecording",
                "recordingID": "rec-1",
                "siprecServerURL": "sip:srs@10.0.0.9",
            }
        },
    ),
    (
        "record-dict",
        {"record": {"action": "pauseCallRecording"}},
        {"record": {"action": "pauseCallRecording"}},
    ),
    (
        "sip-request",
        {
            "sip_request": {
                "method": "INFO",
                "content_type": "application/json",
                "content": '{"a":1}',
                "headers": {"X-R": "1"},
            }
        },
        {
            "sip_request": {
                "method": "INFO",
                "content_type": "application/json",
                "content": '{"a":1}',
                "headers": {"X-R": "1"},
            }
        },
    ),
    (
        "participant-model",
        {"conference_participant_action": ConferenceParticipantAction(action="tag", tag="supervisor")},
        {"conferenceParticipantAction": {"action": "tag", "tag": "supervisor"}},
    ),
    (
        "participant-api-name",
        {"conferenceParticipantAction": {"action": "coach"}},
        {"conferenceParticipantAction": {"action": "coach"}},
    ),
    (
        "several",
        {"mute_status": "mute", "listen_status": "pause", "conf_hold_status": "hold"},
        {"mute_status": "mute", "listen_status": "pause", "conf_hold_status": "hold"},
    ),
]


@pytest.mark.parametrize(
    ("fields", "expected"), [case[1:] for case in UPDATES], ids=[case[0] for case in UPDATES]
)
async def test_update_sends_each_live_control_field(
    api: Api, fake_api: FakeJambonzAPI, fields: dict[str, Any], expected: dict[str, Any]
) -> None:
    assert await api.calls.update(LIVE_CALL_SID, **fields) is None

    fake_api.assert_clean()
    request = _only(fake_api)
    assert (request.method, request.path, request.status) == ("POST", LIVE_PATH, 202)
    assert request.body == expected


async def test_update_shortcuts(api: Api, fake_api: FakeJambonzAPI) -> None:
    await api.calls.redirect(LIVE_CALL_SID, "https://ivr.example.com/menu")
    await api.calls.whisper(LIVE_CALL_SID, Say(text="A supervisor is listening"))
    await api.calls.mute(LIVE_CALL_SID)
    await api.calls.unmute(LIVE_CALL_SID)
    await api.calls.hangup(LIVE_CALL_SID)

    fake_api.assert_clean()
    assert fake_api.updates[LIVE_CALL_SID] == [
        {"call_hook": {"url": "https://ivr.example.com/menu"}},
        {"whisper": {"verb": "say", "text": "A supervisor is listening"}},
        {"mute_status": "mute"},
        {"mute_status": "unmute"},
        {"call_status": "completed"},
    ]
    assert fake_api.calls[LIVE_CALL_SID]["call_status"] == "completed"


async def test_get_call(api: Api, fake_api: FakeJambonzAPI) -> None:
    call = await api.calls.get(LIVE_CALL_SID)

    fake_api.assert_clean()
    assert isinstance(call, CallRecord)
    assert (call.call_sid, call.account_sid, call.call_status) == (LIVE_CALL_SID, ACCOUNT_SID, "in-progress")
    assert (call.from_, call.to, call.direction, call.sip_status) == (
        "+15083084809",
        "+15083728299",
        "inbound",
        200,
    )
    request = _only(fake_api)
    assert (request.method, request.path, request.raw, request.query) == ("GET", LIVE_PATH, "", [])


async def test_list_calls_with_filters(api: Api, fake_api: FakeJambonzAPI) -> None:
    sid = await api.calls.create(from_="+15551230000", to=PHONE, call_hook="https://ivr.example.com/incoming")

    every = await api.calls.list()
    outbound = await api.calls.list(
        direction="outbound", from_="+15551230000", to="+15559870000", call_status="queued"
    )
    none = await api.calls.list(call_status="in-progress", direction="outbound")

    fake_api.assert_clean()
    assert {call.call_sid for call in every} == {sid, LIVE_CALL_SID}
    assert [call.call_sid for call in outbound] == [sid]
    assert none == []
    queries = [request.query for request in fake_api.requests[1:]]
    # The spec's spelling: from (not from_), callStatus (not call_status); no empty filters.
    assert queries[0] == []
    assert sorted(queries[1]) == sorted(
        [
            ("direction", "outbound"),
            ("from", "+15551230000"),
            ("to", "+15559870000"),
            ("callStatus", "queued"),
        ]
    )
    assert sorted(queries[2]) == [("callStatus", "in-progress"), ("direction", "outbound")]


async def test_delete_call(api: Api, fake_api: FakeJambonzAPI) -> None:
    sid = await api.calls.create(from_="+15551230000", to=PHONE, call_hook="https://ivr.example.com/incoming")

    assert await api.calls.delete(sid) is None
    with pytest.raises(NotFoundError):
        await api.calls.get(sid)

    fake_api.assert_clean()
    assert [(r.method, r.status) for r in fake_api.requests] == [("POST", 201), ("DELETE", 204), ("GET", 404)]
    assert fake_api.requests[1].path == f"{CALLS_PATH}/{sid}"


async def test_list_conferences(api: Api, fake_api: FakeJambonzAPI) -> None:
    assert await api.conferences.list() == ["sales-huddle", "support-bridge"]

    fake_api.assert_clean()
    assert _only(fake_api).path == f"/v1/Accounts/{ACCOUNT_SID}/Conferences"


async def test_list_queues_with_search(api: Api, fake_api: FakeJambonzAPI) -> None:
    every = await api.queues.list()
    found = await api.queues.list(search="sup")

    fake_api.assert_clean()
    assert every == [
        Queue(name="support", length=2),
        Queue(name="sales", length=0),
    ]  # the spec's "2" read as 2
    assert found == [Queue(name="support", length=2)]
    assert [r.query for r in fake_api.requests] == [[], [("search", "sup")]]
    assert {r.path for r in fake_api.requests} == {f"/v1/Accounts/{ACCOUNT_SID}/Queues"}


async def test_create_message(api: Api, fake_api: FakeJambonzAPI) -> None:
    result = await api.messages.create(
        from_="+15551230000", to="+15559870000", text="See you tomorrow ☎", provider="twilio"
    )

    fake_api.assert_clean()
    assert isinstance(result, SentMessage)
    assert uuid.UUID(result.sid)
    assert result.provider_response == "queued"
    request = _only(fake_api)
    assert (request.path, request.status) == (f"/v1/Accounts/{ACCOUNT_SID}/Messages", 201)
    assert request.body == {
        "from": "+15551230000",
        "to": "+15559870000",
        "text": "See you tomorrow ☎",
        "provider": "twilio",
    }


# --------------------------------------------------------------------------- the fake itself


def _raw(origin: str, method: str, path: str, body: Any) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx2.Client(base_url=origin, trust_env=False, timeout=5) as client:
        return client.request(method, path, json=body, headers=headers)


OUTSIDE_THE_API: list[tuple[str, str, dict[str, Any]]] = [
    ("update-empty", LIVE_PATH, {}),
    ("update-busy", LIVE_PATH, {"call_status": "busy"}),
    ("update-misspelt", LIVE_PATH, {"conference_participant_action": {"action": "mute"}}),
    ("update-webhook-method", LIVE_PATH, {"call_hook": {"url": "/x", "method": "PUT"}}),
    ("whisper-gather", LIVE_PATH, {"whisper": {"verb": "gather", "input": ["digits"]}}),
    ("whisper-say-no-text", LIVE_PATH, {"whisper": {"verb": "say"}}),
    ("record-action", LIVE_PATH, {"record": {"action": "startRecording"}}),
    ("create-no-from", CALLS_PATH, {"to": PHONE, "call_hook": {"url": "/x"}}),
    ("create-nothing-to-run", CALLS_PATH, {"from": "1", "to": PHONE}),
    (
        "create-time-limit",
        CALLS_PATH,
        {"from": "1", "to": PHONE, "call_hook": {"url": "/x"}, "time_limit": 5},
    ),
    (
        "create-sip-uri",
        CALLS_PATH,
        {"from": "1", "to": {"type": "sip", "sip_uri": "sip:a@b"}, "call_hook": {"url": "/x"}},
    ),
    ("app-json-array", CALLS_PATH, {"from": "1", "to": PHONE, "app_json": [{"verb": "hangup"}]}),
    ("app-json-empty", CALLS_PATH, {"from": "1", "to": PHONE, "app_json": "[]"}),
    ("app-json-no-verb", CALLS_PATH, {"from": "1", "to": PHONE, "app_json": '[{"text": "hi"}]'}),
    ("app-json-not-json", CALLS_PATH, {"from": "1", "to": PHONE, "app_json": "say hi"}),
    ("message-no-to", f"/v1/Accounts/{ACCOUNT_SID}/Messages", {"from": "1", "text": "hi"}),
]


@pytest.mark.parametrize(
    ("path", "body"), [case[1:] for case in OUTSIDE_THE_API], ids=[case[0] for case in OUTSIDE_THE_API]
)
def test_the_fake_refuses_bodies_outside_the_api(
    fake_api: FakeJambonzAPI, origin: str, path: str, body: dict[str, Any]
) -> None:
    # Without this, "the fake saw no failures" would prove nothing about the client's bodies.
    response = _raw(origin, "POST", path, body)

    assert response.status_code == 400
    assert response.json()["msg"]
    assert len(fake_api.failures) == 1
    with pytest.raises(AssertionError):
        fake_api.assert_clean()
    assert LIVE_CALL_SID not in fake_api.updates


def test_the_api_document_is_valid_json_schema() -> None:
    # Every schema of tests/data/rest_api.json, checked as draft 2020-12, and every operation
    # of the client present with its methods.
    Draft202012Validator.check_schema(SPEC)
    for name, operation in SPEC["operations"].items():
        for part in ("pathParameters", "query", "body"):
            if part in operation:
                Draft202012Validator.check_schema(operation[part])
        for status, answer in operation["responses"].items():
            Draft202012Validator.check_schema(answer)
            assert status.isdigit(), name
    methods = {name: operation["methods"] for name, operation in SPEC["operations"].items()}
    assert methods == {
        "createCall": ["POST"],
        "listCalls": ["GET"],
        "getCall": ["GET"],
        "deleteCall": ["DELETE"],
        "updateCall": ["POST", "PUT"],
        "listConferences": ["GET"],
        "listQueues": ["GET"],
        "createMessage": ["POST"],
    }


def test_the_fake_takes_put_for_updates_and_refuses_other_requests(
    fake_api: FakeJambonzAPI, origin: str
) -> None:
    assert _raw(origin, "PUT", LIVE_PATH, {"mute_status": "mute"}).status_code == 202
    fake_api.assert_clean()

    assert _raw(origin, "PATCH", LIVE_PATH, {"mute_status": "mute"}).status_code == 405
    assert _raw(origin, "GET", f"/Accounts/{ACCOUNT_SID}/Calls", None).status_code == 404  # no /v1
    assert _raw(origin, "GET", f"{CALLS_PATH}?callStatus=talking", None).status_code == 400
    with httpx2.Client(base_url=origin, trust_env=False) as client:
        assert client.get(CALLS_PATH).status_code == 401  # no Authorization header
        assert client.get(CALLS_PATH, headers={"Authorization": "Bearer nope"}).status_code == 401
    assert len(fake_api.failures) == 4  # the wrong key is a test's choice, not a client's mistake
    debug = httpx2.get(f"{origin}/_requests", trust_env=False).json()
    assert len(debug["requests"]) == 6
    assert debug["failures"] == fake_api.failures


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("method", "args"),
    [("get", ()), ("delete", ()), ("update", ({"mute_status": "mute"},)), ("hangup", ())],
    ids=["get", "delete", "update", "hangup"],
)
async def test_unknown_call_is_not_found(
    api: Api, fake_api: FakeJambonzAPI, method: str, args: tuple[dict[str, Any], ...]
) -> None:
    kwargs = args[0] if args else {}

    with pytest.raises(NotFoundError) as caught:
        await getattr(api.calls, method)(UNKNOWN_SID, **kwargs)

    assert caught.value.status_code == 404
    assert caught.value.message == "call not found"
    assert json.loads(caught.value.body) == {"msg": "call not found"}
    fake_api.assert_clean()
    assert len(fake_api.requests) == 1  # a 404 is an answer: not retried


async def test_refused_update_is_a_bad_request(api: Api, fake_api: FakeJambonzAPI) -> None:
    fake_api.refuse_next("invalid call_hook")

    with pytest.raises(BadRequestError) as caught:
        await api.calls.redirect(LIVE_CALL_SID, "/next")

    assert (caught.value.status_code, caught.value.message) == (400, "invalid call_hook")
    fake_api.assert_clean()
    assert LIVE_CALL_SID not in fake_api.updates


async def test_wrong_api_key_is_an_authentication_error(make_api: MakeApi, fake_api: FakeJambonzAPI) -> None:
    api = make_api(api_key="not-the-key")

    with pytest.raises(AuthenticationError) as caught:
        await api.calls.list()

    assert caught.value.status_code == 401
    assert caught.value.message == "Unauthorized"  # not JSON: the HTTP reason
    fake_api.assert_clean()
    assert _only(fake_api).authorization == "Bearer not-the-key"


async def test_other_account_is_an_authentication_error(make_api: MakeApi, fake_api: FakeJambonzAPI) -> None:
    api = make_api(account_sid="3b0c2a4e-0000-4000-8000-000000000001")

    with pytest.raises(AuthenticationError) as caught:
        await api.conferences.list()

    assert (caught.value.status_code, caught.value.message) == (403, "insufficient privileges")
    assert _only(fake_api).path == "/v1/Accounts/3b0c2a4e-0000-4000-8000-000000000001/Conferences"


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (500, ServerError),
        (502, ServerError),
        (422, UnprocessableEntityError),
        (480, APIStatusError),
        (418, APIStatusError),
    ],
)
async def test_error_statuses(
    api: Api, fake_api: FakeJambonzAPI, status: int, kind: type[APIStatusError]
) -> None:
    fake_api.fail_next(times=3, status=status, body={"msg": f"refused with {status}"})

    with pytest.raises(kind) as caught:
        await api.calls.update(LIVE_CALL_SID, listen_status="pause")

    assert type(caught.value) is kind
    assert (caught.value.status_code, caught.value.message) == (status, f"refused with {status}")
    fake_api.assert_clean()
    assert len(fake_api.requests) == 1  # an update is never sent twice


async def test_message_temporary_failure_keeps_its_message(api: Api, fake_api: FakeJambonzAPI) -> None:
    sid = str(uuid.uuid4())
    fake_api.fail_next(status=480, body={"sid": sid, "message": "smpp gateway busy", "smpp_err_code": "0x58"})

    with pytest.raises(APIStatusError) as caught:
        await api.messages.create(from_="+15551230000", to="+15559870000", text="hi")

    assert (caught.value.status_code, caught.value.message) == (480, "smpp gateway busy")
    assert json.loads(caught.value.body)["sid"] == sid
    fake_api.assert_clean()


INVALID_INPUT: list[tuple[str, str, tuple[Any, ...], dict[str, Any]]] = [
    ("update-nothing", "update", (LIVE_CALL_SID,), {}),
    ("update-busy", "update", (LIVE_CALL_SID,), {"call_status": "busy"}),
    ("update-unknown-field", "update", (LIVE_CALL_SID,), {"mute": True}),
    ("mute-status", "update", (LIVE_CALL_SID,), {"mute_status": "off"}),
    ("listen-status", "update", (LIVE_CALL_SID,), {"listen_status": "stop"}),
    ("record-action", "update", (LIVE_CALL_SID,), {"record": {"action": "startRecording"}}),
    ("whisper-not-a-verb", "whisper", (LIVE_CALL_SID, {"verb": "not-a-verb"}), {}),
    ("create-without-from", "create", (), {"to": PHONE, "call_hook": "/incoming"}),
    ("create-without-to", "create", (), {"from_": "+1555", "call_hook": "/incoming"}),
    ("create-nothing-to-run", "create", (), {"from_": "+1555", "to": PHONE}),
    (
        "create-phone-without-number",
        "create",
        (),
        {"from_": "+1555", "to": {"type": "phone"}, "call_hook": "/i"},
    ),
    (
        "create-bad-verb",
        "create",
        (),
        {"from_": "+1555", "to": PHONE, "app_json": [{"verb": "say", "txt": "x"}]},
    ),
    ("hook-method", "redirect", (LIVE_CALL_SID, {"url": "/next", "method": "PUT"}), {}),
]


@pytest.mark.parametrize(
    ("method", "args", "kwargs"),
    [case[1:] for case in INVALID_INPUT],
    ids=[case[0] for case in INVALID_INPUT],
)
async def test_invalid_input_is_refused_before_sending(
    api: Api, fake_api: FakeJambonzAPI, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValidationError):
        await getattr(api.calls, method)(*args, **kwargs)

    assert fake_api.requests == []


async def test_invalid_message_is_refused_before_sending(api: Api, fake_api: FakeJambonzAPI) -> None:
    with pytest.raises(ValidationError):
        await api.messages.create(from_="+15551230000", text="no recipient")

    assert fake_api.requests == []


# --------------------------------------------------------------------------- the network


async def test_server_not_listening_is_a_connection_error(make_api: MakeApi) -> None:
    api = make_api(base_url=f"http://127.0.0.1:{_free_closed_port()}", max_retries=1)

    started = time.monotonic()
    with pytest.raises(APIConnectionError) as caught:
        await api.calls.get(LIVE_CALL_SID)

    assert not isinstance(caught.value, APITimeoutError)
    assert isinstance(caught.value.__cause__, httpx2.ConnectError)
    assert time.monotonic() - started >= 0.2  # it waited (0.25 s) and tried again


@pytest.mark.slow
@pytest.mark.parametrize(
    ("method", "args", "kwargs"),
    [
        ("get", (LIVE_CALL_SID,), {}),
        (
            "create",
            (),
            {"from_": "+15551230000", "to": PHONE, "call_hook": "https://ivr.example.com/incoming"},
        ),
    ],
    ids=["get", "create"],
)
async def test_connection_never_made_is_tried_again(
    make_api: MakeApi, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> None:
    attempts: list[str] = []

    def refuse(request: httpx2.Request) -> httpx2.Response:
        attempts.append(f"{request.method} {request.url.path}")
        raise httpx2.ConnectError("connection refused", request=request)

    # Nothing was sent when no connection was made: even a create may go again.
    api = make_api(max_retries=2, transport=httpx2.MockTransport(refuse))
    with pytest.raises(APIConnectionError):
        await getattr(api.calls, method)(*args, **kwargs)

    assert len(attempts) == 3
    assert len(set(attempts)) == 1


async def test_broken_update_is_not_sent_again(make_api: MakeApi) -> None:
    attempts: list[httpx2.Request] = []

    def break_off(request: httpx2.Request) -> httpx2.Response:
        attempts.append(request)
        raise httpx2.ReadError("connection reset by peer", request=request)

    api = make_api(max_retries=2, transport=httpx2.MockTransport(break_off))
    with pytest.raises(APIConnectionError):
        await api.calls.hangup(LIVE_CALL_SID)

    assert len(attempts) == 1  # the server may have ended the call already


async def test_slow_answer_is_a_timeout(make_api: MakeApi, fake_api: FakeJambonzAPI) -> None:
    fake_api.delay_next(1.0)
    api = make_api(timeout=0.2, max_retries=0)

    started = time.monotonic()
    with pytest.raises(APITimeoutError) as caught:
        await api.calls.get(LIVE_CALL_SID)

    assert time.monotonic() - started < 0.9
    assert isinstance(caught.value, APIConnectionError)
    assert len(fake_api.requests) == 1


async def test_slow_update_is_a_timeout_and_not_sent_again(
    make_api: MakeApi, fake_api: FakeJambonzAPI
) -> None:
    fake_api.delay_next(1.0, times=3)
    api = make_api(timeout=0.2, max_retries=2)

    with pytest.raises(APITimeoutError):
        await api.calls.update(LIVE_CALL_SID, mute_status="mute")

    assert len(fake_api.requests) == 1


@pytest.mark.slow
async def test_get_answered_503_is_tried_again(make_api: MakeApi, fake_api: FakeJambonzAPI) -> None:
    fake_api.fail_next(times=2, status=503)
    api = make_api(max_retries=2)

    call = await api.calls.get(LIVE_CALL_SID)

    assert call.call_sid == LIVE_CALL_SID
    fake_api.assert_clean()
    assert [r.status for r in fake_api.requests] == [503, 503, 200]


async def test_get_answered_503_too_often_is_a_server_error(
    make_api: MakeApi, fake_api: FakeJambonzAPI
) -> None:
    fake_api.fail_next(times=5, status=503)
    api = make_api(max_retries=1)

    with pytest.raises(ServerError) as caught:
        await api.conferences.list()

    assert (caught.value.status_code, caught.value.message) == (503, "service unavailable")
    assert len(fake_api.requests) == 2


async def test_create_answered_503_is_not_sent_again(make_api: MakeApi, fake_api: FakeJambonzAPI) -> None:
    fake_api.fail_next(times=1, status=503)
    api = make_api(max_retries=2)

    with pytest.raises(ServerError) as caught:
        await api.calls.create(from_="+15551230000", to=PHONE, call_hook="https://ivr.example.com/incoming")

    assert caught.value.status_code == 503
    fake_api.assert_clean()
    assert len(fake_api.requests) == 1
    assert list(fake_api.calls) == [LIVE_CALL_SID]  # and no second try created a call


async def test_dropped_connection(make_api: MakeApi, fake_api: FakeJambonzAPI) -> None:
    api = make_api(max_retries=2)

    fake_api.drop_next()
    assert [c.call_sid for c in await api.calls.list()] == [LIVE_CALL_SID]  # a read: tried again
    assert [r.status for r in fake_api.requests] == [-1, 200]

    fake_api.reset()
    fake_api.drop_next()
    with pytest.raises(APIConnectionError) as caught:
        await api.calls.create(from_="+15551230000", to=PHONE, call_hook="https://ivr.example.com/incoming")
    assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)
    assert len(fake_api.requests) == 1  # a create whose answer was lost is not sent again
    fake_api.assert_clean()


# --------------------------------------------------------------------------- configuration


async def test_settings_from_the_environment(
    make_api: MakeApi, fake_api: FakeJambonzAPI, origin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAMBONZ_API_BASE_URL", origin)
    monkeypatch.setenv("JAMBONZ_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("JAMBONZ_API_KEY", API_KEY)

    api = make_api(base_url=None, account_sid=None, api_key=None)
    assert await api.conferences.list() == ["sales-huddle", "support-bridge"]

    fake_api.assert_clean()
    assert _only(fake_api).authorization == f"Bearer {API_KEY}"
    assert api.client.base_url == f"{origin}/v1"
    assert api.client.account_sid == ACCOUNT_SID


async def test_arguments_override_the_environment(
    make_api: MakeApi, fake_api: FakeJambonzAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAMBONZ_API_BASE_URL", f"http://127.0.0.1:{_free_closed_port()}")
    monkeypatch.setenv("JAMBONZ_ACCOUNT_SID", "3b0c2a4e-0000-4000-8000-000000000001")
    monkeypatch.setenv("JAMBONZ_API_KEY", "wrong-key")

    api = make_api()  # the fake's settings, as arguments
    await api.calls.get(LIVE_CALL_SID)

    fake_api.assert_clean()
    request = _only(fake_api)
    assert (request.path, request.authorization) == (LIVE_PATH, f"Bearer {API_KEY}")


@pytest.mark.parametrize(
    "present",
    [
        (),
        ("JAMBONZ_API_BASE_URL",),
        ("JAMBONZ_ACCOUNT_SID", "JAMBONZ_API_KEY"),
        ("JAMBONZ_API_BASE_URL", "JAMBONZ_API_KEY"),
    ],
    ids=["none", "base-url", "account-and-key", "base-url-and-key"],
)
def test_missing_settings_are_named(
    flavour: str, present: tuple[str, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in present:
        monkeypatch.setenv(name, "http://127.0.0.1:9" if name == "JAMBONZ_API_BASE_URL" else "x")
    kind = JambonzClient if flavour == "sync" else AsyncJambonzClient

    with pytest.raises(ValueError) as caught:
        kind()

    for name in ENV_NAMES:
        assert (name in str(caught.value)) is (name not in present), (name, str(caught.value))


@pytest.mark.parametrize("suffix", ["", "/", "/v1", "/v1/"], ids=["bare", "slash", "v1", "v1-slash"])
async def test_base_url_forms(make_api: MakeApi, fake_api: FakeJambonzAPI, origin: str, suffix: str) -> None:
    api = make_api(base_url=origin + suffix)

    await api.calls.get(LIVE_CALL_SID)
    await api.queues.list()

    fake_api.assert_clean()
    assert [r.path for r in fake_api.requests] == [LIVE_PATH, f"/v1/Accounts/{ACCOUNT_SID}/Queues"]


async def test_context_manager_closes_the_client(make_api: MakeApi, fake_api: FakeJambonzAPI) -> None:
    api = make_api()
    async with api as entered:
        assert entered is api
        await api.calls.get(LIVE_CALL_SID)

    with pytest.raises(RuntimeError, match="closed"):
        await api.calls.get(LIVE_CALL_SID)
    assert len(fake_api.requests) == 1


async def test_one_connection_for_many_requests(api: Api, fake_api: FakeJambonzAPI) -> None:
    await api.calls.get(LIVE_CALL_SID)
    await api.calls.mute(LIVE_CALL_SID)
    await api.calls.list(direction="inbound")
    await api.conferences.list()
    await api.queues.list()

    fake_api.assert_clean()
    ports = [r.client_port for r in fake_api.requests]
    assert len(ports) == 5
    assert len(set(ports)) == 1, ports


# --------------------------------------------------------------------------- from inside a hook


def _ivr(seen: list[Any], **options: Any) -> JambonzApp:
    """An app whose call hook changes the call through ``call.client`` before answering."""
    app = JambonzApp(state=MemoryStore(), **options)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        control = call.client
        seen.append(control)
        await control.redirect("/next")
        await control.whisper(Say(text="Hello from the hook"))
        await control.redirect(next_step)
        await control.redirect({"url": "https://ivr.example.com/abs", "method": "GET"})
        return WebhookResponse().say(text="Connecting you")

    @app.action_hook("/next")
    async def next_step(call: CallSession) -> WebhookResponse:
        return WebhookResponse().hangup()

    return app


def _payload(origin: str) -> dict[str, Any]:
    return session_new(api_base_url=f"{origin}/v1", account_sid=ACCOUNT_SID, call_sid=LIVE_CALL_SID)


def test_call_client_inside_a_hook(
    fake_api: FakeJambonzAPI, origin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAMBONZ_API_KEY", API_KEY)
    seen: list[Any] = []

    # Signed: the payload's api_base_url is trusted because jambonz wrote it.
    body = json.dumps(_payload(origin)).encode()
    with TestClient(_ivr(seen, webhook_secret=SECRET)) as client:
        answer = client.post("/incoming", content=body, headers=signed_headers(body, SECRET))

    assert answer.status_code == 200
    assert answer.json() == [{"verb": "say", "text": "Connecting you"}]
    fake_api.assert_clean()
    assert fake_api.updates[LIVE_CALL_SID] == [
        {"call_hook": {"url": "/next"}},
        {"whisper": {"verb": "say", "text": "Hello from the hook"}},
        {"call_hook": {"url": "/next"}},  # the handler, written as its path
        {"call_hook": {"url": "https://ivr.example.com/abs", "method": "get"}},
    ]
    assert {(r.method, r.path, r.authorization) for r in fake_api.requests} == {
        ("POST", LIVE_PATH, f"Bearer {API_KEY}")
    }
    (control,) = seen
    assert isinstance(control, CallControl)
    assert control.call_sid == LIVE_CALL_SID
    assert control.client.account_sid == ACCOUNT_SID
    assert control.client.base_url == f"{origin}/v1"


def test_call_client_without_an_api_key(fake_api: FakeJambonzAPI, origin: str) -> None:
    errors: list[str] = []
    app = JambonzApp(insecure=True, state=MemoryStore(), api_base_url=origin)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        try:
            call.client  # noqa: B018 - the property builds the client
        except ValueError as exc:
            errors.append(str(exc))
        return WebhookResponse().hangup()

    with TestClient(app) as client:
        assert client.post("/incoming", json=_payload(origin)).status_code == 200

    (error,) = errors
    assert "JAMBONZ_API_KEY" in error
    assert "JAMBONZ_API_BASE_URL" not in error  # the app gave the API's address
    assert fake_api.requests == []


def _mounted(origin: str, monkeypatch: pytest.MonkeyPatch, hook: str) -> dict[str, Any]:
    """Serve the app under /voice, whose call hook redirects to ``hook`` ("handler" or a path).

    Returns the redirect verb the same handler answers with, for comparison.
    """
    monkeypatch.setenv("JAMBONZ_API_KEY", API_KEY)
    app = JambonzApp(insecure=True, state=MemoryStore(), api_base_url=origin)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        await call.client.redirect(next_step if hook == "handler" else hook)
        return WebhookResponse().redirect(action_hook=hook if hook != "handler" else next_step)

    @app.action_hook("/next")
    async def next_step(call: CallSession) -> WebhookResponse:
        return WebhookResponse().hangup()

    with TestClient(Starlette(routes=[Mount("/voice", app)])) as client:
        answer = client.post("/voice/incoming", json=_payload(origin))
    assert answer.status_code == 200
    verbs: list[dict[str, Any]] = answer.json()
    return verbs[0]


def test_mounted_app_redirects_to_a_handler_with_its_prefix(
    fake_api: FakeJambonzAPI, origin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _mounted(origin, monkeypatch, "handler")

    fake_api.assert_clean()
    assert fake_api.updates[LIVE_CALL_SID] == [{"call_hook": {"url": "/voice/next"}}]
    assert written == {"verb": "redirect", "actionHook": "/voice/next"}


# Found by this suite: a path was sent without the mount prefix that verbs are written with.
def test_mounted_app_redirects_to_a_path_with_its_prefix(
    fake_api: FakeJambonzAPI, origin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _mounted(origin, monkeypatch, "/next")

    fake_api.assert_clean()
    # The verb answered by the same handler is written with the prefix: the update should be too.
    assert written == {"verb": "redirect", "actionHook": "/voice/next"}
    assert fake_api.updates[LIVE_CALL_SID] == [{"call_hook": {"url": "/voice/next"}}]


def test_app_json_as_json_text_is_a_validation_error() -> None:
    # Verbs are given as a WebhookResponse or a list, which our models check; JSON text would not be.
    with pytest.raises(ValidationError, match="not JSON text"):
        CreateCall.model_validate({"from": "+1", "to": {"type": "phone", "number": "+2"}, "app_json": "[]"})


# --------------------------------------------------------------------------- hooks in a body


async def _menu() -> None:
    """A handler of an app, named as a hook."""


def _sent(body: CreateCall | UpdateCall, context: HookContext | None) -> dict[str, Any]:
    """The body as the client encodes it to send it, while a request with ``context`` is answered."""
    token = current_context.set(context)
    try:
        data: dict[str, Any] = json.loads(
            body.__pydantic_serializer__.to_json(body, by_alias=True, exclude_none=True)
        )
    finally:
        current_context.reset(token)
    return data


def test_hooks_and_verbs_of_a_body_are_written_when_it_is_sent() -> None:
    body = CreateCall.model_validate(
        {
            "from": "+15551230000",
            "to": PHONE,
            "call_hook": "https://ivr.example.com/incoming",  # a new call's: a URL
            "refer_hook": {"url": "/status", "method": "GET"},
            "app_json": WebhookResponse()
            .gather(action_hook=_menu)
            .redirect(action_hook="https://x.example/y"),
        }
    )
    mounted = HookContext("/voice", {_menu: "/menu"})
    assert _sent(body, mounted) == {
        "from": "+15551230000",
        "to": PHONE,
        "call_hook": {"url": "https://ivr.example.com/incoming"},
        "referHook": {"url": "/voice/status", "method": "get"},
        "app_json": '[{"verb":"gather","actionHook":"/voice/menu"},'
        '{"verb":"redirect","actionHook":"https://x.example/y"}]',
    }
    # A live call's hooks may be paths or handlers: resolved against the call's own hook.
    update = UpdateCall.model_validate(
        {"call_hook": _menu, "child_call_hook": {"url": "/s", "method": "GET"}}
    )
    assert _sent(update, mounted) == {
        "call_hook": {"url": "/voice/menu"},
        "child_call_hook": {"url": "/voice/s", "method": "get"},
    }
    # The same body, sent while an app at the root answers.
    assert _sent(update, HookContext("", {_menu: "/m"}))["call_hook"] == {"url": "/m"}
    whisper = UpdateCall(whisper=Play(url="https://cdn.example.com/a.wav", action_hook="/played"))
    assert _sent(whisper, mounted) == {
        "whisper": {"verb": "play", "url": "https://cdn.example.com/a.wav", "actionHook": "/voice/played"}
    }


def test_a_handler_outside_a_request_fails_when_the_body_is_sent() -> None:
    body = UpdateCall.model_validate({"call_hook": _menu})  # a handler is a hook: valid until written
    with pytest.raises(PydanticSerializationError, match="_menu is used as a hook but no route"):
        _sent(body, None)
    with pytest.raises(UnroutedHandlerError, match="_menu"):
        reraise_unrouted()  # how the client can raise it as itself
    with pytest.raises(ValidationError):
        UpdateCall.model_validate({"call_hook": 12})


def test_a_hook_object_is_written_as_the_apis_hook() -> None:
    # The verbs' HookObject: its retry policy in the URL's fragment (jambonz's HttpRequestor reads
    # it from the call hook's URL as from any hook's), its method in the spec's lower case.
    body = UpdateCall(
        call_hook=hook(_menu, retries=2, method="POST"),
        child_call_hook=HookObject(url="https://ivr.example.com/child", username="u", password="p"),
    )
    assert _sent(body, HookContext("/voice", {_menu: "/menu"})) == {
        "call_hook": {"url": "/voice/menu#rc=2&rp=ct", "method": "post"},
        "child_call_hook": {"url": "https://ivr.example.com/child", "username": "u", "password": "p"},
    }
    # The app's default policy on a path, as on its verbs' hooks.
    assert _sent(UpdateCall(call_hook="/next"), HookContext(retry=RetryPolicy(1)))["call_hook"] == {
        "url": "/next#rc=1&rp=ct"
    }


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"url": "https://x.example/a", "basic_auth": {"username": "u", "password": "p"}}, "not basic_auth"),
        (HookObject, "a URL, a path or a handler"),
        ({"url": HookObject}, "a URL, a path or a handler"),
        ({"url": "https://x.example/a", "username": "u"}, "username and password go together"),
        (12, "a hook must be"),
    ],
)
def test_a_hook_the_api_cannot_take_is_refused(value: Any, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        UpdateCall.model_validate({"call_hook": value})


# --------------------------------------------------------------------------- where the key may go


def _access(**options: Any) -> ApiAccess:
    return ApiAccess(environ={}, **options)


def _call(api_base_url: str | None, account_sid: str | None = ACCOUNT_SID) -> CallInfo:
    return CallInfo.model_validate(
        session_new(api_base_url=api_base_url, account_sid=account_sid, call_sid=LIVE_CALL_SID)
    )


def test_the_configured_address_is_used_whatever_the_payload_says() -> None:
    access = _access(base_url="https://api.example.com", trust_payloads=True)
    assert access.address_for(_call("https://evil.example/v1")) == "https://api.example.com/v1"


def test_a_payload_address_is_refused_unless_every_request_is_signed() -> None:
    with pytest.raises(UntrustedAddressError, match="JAMBONZ_API_BASE_URL"):
        _access(trust_payloads=False).address_for(_call("https://api.example.com/v1"))
    assert _access(trust_payloads=True).address_for(_call("https://api.example.com")) == (
        "https://api.example.com/v1"
    )


def test_an_app_trusts_payload_addresses_only_when_it_verifies_every_request() -> None:
    def trusts(**options: Any) -> bool:
        return JambonzApp(**options).hook_settings.api.trust_payloads

    assert trusts(webhook_secret=SECRET)
    assert not trusts(webhook_secret=SECRET, allow_unsigned_get=True)  # a GET is not verified
    assert not trusts(webhook_secret=[], basic_auth=("jambonz", "pw"))  # credentials sign no body
    assert not trusts(webhook_secret=[], insecure=True)


@pytest.mark.parametrize(
    "url",
    ["http://192.0.2.10:3000/v1", "http://api.example.com/v1", "ftp://api.example.com", "https:///v1", "/v1"],
)
def test_clear_text_or_odd_addresses_are_refused(url: str) -> None:
    with pytest.raises(UntrustedAddressError):
        _access(trust_payloads=True).address_for(_call(url))
    with pytest.raises(UntrustedAddressError):
        _access(base_url=url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:3000", "http://localhost:3000", "http://[::1]:3000"])
def test_clear_text_to_this_machine_is_allowed(url: str) -> None:
    assert _access(trust_payloads=True).address_for(_call(url)) == f"{url}/v1"


def test_the_operator_may_allow_clear_text() -> None:
    access = ApiAccess(base_url="http://10.0.0.5:3000", environ={"JAMBONZ_API_ALLOW_HTTP": "1"})
    assert access.base_url == "http://10.0.0.5:3000/v1"


async def test_one_client_for_every_account_with_a_bounded_set_of_views() -> None:
    access = ApiAccess(base_url="https://api.example.com", environ={"JAMBONZ_API_KEY": API_KEY})
    first = access.client(_call(None))
    views = [access.client(_call(None, account_sid=str(uuid.uuid4()))) for _ in range(500)]
    assert {view._http for view in views} == {first._http}  # one connection pool
    assert views[-1].account_sid != ACCOUNT_SID
    assert views[-1].calls._account == f"Accounts/{views[-1].account_sid}"
    assert len(first._views) == 64
    await views[0].aclose()  # a view closes nothing
    assert not first._http.is_closed
    await access.aclose()
    assert first._http.is_closed


def test_the_app_closes_its_client_when_it_shuts_down(
    fake_api: FakeJambonzAPI, origin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAMBONZ_API_KEY", API_KEY)
    seen: list[Any] = []
    with TestClient(_ivr(seen, insecure=True, api_base_url=origin)) as client:
        assert client.post("/incoming", json=_payload(origin)).status_code == 200
    (control,) = seen
    assert control.client._http.is_closed


def test_call_client_outside_a_hook_says_where_it_works() -> None:
    with pytest.raises(RuntimeError, match="inside a hook"):
        _call("https://api.example.com").client  # noqa: B018 - the property builds the client
