"""What a handler gets, by the annotations of its parameters; and what it cannot ask for."""

from __future__ import annotations

import asyncio
import functools
import json
import re
import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import httpx2
import pytest
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.testclient import TestClient

from jambonz_webhooks import (
    CallInfo,
    CallSession,
    CallStatus,
    ConferenceStatus,
    DialResult,
    EnvVars,
    GatherResult,
    HookRouter,
    JambonzApp,
    WebhookResponse,
)
from jambonz_webhooks.injection import HandlerWarning, HookKind
from tests.payloads import call_info, session_new


def new_app() -> JambonzApp:
    """No fallback: a failing handler is a 500, never a 200 that looks like success."""
    return JambonzApp(fallback=None, insecure=True)


def said(response: httpx2.Response) -> str:
    assert response.status_code == 200, response.text
    verbs = response.json()
    assert isinstance(verbs, list)
    assert len(verbs) == 1
    assert verbs[0]["verb"] == "say"
    text = verbs[0]["text"]
    assert isinstance(text, str)
    return text


# ---------------------------------------------------------------------------------------------
# Payload models by annotation
# ---------------------------------------------------------------------------------------------


def test_call_session_parameter() -> None:
    app = new_app()
    got: list[object] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        got.append(call)
        return WebhookResponse().say(text=f"{call.from_} -> {call.to}")

    with TestClient(app) as client:
        assert said(client.post("/incoming", json=session_new())) == "+15083084809 -> +15083728299"
    assert type(got[0]) is CallSession


GATHER = call_info(reason="dtmfDetected", digits="42")
DIAL = call_info(dial_call_status="busy", dial_sip_status=486, dial_call_sid="d-1")
STATUS = call_info(call_status="completed", call_termination_by="jambonz", duration=7)


def test_gather_result_parameter() -> None:
    app = new_app()
    got: list[GatherResult] = []

    @app.action_hook("/menu")
    async def menu(result: GatherResult) -> WebhookResponse:
        got.append(result)
        return WebhookResponse().say(text=f"{result.reason}:{result.digits}")

    with TestClient(app) as client:
        assert said(client.post("/menu", json=GATHER)) == "dtmfDetected:42"
    assert type(got[0]) is GatherResult
    assert got[0].call_sid == GATHER["call_sid"]


def test_dial_result_parameter() -> None:
    app = new_app()
    got: list[DialResult] = []

    @app.action_hook("/dialed")
    async def dialed(result: DialResult) -> WebhookResponse:
        got.append(result)
        return WebhookResponse().say(text=f"{result.dial_call_status}:{result.dial_sip_status}")

    with TestClient(app) as client:
        assert said(client.post("/dialed", json=DIAL)) == "busy:486"
    assert type(got[0]) is DialResult
    assert got[0].dial_call_sid == "d-1"


def test_call_status_parameter() -> None:
    app = new_app()
    got: list[CallStatus] = []

    @app.status_hook("/status")
    async def status(status: CallStatus) -> None:
        got.append(status)

    with TestClient(app) as client:
        response = client.post("/status", json=STATUS)
    assert response.status_code == 204
    assert type(got[0]) is CallStatus
    assert got[0].is_final
    assert got[0].call_termination_by == "jambonz"
    assert got[0].duration == 7


def test_call_info_parameter_accepts_any_hook_payload() -> None:
    app = new_app()
    got: list[CallInfo] = []

    @app.action_hook("/any")
    async def anything(info: CallInfo) -> WebhookResponse:
        got.append(info)
        return WebhookResponse().say(text=info.call_sid)

    with TestClient(app) as client:
        assert said(client.post("/any", json=DIAL)) == DIAL["call_sid"]
    assert got[0].get("dial_call_status") == "busy"


# ---------------------------------------------------------------------------------------------
# Optional models
# ---------------------------------------------------------------------------------------------


