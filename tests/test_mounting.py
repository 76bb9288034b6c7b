"""A JambonzApp mounted in Starlette or FastAPI writes its hooks with the mount prefix.

jambonz resolves a relative hook against the origin of the application URL, never its path
(PROTOCOL.md, sections 1 and 9): an app at /voice answering actionHook "/menu" would get its
next webhook at /menu.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from jambonz_webhooks import CallSession, CallStatus, GatherResult, HookRouter, JambonzApp, WebhookResponse

from . import payloads


def post(client: TestClient, path: str, payload: Any) -> Any:
    return client.post(path, content=json.dumps(payload), headers={"content-type": "application/json"})


def voice_app(fallback: WebhookResponse | None = None) -> JambonzApp:
    app = JambonzApp(fallback=fallback, insecure=True) if fallback is not None else JambonzApp(insecure=True)
    app.state.statuses = []
    sub = HookRouter(prefix="/sales")

    @sub.action_hook("/queue")
    async def sales_queue(result: GatherResult) -> WebhookResponse:
        return WebhookResponse().redirect(action_hook=incoming)

    @app.action_hook("/menu")
    async def menu(result: GatherResult) -> WebhookResponse:
        if result.digits == "1":
            return WebhookResponse().redirect(action_hook=sales_queue)
        return WebhookResponse().say(text=f"You pressed {result.digits}").hangup()

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return (
            WebhookResponse()
            .gather(action_hook=menu, num_digits=1, say={"text": "Press 1"})
            .gather(action_hook="/menu", partial_result_hook="/partial")
            .gather(action_hook="https://hooks.example/menu")
            .gather(action_hook={"url": "/menu", "method": "GET", "username": "u", "password": "p"})
            .gather(action_hook={"url": menu})
            .dial(
                target=[{"type": "sip", "sip_uri": "sip:a@b", "confirm_hook": "/confirm"}],
                action_hook="/dial-done",
                amd={"action_hook": menu},
            )
            .config(barge_in={"enable": True, "action_hook": "/barge"})
            .redirect(action_hook="relative-no-slash")
        )

    @app.status_hook("/status")
    async def status(event: CallStatus) -> WebhookResponse:
        app.state.statuses.append(event.call_status)
        return WebhookResponse().hangup()

    @app.action_hook("/boom")
    async def boom(result: GatherResult) -> WebhookResponse:
        raise RuntimeError("boom")

    app.include_router(sub)
    return app


def expected_incoming(prefix: str) -> list[dict[str, Any]]:
    return [
        {"verb": "gather", "actionHook": f"{prefix}/menu", "numDigits": 1, "say": {"text": "Press 1"}},
        {"verb": "gather", "actionHook": f"{prefix}/menu", "partialResultHook": f"{prefix}/partial"},
        {"verb": "gather", "actionHook": "https://hooks.example/menu"},
        {
            "verb": "gather",
            "actionHook": {"url": f"{prefix}/menu", "method": "GET", "username": "u", "password": "p"},
        },
        {"verb": "gather", "actionHook": {"url": f"{prefix}/menu"}},
        {
            "verb": "dial",
            "target": [{"type": "sip", "sipUri": "sip:a@b", "confirmHook": f"{prefix}/confirm"}],
            "actionHook": f"{prefix}/dial-done",
            "amd": {"actionHook": f"{prefix}/menu"},
        },
        {"verb": "config", "bargeIn": {"enable": True, "actionHook": f"{prefix}/barge"}},
        {"verb": "redirect", "actionHook": "relative-no-slash"},
    ]


def check_served_at(client: TestClient, prefix: str, app: JambonzApp) -> None:
    r = post(client, f"{prefix}/incoming", payloads.session_new())
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.json() == expected_incoming(prefix)

    r = post(client, f"{prefix}/menu", payloads.call_info(digits="1"))
    assert r.json() == [{"verb": "redirect", "actionHook": f"{prefix}/sales/queue"}]
    r = post(client, f"{prefix}/menu", payloads.call_info(digits="2"))
    assert r.json() == [{"verb": "say", "text": "You pressed 2"}, {"verb": "hangup"}]
    r = post(client, f"{prefix}/sales/queue", payloads.call_info())
    assert r.json() == [{"verb": "redirect", "actionHook": f"{prefix}/incoming"}]

    r = post(client, f"{prefix}/status", payloads.call_info(call_status="completed"))
    assert (r.status_code, r.content) == (204, b"")
    assert "content-type" not in r.headers
    assert app.state.statuses[-1] == "completed"


# --- unmounted ------------------------------------------------------------------------------------


def test_unmounted_app_writes_no_prefix() -> None:
    app = voice_app()
    check_served_at(TestClient(app), "", app)


# --- Starlette ------------------------------------------------------------------------------------


def test_mounted_in_starlette() -> None:
    app = voice_app()
    outer = Starlette(routes=[Mount("/voice", app)])
    client = TestClient(outer)
    check_served_at(client, "/voice", app)
    # Outside the mount, the hooks are not served.
    assert post(client, "/incoming", payloads.session_new()).status_code == 404


def test_mounted_in_starlette_with_other_routes() -> None:
    async def home(request: Request) -> PlainTextResponse:
        return PlainTextResponse("home")

    app = voice_app()
    outer = Starlette(routes=[Route("/", home), Mount("/voice", app)])
    client = TestClient(outer)
    assert client.get("/").text == "home"
    check_served_at(client, "/voice", app)


@pytest.mark.parametrize(
    "outer",
    [
        lambda app: Starlette(routes=[Mount("/a/b", app)]),
        lambda app: Starlette(routes=[Mount("/a", routes=[Mount("/b", app)])]),
        lambda app: Starlette(routes=[Mount("/a", Starlette(routes=[Mount("/b", app)]))]),
    ],
    ids=["one-mount", "nested-mounts", "nested-apps"],
)
def test_deeper_mounts(outer: Any) -> None:
    app = voice_app()
    outer_app: ASGIApp = outer(app)
    check_served_at(TestClient(outer_app), "/a/b", app)


def test_the_same_app_mounted_twice() -> None:
    app = voice_app()
    outer = Starlette(routes=[Mount("/voice", app), Mount("/v2", app)])
    client = TestClient(outer)
    check_served_at(client, "/voice", app)
    check_served_at(client, "/v2", app)
    check_served_at(client, "/voice", app)


def test_mounted_app_errors_are_its_own_json() -> None:
    app = voice_app()
    client = TestClient(Starlette(routes=[Mount("/voice", app)]))
    r = client.post("/voice/nope", content=b"{}", headers={"content-type": "application/json"})
    assert r.status_code == 404
    assert r.json() == {"error": "not found"}
    r = client.put("/voice/incoming", content=b"{}")
    assert r.status_code == 405
    assert r.json() == {"error": "method not allowed"}
    r = client.post("/voice/incoming", content=b"not json", headers={"content-type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {"error": "the body is not valid JSON"}


def test_mounted_fallback_carries_the_prefix(caplog: pytest.LogCaptureFixture) -> None:
    app = voice_app(fallback=WebhookResponse().say(text="Sorry").redirect(action_hook="/incoming"))
    client = TestClient(Starlette(routes=[Mount("/voice", app)]))
    with caplog.at_level(logging.ERROR, logger="jambonz_webhooks"):
        r = post(client, "/voice/boom", payloads.call_info())
    assert r.status_code == 200
    assert r.json() == [
        {"verb": "say", "text": "Sorry"},
        {"verb": "redirect", "actionHook": "/voice/incoming"},
    ]
    assert any("/boom" in record.getMessage() for record in caplog.records)
    # The same app unmounted writes no prefix.
    r = post(TestClient(app), "/boom", payloads.call_info())
    assert r.json() == [{"verb": "say", "text": "Sorry"}, {"verb": "redirect", "actionHook": "/incoming"}]


# --- FastAPI --------------------------------------------------------------------------------------


def test_mounted_in_fastapi() -> None:
    api = FastAPI()

    @api.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app = voice_app()
    api.mount("/voice", app)
    client = TestClient(api)
    assert client.get("/health").json() == {"status": "ok"}
    check_served_at(client, "/voice", app)
    assert post(client, "/incoming", payloads.session_new()).status_code == 404


def test_mounted_in_fastapi_deeper() -> None:
    api = FastAPI()
    app = voice_app()
    api.mount("/apps/voice", app)
    check_served_at(TestClient(api), "/apps/voice", app)


def test_mounted_in_fastapi_under_a_prefixed_router_app() -> None:
    api = FastAPI()
    inner = FastAPI()
    app = voice_app()
    inner.mount("/voice", app)
    api.mount("/tenant", inner)
    check_served_at(TestClient(api), "/tenant/voice", app)
