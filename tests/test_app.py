"""JambonzApp served in process with Starlette's TestClient."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from jambonz_webhooks import (
    CallSession,
    CallState,
    CallStatus,
    DialResult,
    GatherResult,
    HookRouter,
    JambonzApp,
    WebhookResponse,
)
from jambonz_webhooks.app import DEFAULT_FALLBACK
from jambonz_webhooks.verbs import Say

from . import payloads

CALL_SID = payloads.call_info()["call_sid"]
FALLBACK_JSON = [
    {"verb": "say", "text": "We are sorry, something went wrong. Please call again later."},
    {"verb": "hangup"},
]
LOGGER = "jambonz_webhooks"


def post(client: TestClient, path: str, payload: Any) -> Any:
    return client.post(path, content=json.dumps(payload), headers={"content-type": "application/json"})


def error_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER and r.levelno >= logging.ERROR]


@pytest.fixture
def app() -> JambonzApp:
    """An app with one hook of each kind, and a few that misbehave."""
    app = JambonzApp(insecure=True)
    seen: list[Any] = []
    app.state.seen = seen

    @app.action_hook("/menu")
    async def menu(result: GatherResult) -> WebhookResponse:
        seen.append(result)
        if result.digits == "1":
            return WebhookResponse().say(text="Sales").dial(target=[{"type": "phone", "number": "+15550001"}])
        return WebhookResponse().redirect(action_hook=incoming)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        seen.append(call)
        return (
            WebhookResponse()
            .say(text=f"Hello {call.caller_name}")
            .gather(input=["digits"], num_digits=1, action_hook=menu, say={"text": "Press 1 for sales"})
        )

    @app.status_hook("/status")
    async def status(event: CallStatus) -> WebhookResponse:
        seen.append(event)
        return WebhookResponse().say(text="ignored")  # a status hook's answer is never sent

    @app.call_hook("/boom")
    async def boom(call: CallSession) -> WebhookResponse:
        raise RuntimeError("secret-detail: database password is hunter2")

    @app.action_hook("/boom-action")
    async def boom_action(result: GatherResult) -> WebhookResponse:
        raise KeyError("secret-detail")

    @app.status_hook("/boom-status")
    async def boom_status(event: CallStatus) -> None:
        raise RuntimeError("secret-detail")

    return app


@pytest.fixture
def client(app: JambonzApp) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


# --- the happy path ------------------------------------------------------------------------------


def test_call_hook_answers_verbs(app: JambonzApp, client: TestClient) -> None:
    r = post(client, "/incoming", payloads.session_new())
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.content == (
        b'[{"verb":"say","text":"Hello Alice Example"},'
        b'{"verb":"gather","actionHook":"/menu","input":["digits"],"numDigits":1,'
        b'"say":{"text":"Press 1 for sales"}}]'
    )
    (call,) = app.state.seen
    assert isinstance(call, CallSession)
    assert call.call_sid == CALL_SID
    assert call.customer_data == {"crmId": "CRM-123", "nested": {"tier": "gold"}}


def test_action_hook_answers_verbs(client: TestClient) -> None:
    r = post(client, "/menu", payloads.call_info(reason="dtmfDetected", digits="1"))
    assert r.status_code == 200
    assert r.json() == [
        {"verb": "say", "text": "Sales"},
        {"verb": "dial", "target": [{"type": "phone", "number": "+15550001"}]},
    ]
    r = post(client, "/menu", payloads.call_info(reason="timeout"))
    assert r.json() == [{"verb": "redirect", "actionHook": "/incoming"}]


def test_status_hook_answers_204_without_content_type(app: JambonzApp, client: TestClient) -> None:
    r = post(client, "/status", payloads.call_info(call_status="completed", duration=42))
    assert r.status_code == 204
    assert r.content == b""
    assert "content-type" not in r.headers
    (event,) = app.state.seen
    assert isinstance(event, CallStatus)
    assert event.duration == 42
    assert event.call_status == "completed"


# --- handlers that answer nothing, the wrong thing, or raise ----------------------------------------


@pytest.mark.parametrize(
    "answer", [None, WebhookResponse(), []], ids=["None", "empty-Response", "empty-list"]
)
def test_call_hook_answering_no_verbs_gets_fallback(answer: Any, caplog: pytest.LogCaptureFixture) -> None:
    app = JambonzApp(insecure=True)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> Any:
        return answer

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        r = post(TestClient(app), "/incoming", payloads.session_new())
    assert r.status_code == 200
    assert r.json() == FALLBACK_JSON
    (record,) = error_records(caplog)
    assert CALL_SID in record.getMessage()
    assert "/incoming" in record.getMessage()


@pytest.mark.parametrize(
    "answer", [None, WebhookResponse(), []], ids=["None", "empty-Response", "empty-list"]
)
def test_action_hook_answering_no_verbs_gets_empty_array(
    answer: Any, caplog: pytest.LogCaptureFixture
) -> None:
    app = JambonzApp(insecure=True)

    @app.action_hook("/done")
    async def done(result: DialResult) -> Any:
        return answer

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        r = post(TestClient(app), "/done", payloads.call_info(dial_call_status="completed"))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.content == b"[]"
    assert error_records(caplog) == []


@pytest.mark.parametrize(("path", "kind"), [("/boom", "call"), ("/boom-action", "action")])
def test_raising_handler_gets_default_fallback_and_a_log(
    client: TestClient, caplog: pytest.LogCaptureFixture, path: str, kind: str
) -> None:
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        r = post(client, path, payloads.session_new())
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == FALLBACK_JSON
    assert r.content == DEFAULT_FALLBACK.to_json()
    assert b"secret-detail" not in r.content
    (record,) = error_records(caplog)
    message = record.getMessage()
    assert CALL_SID in message
    assert path in message
    assert kind in message
    assert record.exc_info is not None  # the traceback goes to the log
    assert getattr(record, "call_sid", None) == CALL_SID
    assert getattr(record, "hook_path", None) == path


def test_fallback_none_answers_plain_500(caplog: pytest.LogCaptureFixture) -> None:
    app = JambonzApp(fallback=None, insecure=True)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        raise RuntimeError("secret-detail")

    @app.action_hook("/menu")
    def menu(result: GatherResult) -> WebhookResponse:
        raise ValueError("secret-detail")

    client = TestClient(app)
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        for path in ("/incoming", "/menu"):
            r = post(client, path, payloads.session_new())
            assert r.status_code == 500
            assert r.headers["content-type"] == "application/json"
            body = r.json()
            assert set(body) == {"error"}
            assert len(r.content) < 200
            assert b"Traceback" not in r.content
            assert b"secret-detail" not in r.content
    assert len(error_records(caplog)) == 2
    assert app.fallback is None


def test_custom_fallback_response() -> None:
    app = JambonzApp(fallback=WebhookResponse().say(text="x").hangup(), insecure=True)

    @app.action_hook("/menu")
    async def menu(result: GatherResult) -> WebhookResponse:
        raise RuntimeError("boom")

    r = post(TestClient(app), "/menu", payloads.call_info())
    assert r.status_code == 200
    assert r.content == b'[{"verb":"say","text":"x"},{"verb":"hangup"}]'


def test_custom_fallback_list_of_dicts() -> None:
    app = JambonzApp(
        fallback=[{"verb": "say", "text": "Sorry"}, {"redirect": {"actionHook": "/retry"}}], insecure=True
    )

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        raise RuntimeError("boom")

    r = post(TestClient(app), "/incoming", payloads.session_new())
    assert r.status_code == 200
    assert r.json() == [{"verb": "say", "text": "Sorry"}, {"verb": "redirect", "actionHook": "/retry"}]
    assert isinstance(app.fallback, WebhookResponse)


def test_a_bad_fallback_fails_at_construction() -> None:
    with pytest.raises(ValueError):  # pydantic's ValidationError is a ValueError
        JambonzApp(fallback=[{"verb": "say", "txt": "typo"}], insecure=True)


def test_raising_status_hook_is_answered_204_and_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    # jambonz ignores a status hook's answer: it is sent at once, before the handler runs, and
    # a handler that raises is logged with the call_sid.
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        r = post(client, "/boom-status", payloads.call_info(call_status="completed"))
    assert r.status_code == 204
    assert r.content == b""
    (record,) = error_records(caplog)
    assert CALL_SID in record.getMessage()
    assert "/boom-status" in record.getMessage()


@pytest.mark.parametrize(
    "answer",
    ["say hello", 42, b'[{"verb":"hangup"}]', {"text": "no verb key"}, [Say(text="a"), 42]],
    ids=["str", "int", "bytes", "dict-without-verb", "list-with-int"],
)
@pytest.mark.parametrize("kind", ["call", "action"])
def test_wrong_return_type_gets_fallback(answer: Any, kind: str, caplog: pytest.LogCaptureFixture) -> None:
    app = JambonzApp(insecure=True)

    async def handler(call: CallSession) -> Any:
        return answer

    (app.call_hook if kind == "call" else app.action_hook)("/hook")(handler)
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        r = post(TestClient(app), "/hook", payloads.session_new())
    assert r.status_code == 200
    assert r.json() == FALLBACK_JSON
    (record,) = error_records(caplog)
    assert CALL_SID in record.getMessage()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (WebhookResponse().say(text="a").hangup(), [{"verb": "say", "text": "a"}, {"verb": "hangup"}]),
        ([Say(text="a"), {"verb": "hangup"}], [{"verb": "say", "text": "a"}, {"verb": "hangup"}]),
        ((Say(text="a"),), [{"verb": "say", "text": "a"}]),
        (Say(text="a"), [{"verb": "say", "text": "a"}]),
        ({"verb": "say", "text": "a"}, [{"verb": "say", "text": "a"}]),
        ({"say": {"text": "a"}}, [{"verb": "say", "text": "a"}]),
        ([{"say": {"text": "a"}}, {"hangup": {}}], [{"verb": "say", "text": "a"}, {"verb": "hangup"}]),
        (
            {"verb": "listen", "url": "wss://audio.example/s", "mixType": "stereo"},
            [{"verb": "listen", "url": "wss://audio.example/s", "mixType": "stereo"}],
        ),
        (None, []),
    ],
)
def test_handler_return_shapes(answer: Any, expected: list[dict[str, Any]]) -> None:
    app = JambonzApp(insecure=True)

    @app.action_hook("/hook")
    async def hook(result: GatherResult) -> Any:
        return answer

    r = post(TestClient(app), "/hook", payloads.call_info())
    assert r.status_code == 200
    assert r.json() == expected


# --- hook references written by the app ------------------------------------------------------------


def test_hook_references_written_by_the_app() -> None:
    app = JambonzApp(insecure=True)

    @app.action_hook("/menu")
    async def menu(result: GatherResult) -> None:
        return None

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return (
            WebhookResponse()
            .gather(action_hook="/menu")
            .gather(action_hook="https://x/y")
            .gather(action_hook={"url": "/menu", "method": "GET", "username": "u", "password": "p"})
            .gather(action_hook=menu)
            .redirect(action_hook={"url": menu, "method": "get"})
        )

    r = post(TestClient(app), "/incoming", payloads.session_new())
    assert r.json() == [
        {"verb": "gather", "actionHook": "/menu"},
        {"verb": "gather", "actionHook": "https://x/y"},
        {"verb": "gather", "actionHook": {"url": "/menu", "method": "GET", "username": "u", "password": "p"}},
        {"verb": "gather", "actionHook": "/menu"},
        {"verb": "redirect", "actionHook": {"url": "/menu", "method": "GET"}},
    ]


@pytest.mark.parametrize("kind", ["call", "action"])
def test_unregistered_handler_reference_fails_the_hook(kind: str, caplog: pytest.LogCaptureFixture) -> None:
    app = JambonzApp(insecure=True)

    async def nowhere(result: GatherResult) -> None:
        return None

    async def handler(call: CallSession) -> WebhookResponse:
        return WebhookResponse().gather(action_hook=nowhere)

    (app.call_hook if kind == "call" else app.action_hook)("/hook")(handler)
    with caplog.at_level(logging.ERROR, logger=LOGGER):
        r = post(TestClient(app), "/hook", payloads.session_new())
    assert r.status_code == 200
    assert r.json() == FALLBACK_JSON
    (record,) = error_records(caplog)
    assert CALL_SID in record.getMessage()
    assert "nowhere" in record.getMessage()


def test_handler_registered_at_two_paths_is_referred_to_by_the_first() -> None:
    app = JambonzApp(insecure=True)

    async def menu(result: GatherResult) -> None:
        return None

    app.action_hook("/menu")(menu)
    app.action_hook("/menu-again")(menu)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().gather(action_hook=menu)

    client = TestClient(app)
    assert post(client, "/incoming", payloads.session_new()).json() == [
        {"verb": "gather", "actionHook": "/menu"}
    ]
    assert post(client, "/menu-again", payloads.call_info()).content == b"[]"
    assert app.hook_path(menu) == "/menu"


# --- requests the app refuses ------------------------------------------------------------------------


def test_404_is_json(client: TestClient) -> None:
    for method in ("GET", "POST"):
        r = client.request(method, "/nope", content=json.dumps(payloads.call_info()))
        assert r.status_code == 404
        assert r.headers["content-type"] == "application/json"
        assert r.json() == {"error": "not found"}


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize("path", ["/incoming", "/menu", "/status"])
def test_405_is_json_with_allow(client: TestClient, method: str, path: str) -> None:
    r = client.request(method, path, content=json.dumps(payloads.session_new()))
    assert r.status_code == 405
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"error": "method not allowed"}
    allowed = {m.strip() for m in r.headers["allow"].split(",")}
    # OPTIONS: the portal's env-var discovery request, which goes to the call hook only.
    assert allowed == ({"GET", "POST", "OPTIONS"} if path == "/incoming" else {"GET", "POST"})


def _bad_body_app() -> JambonzApp:
    """Hooks whose handlers ask for different things: the body is decoded along different paths."""
    app = JambonzApp(insecure=True)
    called: list[str] = []
    app.state.called = called

    @app.call_hook("/session")
    async def session(call: CallSession) -> WebhookResponse:
        called.append("session")
        return WebhookResponse().hangup()

    @app.action_hook("/nothing")
    async def nothing() -> WebhookResponse:
        called.append("nothing")
        return WebhookResponse().hangup()

    @app.action_hook("/raw")
    async def raw(payload: dict[str, Any]) -> WebhookResponse:
        called.append("raw")
        return WebhookResponse().hangup()

    @app.action_hook("/two")
    async def two(call: CallSession, result: GatherResult) -> WebhookResponse:
        called.append("two")
        return WebhookResponse().hangup()

    @app.status_hook("/status")
    async def status(event: CallStatus) -> None:
        called.append("status")

    return app


BAD_BODY_PATHS = ["/session", "/nothing", "/raw", "/two", "/status"]


@pytest.mark.parametrize("path", BAD_BODY_PATHS)
@pytest.mark.parametrize(
    "body",
    [b"not json", b'{"call_sid": ', b"{'call_sid': 'x'}", b"\xff\xfe\xfd", b'{"call_sid": "\xff\xfe"}'],
    ids=["text", "truncated", "single-quotes", "invalid-utf8", "invalid-utf8-in-string"],
)
def test_body_not_json_is_400(path: str, body: bytes) -> None:
    app = _bad_body_app()
    r = TestClient(app).post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"error": "the body is not valid JSON"}
    assert app.state.called == []


@pytest.mark.parametrize("path", BAD_BODY_PATHS)
@pytest.mark.parametrize("body", [b"[]", b'[{"call_sid": "x"}]', b'"call_sid"', b"42", b"null", b"true"])
def test_body_not_an_object_is_422(path: str, body: bytes) -> None:
    app = _bad_body_app()
    r = TestClient(app).post(path, content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"error": "the payload must be a JSON object"}
    assert app.state.called == []


@pytest.mark.parametrize("path", ["/session", "/two", "/status"])
def test_missing_call_sid_is_422_naming_it(path: str) -> None:
    app = _bad_body_app()
    payload = payloads.session_new()
    del payload["call_sid"]
    r = post(TestClient(app), path, payload)
    assert r.status_code == 422
    body = r.json()
    assert "call_sid" in body["error"]
    assert {"field": "call_sid", "message": "Field required"} in body["fields"]
    assert app.state.called == []


@pytest.mark.parametrize(
    "payload",
    [
        # fs sip_refer.js _handleNotify: a sip:refer eventHook gets these two keys, nothing else.
        {"event": "transfer-status", "call_status": 180},
        # An llm verb's eventHook over HTTP: the vendor's event as it came.
        {"type": "response.done", "response": {"status": "completed"}},
    ],
    ids=["sip-refer-event", "llm-event"],
)
@pytest.mark.parametrize("path", ["/nothing", "/raw"])
def test_an_action_hook_needing_nothing_of_the_call_serves_a_payload_without_one(
    path: str, payload: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    app = _bad_body_app()
    r = post(TestClient(app), path, payload)
    assert r.status_code == 200 and r.json() == [{"verb": "hangup"}]
    assert app.state.called == [path.strip("/")]


def test_an_action_hook_keeping_state_still_needs_the_call() -> None:
    app = JambonzApp(insecure=True)

    @app.action_hook("/stateful")
    async def stateful(state: CallState) -> WebhookResponse:
        return WebhookResponse().hangup()

    r = post(TestClient(app), "/stateful", {"event": "transfer-status", "call_status": 180})
    assert r.status_code == 422
    assert {"field": "call_sid", "message": "Field required"} in r.json()["fields"]


@pytest.mark.parametrize("path", BAD_BODY_PATHS)
def test_good_body_reaches_every_handler(path: str) -> None:
    app = _bad_body_app()
    r = post(TestClient(app), path, payloads.session_new())
    assert r.status_code == (204 if path == "/status" else 200)
    assert app.state.called == [path.strip("/")]


def test_body_in_several_chunks(client: TestClient) -> None:
    body = json.dumps(payloads.call_info(digits="1")).encode()
    r = client.post(
        "/menu", content=iter([body[:7], body[7:40], body[40:]]), headers={"content-type": "application/json"}
    )
    assert r.status_code == 200
    assert r.json()[0] == {"verb": "say", "text": "Sales"}


def test_server_keeps_answering_after_errors(client: TestClient) -> None:
    bad = [
        client.post("/incoming", content=b"not json", headers={"content-type": "application/json"}),
        client.post("/incoming", content=b"\xff", headers={"content-type": "application/json"}),
        client.post("/incoming", content=b"[1, 2]", headers={"content-type": "application/json"}),
        client.post("/incoming", content=b"{}", headers={"content-type": "application/json"}),
        post(client, "/boom", payloads.session_new()),
        post(client, "/boom-status", payloads.call_info()),
        client.put("/incoming"),
        client.get("/missing"),
    ]
    assert [r.status_code for r in bad] == [400, 400, 422, 422, 200, 204, 405, 404]
    for _ in range(3):
        r = post(client, "/incoming", payloads.session_new())
        assert r.status_code == 200
        assert r.json()[0] == {"verb": "say", "text": "Hello Alice Example"}


def _error_cases() -> list[tuple[str, str, bytes]]:
    return [
        ("GET", "/missing", b""),
        ("POST", "/missing", b"{}"),
        ("PUT", "/incoming", b"{}"),
        ("DELETE", "/status", b""),
        ("POST", "/incoming", b"{oops"),
        ("POST", "/incoming", b"\xc3\x28"),
        ("POST", "/incoming", b"[]"),
        ("POST", "/incoming", b'"text"'),
        ("POST", "/incoming", b"3.5"),
        ("POST", "/incoming", b'{"call_sid": 12}'),
        ("POST", "/incoming", json.dumps({"from": "x"}).encode()),
        ("POST", "/boom-status", json.dumps(payloads.call_info()).encode()),
        ("PUT", "/health", b""),
    ]


@pytest.mark.parametrize(("method", "path", "body"), _error_cases())
def test_every_error_body_is_json_without_traceback(
    app: JambonzApp, method: str, path: str, body: bytes
) -> None:
    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app.add_route("/health", health, methods=["GET"])
    r = TestClient(app).request(method, path, content=body)
    assert r.status_code >= 400
    assert r.headers["content-type"] == "application/json"
    data = r.json()
    assert isinstance(data, dict)
    assert isinstance(data["error"], str)
    assert data["error"]
    assert "Traceback" not in r.text
    assert "secret-detail" not in r.text


def test_starlette_route_that_raises_answers_500_json() -> None:
    async def broken(request: Request) -> JSONResponse:
        raise RuntimeError("secret-detail")

    app = JambonzApp(routes=[Route("/broken", broken)], insecure=True)
    r = TestClient(app, raise_server_exceptions=False).get("/broken")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    assert r.json() == {"error": "internal server error"}
    assert "Traceback" not in r.text


# --- sync handlers -------------------------------------------------------------------------------------


def test_sync_handlers() -> None:
    app = JambonzApp(insecure=True)
    threads: list[int] = []

    @app.action_hook("/menu")
    def menu(result: GatherResult) -> WebhookResponse:
        threads.append(threading.get_ident())
        return WebhookResponse().say(text=f"You pressed {result.digits}")

    @app.call_hook("/incoming")
    def incoming(call: CallSession) -> WebhookResponse:
        threads.append(threading.get_ident())
        return WebhookResponse().gather(action_hook=menu, num_digits=1)

    @app.status_hook("/status")
    def status(event: CallStatus) -> None:
        threads.append(threading.get_ident())

    @app.action_hook("/broken")
    def broken(result: GatherResult) -> WebhookResponse:
        raise RuntimeError("boom")

    client = TestClient(app)
    assert post(client, "/incoming", payloads.session_new()).json() == [
        {"verb": "gather", "actionHook": "/menu", "numDigits": 1}
    ]
    assert post(client, "/menu", payloads.call_info(digits="7")).json() == [
        {"verb": "say", "text": "You pressed 7"}
    ]
    assert post(client, "/status", payloads.call_info()).status_code == 204
    assert post(client, "/broken", payloads.call_info()).json() == FALLBACK_JSON
    assert len(threads) == 3


# --- registration ----------------------------------------------------------------------------------------


def test_duplicate_hook_path_is_refused() -> None:
    app = JambonzApp(insecure=True)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> None:
        return None

    async def again(result: GatherResult) -> None:
        return None

    with pytest.raises(ValueError, match="/incoming"):
        app.call_hook("/incoming")(again)
    with pytest.raises(ValueError, match="/incoming"):
        app.action_hook("/incoming")(again)
    with pytest.raises(ValueError, match="/incoming"):
        app.status_hook("/incoming")(again)
    router = HookRouter()
    router.action_hook("/incoming")(again)
    with pytest.raises(ValueError, match="/incoming"):
        app.include_router(router)
    assert [route.path for route in app.hooks] == ["/incoming"]


def test_handler_with_unsupported_parameter_is_refused_at_registration() -> None:
    app = JambonzApp(insecure=True)

    async def bad(digits: int) -> None:
        return None

    with pytest.raises(TypeError, match="digits"):
        app.action_hook("/bad")(bad)
    router = HookRouter()
    with pytest.raises(TypeError, match="digits"):
        router.action_hook("/bad")(bad)


@pytest.mark.parametrize("prefix", ["billing", "/billing/"])
def test_router_prefix_must_be_a_clean_path(prefix: str) -> None:
    with pytest.raises(ValueError):
        HookRouter(prefix=prefix)
    with pytest.raises(ValueError):
        JambonzApp(insecure=True).include_router(HookRouter(), prefix=prefix)


def test_hook_router_and_handler_refs_across_routers() -> None:
    app = JambonzApp(insecure=True)
    tier2 = HookRouter(prefix="/tier2")
    support = HookRouter(prefix="/support")
    billing = HookRouter(prefix="/billing")

    @tier2.action_hook("/entry")
    async def tier2_entry(result: GatherResult) -> WebhookResponse:
        return WebhookResponse().say(text="tier 2").redirect(action_hook=billing_incoming)

    support.include_router(tier2, prefix="/x")

    @support.call_hook("/incoming")
    async def support_incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().gather(action_hook=tier2_entry, say=Say(text="Support"))

    @billing.action_hook("/menu")
    async def billing_menu(result: GatherResult) -> WebhookResponse:
        return WebhookResponse().redirect(action_hook=support_incoming)

    @billing.call_hook("/incoming")
    async def billing_incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().gather(action_hook=billing_menu, input=["speech"])

    @billing.status_hook("/status")
    async def billing_status(event: CallStatus) -> WebhookResponse:
        return WebhookResponse().hangup()

    app.include_router(billing)
    app.include_router(support, prefix="/v1")

    assert app.hook_path(billing_incoming) == "/billing/incoming"
    assert app.hook_path(billing_menu) == "/billing/menu"
    assert app.hook_path(billing_status) == "/billing/status"
    assert app.hook_path(support_incoming) == "/v1/support/incoming"
    assert app.hook_path(tier2_entry) == "/v1/support/x/tier2/entry"
    assert sorted(route.path for route in app.hooks) == [
        "/billing/incoming",
        "/billing/menu",
        "/billing/status",
        "/v1/support/incoming",
        "/v1/support/x/tier2/entry",
    ]

    client = TestClient(app)
    assert post(client, "/billing/incoming", payloads.session_new()).json() == [
        {"verb": "gather", "actionHook": "/billing/menu", "input": ["speech"]}
    ]
    assert post(client, "/billing/menu", payloads.call_info()).json() == [
        {"verb": "redirect", "actionHook": "/v1/support/incoming"}
    ]
    assert post(client, "/v1/support/incoming", payloads.session_new()).json() == [
        {"verb": "gather", "actionHook": "/v1/support/x/tier2/entry", "say": {"text": "Support"}}
    ]
    assert post(client, "/v1/support/x/tier2/entry", payloads.call_info()).json() == [
        {"verb": "say", "text": "tier 2"},
        {"verb": "redirect", "actionHook": "/billing/incoming"},
    ]
    r = post(client, "/billing/status", payloads.call_info())
    assert (r.status_code, r.content) == (204, b"")
    # The routers' own paths are not served.
    assert post(client, "/menu", payloads.call_info()).status_code == 404
    assert post(client, "/support/incoming", payloads.session_new()).status_code == 404


def test_hook_path_of_unknown_handler() -> None:
    app = JambonzApp(insecure=True)
    router = HookRouter(prefix="/r")

    @router.action_hook("/menu")
    async def menu(result: GatherResult) -> None:
        return None

    with pytest.raises(LookupError, match="menu"):
        app.hook_path(menu)  # the router is not included yet
    app.include_router(router)
    assert app.hook_path(menu) == "/r/menu"


# --- the rest of Starlette ---------------------------------------------------------------------------------


def test_lifespan_runs_startup_and_shutdown() -> None:
    events: list[str] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[dict[str, str]]:
        events.append("startup")
        yield {"greeting": "Welcome to Acme"}
        events.append("shutdown")

    app = JambonzApp(lifespan=lifespan, insecure=True)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, request: Request) -> WebhookResponse:
        return WebhookResponse().say(text=request.state.greeting)

    assert events == []
    with TestClient(app) as client:
        assert events == ["startup"]
        r = post(client, "/incoming", payloads.session_new())
        assert r.json() == [{"verb": "say", "text": "Welcome to Acme"}]
        assert events == ["startup"]
    assert events == ["startup", "shutdown"]


def test_plain_starlette_routes() -> None:
    async def ready(request: Request) -> JSONResponse:
        return JSONResponse({"ready": True})

    app = JambonzApp(routes=[Route("/ready", ready)], insecure=True)

    async def health(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok")

    app.add_route("/health", health, methods=["GET"])

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().hangup()

    client = TestClient(app)
    r = client.get("/health")
    assert (r.status_code, r.text) == (200, "ok")
    assert client.get("/ready").json() == {"ready": True}
    assert post(client, "/incoming", payloads.session_new()).json() == [{"verb": "hangup"}]
    r = client.post("/health")
    assert r.status_code == 405
    assert r.json() == {"error": "method not allowed"}


def test_http_exception_raised_by_a_handler_is_its_answer() -> None:
    app = JambonzApp(insecure=True)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        raise HTTPException(403, "Unknown caller +15083084809")

    client = TestClient(app)
    response = client.post("/incoming", json=payloads.session_new())
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"error": "Unknown caller +15083084809"}


def test_handler_answering_an_unknown_verb_gets_the_fallback(caplog: pytest.LogCaptureFixture) -> None:
    app = JambonzApp(insecure=True)

    @app.action_hook("/menu")
    async def menu(result: GatherResult) -> list[dict[str, Any]]:
        return [{"verb": "sya", "text": "a typo jambonz would fail the call on"}]

    with caplog.at_level(logging.ERROR, logger=LOGGER):
        r = TestClient(app).post("/menu", json=payloads.call_info(reason="dtmfDetected", digits="1"))
    assert r.status_code == 200
    assert r.json() == FALLBACK_JSON
    (record,) = error_records(caplog)
    assert "unknown verb 'sya'" in record.getMessage()


def test_health_path_answers_ok_without_any_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAMBONZ_WEBHOOK_SECRET", "s")
    monkeypatch.setenv("JAMBONZ_WEBHOOK_USERNAME", "u")
    monkeypatch.setenv("JAMBONZ_WEBHOOK_PASSWORD", "p")
    app = JambonzApp(health_path="/healthz", insecure=True)
    client = TestClient(app)
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"status": "ok"}
    assert client.post("/healthz").status_code == 405
    assert TestClient(JambonzApp(insecure=True)).get("/healthz").status_code == 404  # only when asked for