def test_optional_model_is_none_on_a_get_without_payload() -> None:
    app = new_app()
    got: list[CallSession | None] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession | None) -> WebhookResponse:
        got.append(call)
        return WebhookResponse().say(text="no payload" if call is None else call.call_sid)

    with TestClient(app) as client:
        assert said(client.get("/incoming")) == "no payload"
        assert got == [None]
        assert said(client.post("/incoming", json=session_new())) == session_new()["call_sid"]
        assert isinstance(got[1], CallSession)
        query = "&".join(f"{key}={value}" for key, value in session_new().items() if isinstance(value, str))
        assert said(client.get(f"/incoming?{query}&sip_status=100")) == session_new()["call_sid"]
        assert isinstance(got[2], CallSession)
        assert got[2].sip_status == 100


def test_optional_action_model_is_none_on_a_get_without_payload() -> None:
    app = new_app()
    got: list[GatherResult | None] = []

    @app.action_hook("/menu")
    def menu(result: None | GatherResult) -> WebhookResponse:  # noqa: RUF036 (None first on purpose)
        got.append(result)
        return WebhookResponse().say(text=repr(result))

    with TestClient(app) as client:
        assert said(client.get("/menu")) == "None"
    assert got == [None]


def test_optional_model_still_validates_a_payload() -> None:
    app = new_app()
    got: list[CallSession | None] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession | None) -> WebhookResponse:
        got.append(call)
        return WebhookResponse().say(text="called")

    payload = session_new()
    del payload["to"]
    with TestClient(app) as client:
        response = client.post("/incoming", json=payload)
    assert response.status_code == 422
    assert got == []


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_required_model_without_payload_is_422(method: str) -> None:
    app = new_app()
    got: list[CallSession] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        got.append(call)
        return WebhookResponse().say(text="called")

    with TestClient(app) as client:
        response = client.request(method, "/incoming", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "payload" in response.json()["error"]
    if method == "GET":
        assert "POST" in response.json()["error"]
    assert got == []


# ---------------------------------------------------------------------------------------------
# Request and the raw payload
# ---------------------------------------------------------------------------------------------


def test_request_parameter_can_read_the_body_again() -> None:
    app = new_app()
    seen: dict[str, Any] = {}

    @app.call_hook("/incoming")
    async def incoming(request: Request, call: CallSession) -> WebhookResponse:
        seen["body"] = await request.body()
        seen["json"] = await request.json()
        seen["method"] = request.method
        seen["header"] = request.headers["x-test"]
        seen["path"] = request.url.path
        seen["call_sid"] = call.call_sid
        return WebhookResponse().say(text="ok")

    payload = session_new()
    body = json.dumps(payload, indent=2, ensure_ascii=False).encode()  # not jambonz's compact form
    with TestClient(app) as client:
        response = client.post(
            "/incoming", content=body, headers={"content-type": "application/json", "x-test": "yes"}
        )
    assert said(response) == "ok"
    assert seen == {
        "body": body,
        "json": payload,
        "method": "POST",
        "header": "yes",
        "path": "/incoming",
        "call_sid": payload["call_sid"],
    }


def test_request_alone_on_get_sees_the_query() -> None:
    app = new_app()
    seen: dict[str, Any] = {}

    @app.action_hook("/menu")
    async def menu(request: Request) -> WebhookResponse:
        seen["query"] = dict(request.query_params)
        seen["body"] = await request.body()
        return WebhookResponse().say(text=request.method)

    with TestClient(app) as client:
        assert said(client.get("/menu?step=2&lang=fr")) == "GET"
    assert seen == {"query": {"step": "2", "lang": "fr"}, "body": b""}


def test_request_alone_on_post_reads_the_body() -> None:
    app = new_app()
    seen: list[Any] = []

    @app.action_hook("/menu")
    async def menu(request: Request) -> WebhookResponse:
        seen.append(await request.json())
        seen.append(await request.body())
        return WebhookResponse().say(text="ok")

    body = json.dumps(GATHER, separators=(",", ":")).encode()
    with TestClient(app) as client:
        assert said(client.post("/menu", content=body, headers={"content-type": "application/json"})) == "ok"
    assert seen == [GATHER, body]


@pytest.mark.parametrize("kind", ["dict", "dict[str, Any]", "Mapping[str, Any]"])
def test_raw_payload_parameter(kind: str) -> None:
    app = new_app()
    got: list[Any] = []

    async def plain(payload: dict) -> WebhookResponse:  # type: ignore[type-arg]
        got.append(payload)
        return WebhookResponse().say(text="ok")

    async def typed(payload: dict[str, Any]) -> WebhookResponse:
        got.append(payload)
        return WebhookResponse().say(text="ok")

    async def mapping(payload: Mapping[str, Any]) -> WebhookResponse:
        got.append(payload)
        return WebhookResponse().say(text="ok")

    handler = {"dict": plain, "dict[str, Any]": typed, "Mapping[str, Any]": mapping}[kind]
    app.call_hook("/incoming")(handler)
    payload = session_new()
    with TestClient(app) as client:
        assert said(client.post("/incoming", json=payload)) == "ok"
        assert said(client.get("/incoming?a=1&b[c]=2")) == "ok"
        assert said(client.get("/incoming")) == "ok"
    assert got[0] == payload
    assert "from" in got[0]
    assert got[0]["customerData"] == {"crmId": "CRM-123", "nested": {"tier": "gold"}}
    assert got[1] == {"a": "1", "b": {"c": "2"}}
    assert got[2] == {}


def test_raw_payload_with_bad_body() -> None:
    app = new_app()
    got: list[dict[str, Any]] = []

    @app.action_hook("/raw")
    async def raw(payload: dict[str, Any]) -> WebhookResponse:
        got.append(payload)
        return WebhookResponse().say(text="ok")

    with TestClient(app) as client:
        not_json = client.post("/raw", content=b"{nope", headers={"content-type": "application/json"})
        not_object = client.post("/raw", json=[1, 2])
    assert not_json.status_code == 400
    assert not_object.status_code == 422
    assert got == []


# ---------------------------------------------------------------------------------------------
# Path parameters
# ---------------------------------------------------------------------------------------------


def test_path_parameter_annotated() -> None:
    app = new_app()

    @app.action_hook("/menu/{step}")
    async def menu(step: str, result: GatherResult) -> WebhookResponse:
        return WebhookResponse().say(text=f"{step}:{result.digits}")

    with TestClient(app) as client:
        assert said(client.post("/menu/billing", json=GATHER)) == "billing:42"
        assert said(client.post("/menu/2", json=GATHER)) == "2:42"
        assert client.post("/menu", json=GATHER).status_code == 404


def test_path_parameter_unannotated_and_converted() -> None:
    app = new_app()
    got: list[Any] = []

    @app.action_hook("/queue/{position:int}/{name}")
    async def queue(position, name, request: Request) -> WebhookResponse:  # type: ignore[no-untyped-def]
        got.append((position, name, dict(request.path_params)))
        return WebhookResponse().say(text="ok")

    with TestClient(app) as client:
        assert said(client.post("/queue/3/sales", json=GATHER)) == "ok"
        assert client.post("/queue/x/sales", json=GATHER).status_code == 404
    assert got == [(3, "sales", {"position": 3, "name": "sales"})]


def test_path_parameter_on_a_router() -> None:
    router = HookRouter(prefix="/ivr")

    @router.action_hook("/menu/{step}")
    async def menu(step: str, result: GatherResult) -> WebhookResponse:
        return WebhookResponse().say(text=f"{step}:{result.digits}")

    app = new_app()
    app.include_router(router)
    with TestClient(app) as client:
        assert said(client.post("/ivr/menu/2", json=GATHER)) == "2:42"


# ---------------------------------------------------------------------------------------------
# Several things at once
# ---------------------------------------------------------------------------------------------


def test_call_session_and_gather_result_together() -> None:
    app = new_app()
    got: list[tuple[CallSession, GatherResult]] = []

    @app.action_hook("/menu")
    async def menu(call: CallSession, result: GatherResult) -> WebhookResponse:
        got.append((call, result))
        return WebhookResponse().say(text=f"{call.caller_name}:{result.digits}")

    payload = session_new(reason="dtmfDetected", digits="7")
    with TestClient(app) as client:
        assert said(client.post("/menu", json=payload)) == "Alice Example:7"
        query = "&".join(f"{key}={value}" for key, value in payload.items() if isinstance(value, str))
        assert said(client.get(f"/menu?{query}&sip_status=100&sip[headers][X-A]=b")) == "Alice Example:7"
    (call, result), (query_call, query_result) = got
    assert type(call) is CallSession
    assert type(result) is GatherResult
    assert call.sip is not None
    assert call.sip.called_number == "+15083728299"
    assert call.defaults is not None
    assert result.reason == "dtmfDetected"
    assert result.call_sid == call.call_sid
    assert result.get("caller_name") == "Alice Example"
    assert call.get("digits") == "7"
    assert query_call.sip is not None
    assert query_call.sip.headers == {"X-A": "b"}
    assert query_result.digits == "7"


def test_several_models_are_strict_on_json() -> None:
    app = new_app()
    got: list[object] = []

    @app.action_hook("/menu")
    async def menu(call: CallSession, result: GatherResult) -> WebhookResponse:
        got.append(call)
        return WebhookResponse().say(text="ok")

    with TestClient(app) as client:
        wrong_type = client.post("/menu", json=session_new(sip_status="200", digits="1"))
        missing = client.post("/menu", json={k: v for k, v in session_new().items() if k != "call_id"})
    assert wrong_type.status_code == 422
    assert "sip_status" in wrong_type.json()["error"]
    assert missing.status_code == 422
    assert "call_id" in missing.json()["error"]
    assert got == []


def test_one_of_several_models_optional_on_get_without_payload() -> None:
    app = new_app()
    got: list[object] = []

    @app.action_hook("/menu")
    async def menu(call: CallSession, result: GatherResult | None) -> WebhookResponse:
        got.append(call)
        return WebhookResponse().say(text="ok")

    with TestClient(app) as client:
        response = client.get("/menu")
    assert response.status_code == 422
    assert got == []


def test_everything_at_once() -> None:
    app = new_app()
    seen: dict[str, Any] = {}

    @app.action_hook("/all/{step}")
    async def everything(
        step: str,
        call: CallSession,
        again: CallSession,
        result: GatherResult,
        payload: dict[str, Any],
        request: Request,
        status: CallInfo | None,
    ) -> WebhookResponse:
        seen.update(
            step=step,
            same=call is again,
            result=result.digits,
            payload=payload,
            body=await request.body(),
            status=status,
        )
        return WebhookResponse().say(text=call.call_sid)

    payload = session_new(reason="dtmfDetected", digits="9")
    body = json.dumps(payload).encode()
    with TestClient(app) as client:
        response = client.post("/all/x", content=body, headers={"content-type": "application/json"})
    assert said(response) == payload["call_sid"]
    assert seen["step"] == "x"
    assert seen["same"] is True
    assert seen["result"] == "9"
    assert seen["payload"] == payload
    assert seen["body"] == body
    assert isinstance(seen["status"], CallInfo)
    assert seen["status"].call_status == "trying"


def test_variadic_parameters_are_ignored() -> None:
    app = new_app()
    got: list[Any] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, *args: Any, **kwargs: Any) -> WebhookResponse:
        got.append((args, kwargs))
        return WebhookResponse().say(text=call.call_sid)

    with TestClient(app) as client:
        assert said(client.post("/incoming", json=session_new())) == session_new()["call_sid"]
    assert got == [((), {})]


