"""The call simulator over jambonz's WebSocket API: what it sends, how it reads acks and commands.

Raw Starlette WebSocket endpoints play apps that send what JambonzApp cannot send yet (commands,
tool outputs, token streams, late or empty acks); JambonzApp apps run the same steps over both
transports.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Coroutine
from typing import Any, Literal

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from jambonz_webhooks import (
    CallSession,
    GatherResult,
    JambonzApp,
    MemoryStore,
    WebhookResponse,
    pytest_plugin,
)
from jambonz_webhooks.pytest_plugin import SimulatorFactory
from jambonz_webhooks.testing import CallSimulator, Command, SimulatorError

# The plugin's fixture, made visible to this module's tests (the plugin is not registered for the suite).
jambonz_simulator = pytest_plugin.jambonz_simulator

SUBPROTOCOL = "ws.jambonz.org"
Envelope = dict[str, Any]
Handler = Callable[[WebSocket, Envelope], Coroutine[Any, Any, None]]


def raw_app(handle: Handler, seen: list[Envelope], *, subprotocol: str | None = SUBPROTOCOL) -> Starlette:
    """A raw WebSocket endpoint at /incoming: each message kept in ``seen``, then given to ``handle``."""

    async def endpoint(websocket: WebSocket) -> None:
        await websocket.accept(subprotocol=subprotocol)
        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                envelope = json.loads(await websocket.receive_text())
                seen.append(envelope)
                # Each message handled on its own, so that a handler may wait for later ones.
                task = asyncio.create_task(handle(websocket, envelope))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        except WebSocketDisconnect:
            for task in tasks:
                task.cancel()

    return Starlette(routes=[WebSocketRoute("/incoming", endpoint)])


async def ack(websocket: WebSocket, envelope: Envelope, verbs: list[dict[str, Any]] | None = None) -> None:
    frame: dict[str, Any] = {"type": "ack", "msgid": envelope["msgid"]}
    if verbs is not None:
        frame["data"] = verbs
    await websocket.send_text(json.dumps(frame))


async def command(websocket: WebSocket, name: str, data: Any = None, **fields: Any) -> None:
    frame = {"type": "command", "command": name, **fields}
    if data is not None:
        frame["data"] = data
    await websocket.send_text(json.dumps(frame))


GATHER = {"verb": "gather", "input": ["digits"], "actionHook": "menu", "say": {"text": "Press a key"}}


def menu_app() -> JambonzApp:
    """Greets, gathers on /menu; /menu says what was pressed and hangs up (``9``: answers nothing)."""
    app = JambonzApp(state=MemoryStore(), webhook_secret=[], basic_auth=("jambonz", "pässword"))

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return (
            WebhookResponse()
            .say(text="hello")
            .gather(input=["digits"], num_digits=1, action_hook="/menu")
            .say(text="after the gather")
            .hangup()
        )

    @app.action_hook("/menu")
    async def menu(result: GatherResult) -> WebhookResponse:
        if result.digits == "9":
            return WebhookResponse()
        return WebhookResponse().say(text=f"you pressed {result.digits}").hangup()

    @app.status_hook("/status")
    async def status() -> None: ...

    return app


# --------------------------------------------------------------------------- one test, both transports


@pytest.mark.parametrize("transport", ["http", "websocket"])
def test_the_same_steps_on_both_transports(
    jambonz_simulator: SimulatorFactory, transport: Literal["http", "websocket"]
) -> None:
    sim = jambonz_simulator(menu_app(), transport=transport)
    call = sim.start().press("4")
    assert call.heard == ["hello", "you pressed 4"]
    assert call.hung_up_by == "app" and call.transport == transport
    # An answer without verbs lets the verbs left run on, on both.
    assert sim.start().press("9").heard == ["hello", "after the gather"]
    assert [request.kind for request in call.requests] == ["call", "status", "action", "status"]


def test_session_new_carries_the_http_call_hooks_payload_on_a_socket_per_call(
    jambonz_simulator: SimulatorFactory,
) -> None:
    seen: list[Envelope] = []
    upgrades: list[dict[str, str]] = []

    async def handle(websocket: WebSocket, envelope: Envelope) -> None:
        if envelope["type"] == "session:new":
            upgrades.append(dict(websocket.headers) | {"path": websocket.url.path})
            await ack(websocket, envelope, [{"verb": "say", "text": "hi"}, GATHER])
        elif envelope["type"] == "verb:hook":
            await ack(websocket, envelope, [{"verb": "hangup"}])

    sim = jambonz_simulator(raw_app(handle, seen), transport="websocket", basic_auth=("u", "p"))
    first = sim.start(env_vars={"A": 1}, customerData={"crm": "7"}).press("1")
    second = sim.start()
    new = seen[0]
    assert new["type"] == "session:new" and new["call_sid"] == first.sid
    assert new["data"] == first.session  # what the HTTP call hook gets, as it is
    assert len(new["msgid"]) == 22 and new["msgid"] != seen[1]["msgid"]  # a short-uuid each
    assert "hook" not in new
    assert upgrades[0]["sec-websocket-protocol"] == SUBPROTOCOL
    assert upgrades[0]["authorization"] == "Basic dTpw"
    assert upgrades[0]["path"] == "/incoming"
    assert len(upgrades) == 2  # one socket per call
    kinds = [
        (envelope["type"], envelope.get("hook")) for envelope in seen if envelope["call_sid"] == first.sid
    ]
    assert kinds == [
        ("session:new", None),
        ("call:status", None),
        ("verb:hook", "menu"),  # the name written in the verb, not resolved to a URL
        ("call:status", None),
    ]
    menu = seen[2]["data"]
    assert menu["digits"] == "1" and menu["customerData"] == {"crm": "7"} and "env_vars" not in menu
    assert [envelope["data"]["call_status"] for envelope in seen if envelope["type"] == "call:status"][
        :2
    ] == [
        "in-progress",
        "completed",
    ]
    assert second.waiting_for == "gather"


def test_a_refused_upgrade_raises_with_its_status(jambonz_simulator: SimulatorFactory) -> None:
    with pytest.raises(SimulatorError) as error:
        jambonz_simulator(menu_app(), transport="websocket", basic_auth=("jambonz", "wrong")).start()
    assert error.value.status_code == 401
    assert error.value.body is not None and "credentials" in error.value.body


def test_an_app_that_does_not_echo_the_subprotocol_loses_the_call(
    jambonz_simulator: SimulatorFactory,
) -> None:
    app = raw_app(
        lambda websocket, envelope: ack(websocket, envelope, [{"verb": "hangup"}]), [], subprotocol=None
    )
    with pytest.raises(SimulatorError, match=r"did not echo the subprotocol ws\.jambonz\.org"):
        jambonz_simulator(app, transport="websocket").start()


@pytest.mark.parametrize("verbs", [None, []])
def test_a_session_new_ack_without_verbs_fails_the_call(
    jambonz_simulator: SimulatorFactory, verbs: list[dict[str, Any]] | None
) -> None:
    app = raw_app(lambda websocket, envelope: ack(websocket, envelope, verbs), [])
    with pytest.raises(SimulatorError, match=r"session:new ack carries no verbs .*rejects the call"):
        jambonz_simulator(app, transport="websocket").start()


def test_an_ack_that_is_not_a_list_of_verbs_raises(jambonz_simulator: SimulatorFactory) -> None:
    async def handle(websocket: WebSocket, envelope: Envelope) -> None:
        await websocket.send_text(
            json.dumps({"type": "ack", "msgid": envelope["msgid"], "data": {"verb": "say"}})
        )

    with pytest.raises(SimulatorError, match="something else than a list of verbs"):
        jambonz_simulator(raw_app(handle, []), transport="websocket").start()


@pytest.mark.slow
def test_a_late_ack_is_an_error_naming_the_hook(jambonz_simulator: SimulatorFactory) -> None:
    """jambonz waits 5 s for an ack, then fails the hook: so does the simulator, by default."""
    acks_sent: list[str] = []

    async def handle(websocket: WebSocket, envelope: Envelope) -> None:
        if envelope["type"] == "session:new":
            await ack(websocket, envelope, [GATHER])
        elif envelope["type"] == "verb:hook":
            await asyncio.sleep(5.5)
            acks_sent.append(envelope["msgid"])
            await ack(websocket, envelope, [{"verb": "hangup"}])

    sim = jambonz_simulator(raw_app(handle, []), transport="websocket")
    assert sim.ack_timeout == 5.0
    call = sim.start()
    started = time.monotonic()
    with pytest.raises(SimulatorError, match=r"no ack for the verb:hook of the hook 'menu' within 5 s"):
        call.press("1")
    assert 4.9 < time.monotonic() - started < 5.5
    assert acks_sent == []


# --------------------------------------------------------------------------- commands


def test_commands_are_recorded_in_order_and_a_redirect_replaces_the_running_verbs(
    jambonz_simulator: SimulatorFactory,
) -> None:
    seen: list[Envelope] = []

    async def handle(websocket: WebSocket, envelope: Envelope) -> None:
        if envelope["type"] == "session:new":
            await command(websocket, "mute:status", {"mute_status": "mute"})
            await ack(
                websocket, envelope, [{"verb": "say", "text": "hi"}, GATHER, {"verb": "say", "text": "left"}]
            )
            # From a background task, after the ack: the app takes the call elsewhere.
            await asyncio.sleep(0.2)
            await command(websocket, "dtmf", {"dtmf": {"digit": "5", "duration": 250}}, callSid="leg-b")
            await command(websocket, "redirect", [{"verb": "say", "text": "redirected"}, GATHER])
            await command(websocket, "redirect", [{"verb": "say", "text": "queued"}], queueCommand=True)
        elif envelope["type"] == "verb:hook":
            await ack(websocket, envelope)  # no verbs: the queued ones run on

    call = jambonz_simulator(raw_app(handle, seen), transport="websocket").start()
    assert call.heard == ["hi", "Press a key"]
    assert [command.name for command in call.commands] == ["mute:status"]  # sent before the ack
    redirect = call.wait_for_command("redirect", timeout=3)
    assert redirect.data[0] == {"verb": "say", "text": "redirected"} and redirect.queue is False
    queued = call.wait_for_command("redirect", timeout=3)
    assert queued.queue is True
    assert [command.name for command in call.commands] == ["mute:status", "dtmf", "redirect", "redirect"]
    assert call.commands[1] == Command("dtmf", {"dtmf": {"digit": "5", "duration": 250}}, call_sid="leg-b")
    # The redirect killed the first gather (its "left" never ran) and waits at its own.
    assert call.heard == ["hi", "Press a key", "redirected", "Press a key"]
    call.press("2")
    assert call.heard[-1] == "queued"
    assert not call.ended  # over WebSocket, running out of verbs does not hang up
    assert call.log[-1] == "no verbs left: jambonz waits for a command"


def test_a_redirect_to_a_call_hook_sends_session_redirect_and_a_completed_status_ends_the_call(
    jambonz_simulator: SimulatorFactory,
) -> None:
    seen: list[Envelope] = []

    async def handle(websocket: WebSocket, envelope: Envelope) -> None:
        if envelope["type"] == "session:new":
            await ack(websocket, envelope, [GATHER])
        elif envelope["type"] == "verb:hook":
            await ack(websocket, envelope)
            await command(websocket, "redirect", {"call_hook": "/agent"})
        elif envelope["type"] == "session:redirect":
            await ack(websocket, envelope, [{"verb": "say", "text": "the agent speaks"}])
            await asyncio.sleep(0.1)
            await command(websocket, "whisper", {"whisper": {"verb": "say", "text": "psst"}})
            await command(websocket, "call:status", {"call_status": "completed"})

    call = jambonz_simulator(raw_app(handle, seen), transport="websocket").start().press("1")
    call.wait_for_command("call:status", timeout=3)
    redirect = next(envelope for envelope in seen if envelope["type"] == "session:redirect")
    assert redirect["hook"] == "/agent" and redirect["data"]["call_sid"] == call.sid
    assert call.heard[-1] == "the agent speaks"
    assert [command.name for command in call.commands] == ["redirect", "whisper", "call:status"]
    assert call.ended and call.hung_up_by == "app"
    assert seen[-1]["type"] == "call:status" and seen[-1]["data"]["call_status"] == "completed"


@pytest.mark.slow
def test_an_invalid_message_is_answered_with_jambonz_error_and_the_call_goes_on(
    jambonz_simulator: SimulatorFactory,
) -> None:
    seen: list[Envelope] = []

    async def handle(websocket: WebSocket, envelope: Envelope) -> None:
        if envelope["type"] == "session:new":
            await websocket.send_text(json.dumps({"type": "command", "command": "whisper"}))  # no data
            await websocket.send_text(json.dumps({"type": "llm:tool-output"}))  # not a type the app sends
            await ack(websocket, envelope, [GATHER])

    call = jambonz_simulator(raw_app(handle, seen), transport="websocket").start()
    call.poll(0.5)
    errors = [envelope["data"] for envelope in seen if envelope["type"] == "jambonz:error"]
    assert [error["details"] for error in errors] == [
        "data property not supplied",
        "invalid type property: llm:tool-output",
    ]
    assert all(error["msg"] == "InvalidMessage" for error in errors)
    assert call.commands == [] and call.waiting_for == "gather"


def test_waiting_for_a_command_that_never_comes_raises(jambonz_simulator: SimulatorFactory) -> None:
    call = jambonz_simulator(menu_app(), transport="websocket").start()
    with pytest.raises(
        SimulatorError, match=r"no 'whisper' command within 0.2 s \(commands received: none\)"
    ):
        call.wait_for_command("whisper", timeout=0.2)
    over_http = jambonz_simulator(menu_app()).start()
    with pytest.raises(SimulatorError, match="over HTTP commands go through the REST API"):
        over_http.wait_for_command("whisper")


# --------------------------------------------------------------------------- tools, tokens, events


def test_a_tool_call_round_trip_over_websocket(jambonz_simulator: SimulatorFactory) -> None:
    seen: list[Envelope] = []

    async def handle(websocket: WebSocket, envelope: Envelope) -> None:
        if envelope["type"] == "session:new":
            await ack(websocket, envelope, [{"verb": "llm", "vendor": "openai", "toolHook": "/tools"}])
        elif envelope["type"] == "llm:tool-call":
            data = envelope["data"]
            await command(websocket, "llm:tool-output", tool_call_id="someone-else")  # not this call's
            output = {"type": "client_tool_result", "result": f"sunny in {data['args']['city']}"}
            await command(websocket, "llm:tool-output", output, tool_call_id=data["tool_call_id"])

    call = jambonz_simulator(raw_app(handle, seen), transport="websocket").start()
    answer = call.tool_call("get_weather", {"city": "Paris"}, hook="/tools", tool_call_id="call_1")
    assert answer == Command(
        "llm:tool-output", {"type": "client_tool_result", "result": "sunny in Paris"}, tool_call_id="call_1"
    )
    sent = seen[-1]
    assert sent["type"] == "llm:tool-call" and sent["hook"] == "/tools" and sent["call_sid"] == call.sid
    assert sent["data"] == {"tool_call_id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}
    assert call.requests[-1].kind == "tool"


def test_a_tool_call_over_http_posts_the_tool_hook(jambonz_simulator: SimulatorFactory) -> None:
    received: list[dict[str, Any]] = []

    async def incoming(request: Request) -> JSONResponse:
        return JSONResponse([{"verb": "llm", "vendor": "openai", "toolHook": "/tools"}])

    async def tools(request: Request) -> JSONResponse:
        received.append(await request.json())
        return JSONResponse({"type": "client_tool_result", "result": 42})

    app = Starlette(
        routes=[Route("/incoming", incoming, methods=["POST"]), Route("/tools", tools, methods=["POST"])]
    )
    call = jambonz_simulator(app, status_hook=None).start()
    answer = call.tool_call("add", {"a": 40, "b": 2})
    # What jambonz POSTs to a tool hook: the call, its name and arguments (no call fields).
    assert received == [{"tool_call_id": answer.tool_call_id, "name": "add", "args": {"a": 40, "b": 2}}]
    assert answer.name == "llm:tool-output" and answer.data == {"type": "client_tool_result", "result": 42}
    assert call.waiting_for == "llm"  # the conversation goes on until it ends
    call.llm_ended()
    assert call.ended and call.log[-2] == "llm conversation ends: normal conversation end"


def test_a_token_stream_with_a_full_pause(jambonz_simulator: SimulatorFactory) -> None:
    """The app streams tokens, meets jambonz's ``full``, waits for ``stream_resumed``, resends."""
    results: list[dict[str, Any]] = []
    answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    resumed = asyncio.Event()

    async def handle(websocket: WebSocket, envelope: Envelope) -> None:
        kind = envelope["type"]
        if kind == "session:new":
            await ack(websocket, envelope, [{"verb": "say", "stream": True}])
        elif kind == "llm:event":  # the test's signal to start streaming
            for number, text in enumerate(["Hello ", "world"], start=1):
                while True:
                    await command(websocket, "tts:tokens", {"id": number, "tokens": text})
                    if (await answers.get())["status"] == "ok":
                        break
                    await resumed.wait()  # full: wait for room, then send the same tokens again
                    resumed.clear()
            await command(websocket, "tts:flush")
        elif kind == "tts:tokens-result":
            results.append(envelope["data"])
            answers.put_nowait(envelope["data"])
        elif kind == "tts:streaming-event" and envelope["data"]["event_type"] == "stream_resumed":
            resumed.set()

    call = jambonz_simulator(raw_app(handle, []), transport="websocket").start()
    call.refuse_tokens(1).send_event("llm:event", {"type": "response.created"}, hook="/events")
    first = call.wait_for_command("tts:tokens", timeout=3)
    assert first.data == {"id": 1, "tokens": "Hello "}
    assert call.tokens_paused and call.tokens_text == ""
    call.resume_tokens()
    call.wait_for_command("tts:flush", timeout=3)
    assert call.tokens_text == "Hello world" and not call.tokens_paused
    assert results == [
        {"id": 1, "status": "failed", "reason": "full"},
        {"id": 1, "status": "ok"},
        {"id": 2, "status": "ok"},
    ]
    assert [command.name for command in call.commands] == ["tts:tokens"] * 3 + ["tts:flush"]


def test_send_event_over_http_needs_a_hook() -> None:
    with CallSimulator(menu_app()) as sim:
        call = sim.start()
        with pytest.raises(SimulatorError, match="over HTTP jambonz sends verb:status to no hook"):
            call.send_event("verb:status", {"event": "starting", "id": "v1", "name": "say"})
