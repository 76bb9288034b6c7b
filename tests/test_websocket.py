"""jambonz's WebSocket API, end to end: uvicorn on a real port, driven as jambonz drives a call.

One socket per call to the call hook's ws:// URL, subprotocol ws.jambonz.org, basic auth on the
upgrade; session:new answered with the call hook's verbs in an ack, verb:hook with the named
hook's, call:status to the status hook (no ack); malformed frames touch nothing else.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from jambonz_webhooks import CallSession, JambonzApp, WebhookResponse
from jambonz_webhooks.testing import basic_auth_header
from tests.conftest import PROTECTED_PASSWORD, PROTECTED_USERNAME, LiveServer, _spawn, _stop, _wait_ready
from tests.payloads import call_info, session_new

SUBPROTOCOL = "ws.jambonz.org"
MENU = "Press 1 for sales or 2 for support"


def _open(server: LiveServer, path: str = "/incoming", **options: Any) -> ClientConnection:
    options.setdefault("subprotocols", [SUBPROTOCOL])
    socket: ClientConnection = connect(f"ws://127.0.0.1:{server.port}{path}", open_timeout=10, **options)
    return socket


@pytest.fixture
def call(ivr_server: LiveServer) -> Iterator[ClientConnection]:
    with _open(ivr_server) as socket:
        yield socket


def _send(socket: ClientConnection, kind: str, data: Any, **fields: Any) -> str:
    msgid = uuid.uuid4().hex[:22]
    socket.send(json.dumps({"type": kind, "msgid": msgid, **fields, "data": data}))
    return msgid


def _ack(socket: ClientConnection, msgid: str) -> dict[str, Any]:
    frame = json.loads(socket.recv(timeout=5))  # jambonz waits 5 s for it
    assert frame["type"] == "ack" and frame["msgid"] == msgid, frame
    return dict(frame)


def _said(verbs: list[dict[str, Any]]) -> list[str]:
    return [verb["text"] for verb in verbs if verb["verb"] == "say"]


def test_the_subprotocol_is_echoed(call: ClientConnection) -> None:
    assert call.subprotocol == SUBPROTOCOL


def test_the_ivr_over_websocket_from_greeting_to_dial(call: ClientConnection) -> None:
    sid = str(uuid.uuid4())
    greeting = _ack(
        call,
        _send(
            call, "session:new", session_new(call_sid=sid, env_vars={"COMPANY_NAME": "Globex"}), call_sid=sid
        ),
    )
    verbs = greeting["data"]
    assert [verb["verb"] for verb in verbs] == ["say", "gather", "say", "hangup"]
    assert verbs[0]["text"] == "Hello, and thank you for calling Globex."
    assert verbs[1]["actionHook"] == "/menu"  # the name the verb:hook comes back with
    # The menu's payload has no env vars: the company comes from the call's state, as over HTTP.
    menu = _ack(
        call,
        _send(
            call,
            "verb:hook",
            call_info(call_sid=sid, reason="dtmfDetected", digits="1"),
            hook="/menu",
            call_sid=sid,
        ),
    )
    assert _said(menu["data"]) == ["Thank you for calling Globex. Connecting you to sales."]
    assert menu["data"][1]["verb"] == "dial"
    failed = _ack(
        call,
        _send(
            call,
            "verb:hook",
            call_info(call_sid=sid, dial_call_status="busy"),
            hook=menu["data"][1]["actionHook"],
            call_sid=sid,
        ),
    )
    assert _said(failed["data"]) == ["Sorry, we could not connect your call."]
    # A status wants no ack: nothing comes back, and the socket stays open for the next message.
    call.send(
        json.dumps(
            {
                "type": "call:status",
                "msgid": "st1",
                "call_sid": sid,
                "data": call_info(call_sid=sid, call_status="completed"),
            }
        )
    )
    later = _ack(
        call, _send(call, "verb:hook", call_info(call_sid=sid, reason="timeout"), hook="/menu", call_sid=sid)
    )
    assert later["msgid"]


def test_a_hook_no_route_serves_is_acked_without_verbs(call: ClientConnection) -> None:
    ack = _ack(call, _send(call, "verb:hook", call_info(), hook="/not-a-hook"))
    assert "data" not in ack


def test_notifications_and_unknown_types_are_not_acked(call: ClientConnection) -> None:
    for kind in ("verb:status", "jambonz:error", "llm:event", "agent:event", "something:new"):
        call.send(json.dumps({"type": kind, "msgid": "n1", "data": {"event": "x"}}))
    msgid = _send(call, "verb:hook", call_info(reason="timeout"), hook="/menu")
    assert _ack(call, msgid)["msgid"] == msgid  # the first frame back is this ack: nothing before it


def test_malformed_frames_touch_only_themselves(ivr_server: LiveServer) -> None:
    with _open(ivr_server) as bad, _open(ivr_server) as other:
        bad.send(b"\xff\xfe not utf-8")  # binary, not UTF-8
        bad.send("{not json")
        bad.send("[1, 2]")
        bad.send(json.dumps({"type": "verb:hook", "hook": "/menu", "data": call_info()}))  # no msgid
        bad.send("x" * 300_000)  # over the frame limit
        # A session:new whose data is not a call: acked without verbs (jambonz fails the call),
        # never silence and never a greeting.
        refused = _ack(bad, _send(bad, "session:new", {"call_sid": 42}))
        assert "data" not in refused
        # The same socket, and another call's, go on.
        assert "data" in _ack(bad, _send(bad, "verb:hook", call_info(reason="timeout"), hook="/menu"))
        sid = str(uuid.uuid4())
        greeting = _ack(other, _send(other, "session:new", session_new(call_sid=sid), call_sid=sid))
        assert MENU in json.dumps(greeting["data"])
    assert ivr_server.is_running()


def test_an_upgrade_without_the_subprotocol_is_refused_with_a_status(ivr_server: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        _open(ivr_server, subprotocols=None)
    assert refused.value.response.status_code == 400


def test_basic_auth_is_checked_on_the_upgrade(protected_server: LiveServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        _open(protected_server)
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as wrong:
        _open(protected_server, additional_headers=basic_auth_header(PROTECTED_USERNAME, "not it"))
    assert wrong.value.response.status_code == 401
    headers = basic_auth_header(PROTECTED_USERNAME, PROTECTED_PASSWORD)
    with _open(protected_server, additional_headers=headers) as socket:
        sid = str(uuid.uuid4())
        assert MENU in json.dumps(
            _ack(socket, _send(socket, "session:new", session_new(call_sid=sid)))["data"]
        )


def test_a_secret_alone_does_not_open_websocket_hooks(
    secure_server_origin: str, live_servers: dict[str, LiveServer]
) -> None:
    """jambonz signs nothing over WebSocket: an app protected by its secret only refuses the upgrade."""
    with pytest.raises(InvalidStatus) as refused:
        _open(live_servers["secure"])
    assert refused.value.response.status_code == 401
    assert b"basic auth" in refused.value.response.body


def test_a_dialed_leg_that_became_its_own_call_is_served_on_the_adulting_socket(
    ivr_server: LiveServer,
) -> None:
    with _open(ivr_server, "/incoming/adulting") as socket:
        sid = str(uuid.uuid4())
        ack = _ack(socket, _send(socket, "session:adulting", session_new(call_sid=sid)))
        assert MENU in json.dumps(ack["data"])


@pytest.mark.slow
def test_a_reconnect_on_another_process_finds_the_call_in_redis(tmp_path: Path, redis_url: str) -> None:
    """jambonz reconnects a dropped socket with session:reconnect; it may land on another process."""
    env = {"JAMBONZ_REDIS_URL": redis_url, "JAMBONZ_WEBHOOK_INSECURE": "1"}
    first, second = (_spawn("tests.apps.stateful:app", tmp_path, tag, env) for tag in ("first", "second"))
    try:
        for server in (first, second):
            assert _wait_ready(server, time.monotonic() + 30), server.stderr()
        sid, secret = str(uuid.uuid4()), f"s-{uuid.uuid4().hex}"
        start = session_new(call_sid=sid, env_vars={"COMPANY_NAME": "Initech"})
        start["sip"]["headers"]["X-Secret"] = secret
        with _open(first) as socket:
            greeting = _ack(socket, _send(socket, "session:new", start, call_sid=sid))
            first_pid = int(_said(greeting["data"])[0].removeprefix("pid="))
        # The socket dropped; jambonz reconnects, here to the other process, and carries on.
        with _open(second) as socket:
            _ack(socket, _send(socket, "session:reconnect", start, call_sid=sid))
            answer = _ack(
                socket, _send(socket, "verb:hook", call_info(call_sid=sid), hook="/next", call_sid=sid)
            )
        seen = json.loads(_said(answer["data"])[0])
        assert seen["pid"] != first_pid
        assert seen["stored"] == {"secret": secret, "by_pid": first_pid}
        assert seen["company"] == "Initech"
    finally:
        _stop(first.process)
        _stop(second.process)


def test_a_reconnect_for_a_call_never_answered_gets_the_call_hooks_verbs(call: ClientConnection) -> None:
    """An unacked session:new's wait moves to the session:reconnect: its verbs become the call's."""
    sid = str(uuid.uuid4())
    ack = _ack(call, _send(call, "session:reconnect", session_new(call_sid=sid), call_sid=sid))
    assert MENU in json.dumps(ack["data"])
    # Answered now: a second reconnect is acked without verbs, the handler not run again.
    again = _ack(call, _send(call, "session:reconnect", session_new(call_sid=sid), call_sid=sid))
    assert "data" not in again


@pytest.mark.slow
def test_a_handler_past_its_deadline_is_acked_with_the_fallback_in_time(
    live_servers: dict[str, LiveServer],
) -> None:
    with _open(live_servers["slow"], "/slow-call") as socket:
        started = time.monotonic()
        ack = _ack(socket, _send(socket, "session:new", session_new()))
        assert time.monotonic() - started < 2.0  # the hook's 0.5 s deadline, not the handler's 5 s
        assert _said(ack["data"]) == ["We are sorry, something went wrong. Please call again later."]
        own = _ack(socket, _send(socket, "verb:hook", call_info(), hook="/own-fallback"))
        assert _said(own["data"]) == ["still thinking"]


@pytest.mark.slow
def test_over_websocket_a_handler_has_four_seconds_whatever_its_http_deadline() -> None:
    """jambonz waits 5 s for an ack: the 8 s an HTTP hook may take would drop the call."""
    app = JambonzApp(insecure=True, deadline=8)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        await asyncio.sleep(30)
        return WebhookResponse().hangup()

    with (
        TestClient(app) as client,
        client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL]) as socket,
    ):
        started = time.monotonic()
        socket.send_text(json.dumps({"type": "session:new", "msgid": "m1", "data": session_new()}))
        ack = json.loads(socket.receive_text())
        elapsed = time.monotonic() - started
    assert 3.9 < elapsed < 4.9, elapsed
    assert ack["msgid"] == "m1" and ack["data"][-1] == {"verb": "hangup"}


def test_a_named_hook_with_path_parameters_gets_them() -> None:
    app = JambonzApp(insecure=True)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().hangup()

    @app.action_hook("/step/{number:int}")
    async def step(call: CallSession, number: int) -> WebhookResponse:
        return WebhookResponse().say(text=f"step {number + 1}")

    with (
        TestClient(app) as client,
        client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL]) as socket,
    ):
        socket.send_text(
            json.dumps({"type": "verb:hook", "msgid": "m1", "hook": "/step/3", "data": call_info()})
        )
        ack = json.loads(socket.receive_text())
    assert _said(ack["data"]) == ["step 4"]