def test_handler_asking_for_nothing() -> None:
    app = new_app()

    @app.call_hook("/incoming")
    def incoming() -> WebhookResponse:
        return WebhookResponse().say(text="hello")

    with TestClient(app) as client:
        assert said(client.post("/incoming", json=session_new())) == "hello"
        assert said(client.get("/incoming")) == "hello"
        assert client.post("/incoming", json={"no": "call_sid"}).status_code == 422


# ---------------------------------------------------------------------------------------------
# Sync handlers run off the event loop
# ---------------------------------------------------------------------------------------------


def _loop_is_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def test_sync_handler_runs_in_a_worker_thread() -> None:
    app = new_app()
    seen: dict[str, Any] = {}

    @app.call_hook("/sync")
    def sync_handler(call: CallSession, request: Request) -> WebhookResponse:
        seen["sync_thread"] = threading.get_ident()
        seen["sync_loop"] = _loop_is_running()
        return WebhookResponse().say(text=call.call_sid)

    @app.call_hook("/async")
    async def async_handler(call: CallSession) -> WebhookResponse:
        seen["async_thread"] = threading.get_ident()
        seen["async_loop"] = _loop_is_running()
        return WebhookResponse().say(text=call.call_sid)

    with TestClient(app) as client:
        assert said(client.post("/sync", json=session_new())) == session_new()["call_sid"]
        assert said(client.post("/async", json=session_new())) == session_new()["call_sid"]
    assert seen["async_loop"] is True
    assert seen["sync_loop"] is False
    assert seen["sync_thread"] != seen["async_thread"]
    assert seen["sync_thread"] != threading.main_thread().ident


async def test_sync_handlers_do_not_block_the_loop() -> None:
    """Two blocking sync handlers meet at a barrier: only possible if neither holds the loop."""
    app = new_app()
    barrier = threading.Barrier(2, timeout=5)

    @app.call_hook("/sync")
    def sync_handler(call: CallSession) -> WebhookResponse:
        barrier.wait()
        return WebhookResponse().say(text=call.call_sid)

    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://jambonz.test") as client:
        responses = await asyncio.gather(
            client.post("/sync", json=session_new(call_sid="one")),
            client.post("/sync", json=session_new(call_sid="two")),
        )
    assert sorted(said(response) for response in responses) == ["one", "two"]


class AsyncCallable:
    async def __call__(self, call: CallSession) -> WebhookResponse:
        return WebhookResponse().say(text=f"object:{call.call_sid}")


class SyncCallable:
    def __call__(self, call: CallSession) -> WebhookResponse:
        return WebhookResponse().say(text=f"sync-object:{_loop_is_running()}")


async def _greeting(greeting: str, call: CallSession) -> WebhookResponse:
    return WebhookResponse().say(text=f"{greeting}:{call.call_sid}")


def _sync_greeting(greeting: str, call: CallSession) -> WebhookResponse:
    return WebhookResponse().say(text=f"{greeting}:{_loop_is_running()}")


@pytest.mark.parametrize(
    ("handler", "expected"),
    [
        pytest.param(AsyncCallable(), "object:s-1", id="async-callable-object"),
        pytest.param(SyncCallable(), "sync-object:False", id="sync-callable-object"),
        pytest.param(functools.partial(_greeting, "hi"), "hi:s-1", id="partial-async"),
        pytest.param(functools.partial(_sync_greeting, "yo"), "yo:False", id="partial-sync"),
    ],
)
def test_callable_objects_and_partials_as_handlers(handler: Callable[..., Any], expected: str) -> None:
    app = new_app()
    app.call_hook("/incoming")(handler)
    with TestClient(app) as client:
        assert said(client.post("/incoming", json=session_new(call_sid="s-1"))) == expected


def test_positional_only_parameter_is_served_or_refused_at_registration() -> None:
    app = new_app()

    async def incoming(call: CallSession, /) -> WebhookResponse:
        return WebhookResponse().say(text=call.call_sid)

    try:
        app.call_hook("/incoming")(incoming)
    except TypeError as exc:
        assert "call" in str(exc)
        return
    with TestClient(app) as client:
        assert said(client.post("/incoming", json=session_new(call_sid="s-2"))) == "s-2"


# ---------------------------------------------------------------------------------------------
# Registration errors: at decoration time, naming the parameter and the handler
# ---------------------------------------------------------------------------------------------


class NotAPayload(BaseModel):
    x: int


async def unannotated(call) -> WebhookResponse:  # type: ignore[no-untyped-def]
    return WebhookResponse()


async def takes_int(count: int) -> WebhookResponse:
    return WebhookResponse()


async def takes_str(name: str) -> WebhookResponse:
    return WebhookResponse()


async def takes_any(thing: Any) -> WebhookResponse:
    return WebhookResponse()


async def takes_list(calls: list[CallSession]) -> WebhookResponse:
    return WebhookResponse()


async def takes_union(event: CallSession | GatherResult) -> WebhookResponse:
    return WebhookResponse()


async def takes_optional_int(count: int | None) -> WebhookResponse:
    return WebhookResponse()


async def takes_plain_model(data: NotAPayload) -> WebhookResponse:
    return WebhookResponse()


async def takes_object(data: object) -> WebhookResponse:
    return WebhookResponse()


async def good_then_bad(call: CallSession, retries: int = 3) -> WebhookResponse:
    return WebhookResponse()


async def unresolvable(call: NoSuchType) -> WebhookResponse:  # type: ignore[name-defined]  # noqa: F821
    return WebhookResponse()


BAD_HANDLERS = [
    pytest.param(unannotated, "call", "no annotation", id="unannotated"),
    pytest.param(takes_int, "count", "cannot supply", id="int"),
    pytest.param(takes_str, "name", "cannot supply", id="str"),
    pytest.param(takes_any, "thing", "cannot supply", id="Any"),
    pytest.param(takes_list, "calls", "cannot supply", id="list"),
    pytest.param(takes_union, "event", "cannot supply", id="union-of-models"),
    pytest.param(takes_optional_int, "count", "cannot supply", id="optional-int"),
    pytest.param(takes_plain_model, "data", "cannot supply", id="plain-pydantic-model"),
    pytest.param(takes_object, "data", "cannot supply", id="object"),
    pytest.param(good_then_bad, "retries", "cannot supply", id="second-parameter"),
]


def _register(where: str, handler: Callable[..., Any]) -> JambonzApp:
    app = new_app()
    if where == "call_hook":
        app.call_hook("/hook")(handler)
    elif where == "action_hook":
        app.action_hook("/hook")(handler)
    elif where == "status_hook":
        app.status_hook("/hook")(handler)
    else:
        router = HookRouter()
        router.action_hook("/hook")(handler)
        app.include_router(router)
    return app


@pytest.mark.parametrize("where", ["call_hook", "action_hook", "status_hook", "router"])
@pytest.mark.parametrize(("handler", "parameter", "reason"), BAD_HANDLERS)
def test_bad_parameter_fails_at_registration(
    where: str, handler: Callable[..., Any], parameter: str, reason: str
) -> None:
    pattern = rf"{reason}.*'{parameter}'.*handler {re.escape(handler.__qualname__)}\b|" + (
        rf"'{parameter}'.*handler {re.escape(handler.__qualname__)}\b.*{reason}"
    )
    with pytest.raises(TypeError, match=pattern):
        _register(where, handler)


def test_unresolvable_annotation_fails_at_registration() -> None:
    with pytest.raises(TypeError, match=r"unresolvable.*NoSuchType|NoSuchType.*unresolvable"):
        _register("call_hook", unresolvable)


def test_failed_registration_registers_nothing() -> None:
    app = new_app()

    with pytest.raises(TypeError):

        @app.call_hook("/incoming")
        async def broken(call: CallSession, count: int) -> WebhookResponse:
            return WebhookResponse()

    assert app.hooks == []

    @app.call_hook("/incoming")
    async def fixed(call: CallSession) -> WebhookResponse:
        return WebhookResponse().say(text="fixed")

    with TestClient(app) as client:
        assert said(client.post("/incoming", json=session_new())) == "fixed"


def test_parameter_named_like_no_path_parameter_fails_at_registration() -> None:
    app = new_app()
    with pytest.raises(TypeError, match=r"'step'.*handler .*menu"):

        @app.action_hook("/menu/{stage}")
        async def menu(step: str) -> WebhookResponse:
            return WebhookResponse()


def test_router_refuses_a_bad_handler_at_decoration_time() -> None:
    router = HookRouter()
    with pytest.raises(TypeError, match=r"'count'.*takes_int"):
        router.call_hook("/hook")(takes_int)
    assert router.hooks == []


# -- warnings at registration: what a handler asks for but never gets ---------------------------


def _registered(kind: HookKind, annotation: Any) -> tuple[list[warnings.WarningMessage], int]:
    """Register a handler asking for ``annotation`` on a ``kind`` hook: the warnings, and its line."""
    app = new_app()

    async def handler(payload: Any) -> WebhookResponse:
        return WebhookResponse()

    handler.__annotations__["payload"] = annotation
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app.add_hook("/hook", handler, kind)
    return caught, handler.__code__.co_firstlineno


@pytest.mark.parametrize(
    ("kind", "model", "words"),
    [
        (HookKind.CALL, GatherResult, "never a verb's result (GatherResult)"),
        (HookKind.CALL, DialResult, "never a verb's result (DialResult)"),
        (HookKind.CALL, CallStatus, "never the call status hook's (CallStatus)"),
        (HookKind.ACTION, CallStatus, "never a call status"),
    ],
)
def test_a_payload_model_the_hook_kind_never_gets_is_warned_at_the_handler(
    kind: HookKind, model: type[CallInfo], words: str
) -> None:
    caught, line = _registered(kind, model)
    [warning] = caught
    assert issubclass(warning.category, HandlerWarning)
    assert issubclass(HandlerWarning, UserWarning)
    assert words in str(warning.message)
    assert "handler _registered.<locals>.handler:" in str(warning.message)
    assert (warning.filename, warning.lineno) == (__file__, line)  # the user's code, not the framework's


@pytest.mark.parametrize(
    ("kind", "model"),
    [
        (HookKind.CALL, CallSession),
        (HookKind.CALL, CallInfo),
        (HookKind.ACTION, GatherResult),
        (HookKind.ACTION, CallSession),
        (HookKind.ACTION, CallInfo | None),
        (HookKind.STATUS, CallStatus),
        (HookKind.STATUS, ConferenceStatus),  # a conference's statusHook: answer ignored too
        (HookKind.STATUS, CallSession),
    ],
)
def test_a_payload_model_the_hook_kind_gets_is_not_warned(kind: HookKind, model: Any) -> None:
    caught, _ = _registered(kind, model)
    assert caught == []


def test_a_handler_is_warned_once_however_often_it_is_registered() -> None:
    app = new_app()

    async def status_as_action(status: CallStatus) -> WebhookResponse:
        return WebhookResponse()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app.add_hook("/one", status_as_action, HookKind.ACTION)
        app.add_hook("/two", status_as_action, HookKind.ACTION)
        new_app().add_hook("/three", status_as_action, HookKind.ACTION)
    assert len(caught) == 1


class _Settings(EnvVars):
    GREETING: str = Field(description="what callers hear first")
    ATTEMPTS: int = Field(3, description="menu attempts")


def test_env_vars_the_app_does_not_declare_are_warned() -> None:
    app = new_app()  # no env_vars=: the portal's discovery request gets {}

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        @app.call_hook("/incoming")
        async def incoming(call: CallSession, env: _Settings) -> WebhookResponse:
            return WebhookResponse()

    [warning] = caught
    assert issubclass(warning.category, HandlerWarning)
    message = str(warning.message)
    assert "_Settings declares GREETING, ATTEMPTS, which the app does not" in message
    assert "JambonzApp(env_vars=_Settings)" in message
    assert warning.filename == __file__
    with TestClient(app) as client:
        assert client.options("/incoming").json() == {}


def test_env_vars_the_app_declares_are_not_warned() -> None:
    app = JambonzApp(insecure=True, env_vars=_Settings)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")

        @app.call_hook("/incoming")
        async def incoming(call: CallSession, env: _Settings) -> WebhookResponse:
            return WebhookResponse()

    assert caught == []
    with TestClient(app) as client:
        assert set(client.options("/incoming").json()) == {"GREETING", "ATTEMPTS"}
