"""Live call control: one CallControl, commands on the call's socket or through the REST API.

Over WebSocket every command is a ``command`` frame on the call's own socket, in the shape
jambonz-feature-server 0.9.8's ``_onCommand`` reads (../shared/PROTOCOL-WS.md section 4); over
HTTP the same method is the REST API's update where it has one, and CommandUnavailable where it
has none. Background tasks are kept with the call and end with it; a dropped socket is waited
for; streamed text follows jambonz's flow control.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketTestSession
from websockets.sync.client import connect
from websockets.typing import Subprotocol

from jambonz_webhooks import (
    Background,
    CallControl,
    CallEndedError,
    CallSession,
    CallStatus,
    CommandUnavailable,
    ConferenceStatus,
    GatherResult,
    JambonzApp,
    JambonzError,
    LlmToolCall,
    MemoryStore,
    TokensRefused,
    ToolError,
    TtsStreamingEvent,
    VerbStatus,
    WebhookResponse,
)
from jambonz_webhooks.control import RECONNECT_WAIT
from jambonz_webhooks.verbs import Room, Say
from tests.conftest import INSECURE, _spawn, _stop, _wait_ready
from tests.fake_jambonz_api import ACCOUNT_SID, API_KEY, LIVE_CALL_SID, FakeJambonzAPI
from tests.payloads import call_info, session_new

SUBPROTOCOL = "ws.jambonz.org"
SIPREC = "sip:rec@10.0.0.9"
Command = Callable[[CallControl], Awaitable[None]]


def _app() -> JambonzApp:
    return JambonzApp(insecure=True, state=MemoryStore())


def _message(socket: WebSocketTestSession, kind: str, data: Any, msgid: str = "m1", **fields: Any) -> None:
    socket.send_text(json.dumps({"type": kind, "msgid": msgid, **fields, "data": data}))


Frame = dict[str, Any]


def _until_ack(socket: WebSocketTestSession, msgid: str = "m1") -> tuple[list[Frame], Frame]:
    """The command frames received before the ack of ``msgid``, and that ack."""
    commands: list[Frame] = []
    while True:
        frame = json.loads(socket.receive_text())
        if frame["type"] == "ack":
            assert frame["msgid"] == msgid, frame
            return commands, frame
        assert frame["type"] == "command", frame
        commands.append(frame)


def _command(name: str, data: Any, **extra: Any) -> dict[str, Any]:
    frame: dict[str, Any] = {"type": "command", "command": name, "queueCommand": False, **extra}
    if data is not None:
        frame["data"] = data
    return frame


@pytest.fixture
def socket_of() -> Iterator[Callable[[JambonzApp], WebSocketTestSession]]:
    with_clients: list[Any] = []

    def open_socket(app: JambonzApp) -> WebSocketTestSession:
        client = TestClient(app)
        client.__enter__()
        with_clients.append(client)
        socket = client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL])
        session = socket.__enter__()
        with_clients.append(socket)
        return session

    yield open_socket
    for entered in reversed(with_clients):
        entered.__exit__(None, None, None)


# (the command, the frame it is over WebSocket, the REST update body it is over HTTP or None)
WIRE: list[tuple[str, Command, dict[str, Any], dict[str, Any] | None]] = [
    (
        "hangup",
        lambda c: c.hangup(),
        _command("call:status", {"call_status": "completed"}),
        {"call_status": "completed"},
    ),
    (
        "reject",
        lambda c: c.hangup("no-answer"),
        _command("call:status", {"call_status": "no-answer"}),
        {"call_status": "no-answer"},
    ),
    ("mute", lambda c: c.mute(), _command("mute:status", {"mute_status": "mute"}), {"mute_status": "mute"}),
    (
        "unmute",
        lambda c: c.unmute(),
        _command("mute:status", {"mute_status": "unmute"}),
        {"mute_status": "unmute"},
    ),
    (
        "whisper",
        lambda c: c.whisper(Say(text="psst")),
        _command("whisper", {"whisper": [{"verb": "say", "text": "psst"}]}),
        {"whisper": {"verb": "say", "text": "psst"}},
    ),
    (
        "pause listen",
        lambda c: c.pause_listen(),
        _command("listen:status", {"listen_status": "pause"}),
        {"listen_status": "pause"},
    ),
    (
        "resume stream",
        lambda c: c.resume_stream(),
        _command("stream:status", {"stream_status": "resume"}),
        {"listen_status": "resume"},
    ),
    (
        "pause transcription",
        lambda c: c.pause_transcription(),
        _command("transcribe:status", {"transcribe_status": "pause"}),
        {"transcribe_status": "pause"},
    ),
    (
        "record",
        lambda c: c.record("startCallRecording", recording_id="r1", siprec_server_url=SIPREC),
        _command(
            "record",
            {"action": "startCallRecording", "recordingID": "r1", "siprecServerURL": SIPREC},
        ),
        {
            "record": {
                "action": "startCallRecording",
                "recordingID": "r1",
                "siprecServerURL": SIPREC,
            }
        },
    ),
    (
        "sip request",
        lambda c: c.sip_request(
            "INFO", content_type="application/json", content='{"a":1}', headers={"X-A": "b"}
        ),
        _command(
            "sip:request",
            {
                "sip_request": {
                    "method": "INFO",
                    "content_type": "application/json",
                    "content": '{"a":1}',
                    "headers": {"X-A": "b"},
                }
            },
        ),
        {
            "sip_request": {
                "method": "INFO",
                "content_type": "application/json",
                "content": '{"a":1}',
                "headers": {"X-A": "b"},
            }
        },
    ),
    (
        "dtmf",
        lambda c: c.dtmf("#"),
        _command("dtmf", {"dtmf": {"digit": "#", "duration": 250}}),
        {"dtmf": {"digit": "#", "duration": 250}},
    ),
    (
        "dub",
        lambda c: c.dub(action="addTrack", track="music"),
        _command("dub", {"action": "addTrack", "track": "music"}),
        {"dub": {"action": "addTrack", "track": "music"}},
    ),
    (
        "conference mute",
        lambda c: c.conference_mute(),
        _command("conf:mute-status", {"conf_mute_status": "mute"}),
        {"conf_mute_status": "mute"},
    ),
    (
        "conference unhold",
        lambda c: c.conference_hold(False),
        _command("conf:hold-status", {"conf_hold_status": "unhold"}),
        {"conf_hold_status": "unhold"},
    ),
    (
        "conference action",
        lambda c: c.conference_action("tag", tag="vip"),
        _command("conf:participant-action", {"action": "tag", "tag": "vip"}),
        {"conferenceParticipantAction": {"action": "tag", "tag": "vip"}},
    ),
    (
        "redirect to a hook",
        lambda c: c.redirect("/next"),
        _command("redirect", {"call_hook": "/next"}),
        {"call_hook": {"url": "/next"}},
    ),
    (
        "redirect the child",
        lambda c: c.redirect_child("/child"),
        _command("redirect", {"child_call_hook": "/child"}),
        {"child_call_hook": {"url": "/child"}},
    ),
    (
        "redirect to verbs",
        lambda c: c.redirect(WebhookResponse().say(text="Moved").hangup()),
        _command("redirect", [{"verb": "say", "text": "Moved"}, {"verb": "hangup"}]),
        None,
    ),
    (
        "queue verbs",
        lambda c: c.redirect([Say(text="Later")], queue=True),
        {
            "type": "command",
            "command": "redirect",
            "queueCommand": True,
            "data": [{"verb": "say", "text": "Later"}],
        },
        None,
    ),
    ("config", lambda c: c.config(notify_events=True), _command("config", {"notifyEvents": True}), None),
    (
        "tool output",
        lambda c: c.tool_output("call_7", {"type": "client_tool_result", "result": "42"}),
        _command("llm:tool-output", {"type": "client_tool_result", "result": "42"}, tool_call_id="call_7"),
        None,
    ),
    (
        "llm update",
        lambda c: c.update_llm({"instructions": "be brief"}),
        _command("llm:update", {"instructions": "be brief"}),
        None,
    ),
    ("flush tokens", lambda c: c.flush_tokens(), _command("tts:flush", None), None),
    ("clear tokens", lambda c: c.clear_tokens(), _command("tts:clear", None), None),
    ("raw command", lambda c: c.command("boostAudioSignal", "-6"), _command("boostAudioSignal", "-6"), None),
]
IDS = [name for name, *_ in WIRE]


@pytest.mark.parametrize(("name", "send", "frame", "rest"), WIRE, ids=IDS)
def test_each_command_over_websocket(
    name: str,
    send: Command,
    frame: dict[str, Any],
    rest: dict[str, Any] | None,
    socket_of: Callable[[JambonzApp], WebSocketTestSession],
) -> None:
    app = _app()

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
        assert control.transport == "websocket"
        await send(control)
        return WebhookResponse().say(text="Hello")

    @app.action_hook("/next")
    async def next_hook(call: CallSession) -> None:
        return None

    socket = socket_of(app)
    _message(socket, "session:new", session_new(call_sid="c-ws"), call_sid="c-ws")
    commands, ack = _until_ack(socket)
    assert commands == [frame]
    assert ack["data"] == [{"verb": "say", "text": "Hello"}]


@pytest.mark.parametrize(("name", "send", "frame", "rest"), WIRE, ids=IDS)
def test_each_command_over_http(
    name: str,
    send: Command,
    frame: dict[str, Any],
    rest: dict[str, Any] | None,
    fake_api: FakeJambonzAPI,
    fake_api_server: tuple[FakeJambonzAPI, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("JAMBONZ_API_KEY", API_KEY)
    origin = fake_api_server[1]
    app = JambonzApp(insecure=True, state=MemoryStore(), api_base_url=origin)
    failures: list[Exception] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
        assert control.transport == "http"
        try:
            await send(control)
        except CommandUnavailable as exc:
            failures.append(exc)
        return WebhookResponse().say(text="Hello")

    @app.action_hook("/next")
    async def next_hook(call: CallSession) -> None:
        return None

    payload = session_new(account_sid=ACCOUNT_SID, call_sid=LIVE_CALL_SID)
    with TestClient(app) as client:
        answer = client.post("/incoming", json=payload)
    assert answer.status_code == 200
    assert answer.json() == [{"verb": "say", "text": "Hello"}]
    if rest is None:
        (failure,) = failures
        assert "WebSocket" in str(failure)
        assert fake_api.requests == []
    else:
        assert failures == []
        fake_api.assert_clean()
        assert fake_api.updates[LIVE_CALL_SID] == [rest]


def test_bad_commands_are_refused_before_anything_is_sent(
    socket_of: Callable[[JambonzApp], WebSocketTestSession],
) -> None:
    app = _app()
    errors: list[str] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
        bad_commands: list[Callable[[], Awaitable[None]]] = [
            lambda: control.dtmf("12x"),
            lambda: control.dtmf(""),
            lambda: control.config({"verb": "say", "text": "not a config"}),
            lambda: control.redirect("/next", queue=True),
            lambda: control.whisper({"verb": "nope"}),
        ]
        for bad in bad_commands:
            try:
                await bad()
            except (ValueError, TypeError, CommandUnavailable) as exc:
                errors.append(type(exc).__name__)
        return WebhookResponse().say(text="Hello")

    socket = socket_of(app)
    _message(socket, "session:new", session_new(call_sid="c-bad"), call_sid="c-bad")
    commands, ack = _until_ack(socket)
    assert commands == []
    assert len(errors) == 5
    assert ack["data"] == [{"verb": "say", "text": "Hello"}]


def test_a_background_task_sends_commands_after_the_ack_until_the_call_ends(
    socket_of: Callable[[JambonzApp], WebSocketTestSession],
) -> None:
    app = _app()
    go = asyncio.Event()
    ended: list[str] = []

    async def later(control: CallControl) -> None:
        try:
            await go.wait()
            await control.whisper(Say(text="Your agent is ready"))
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            ended.append("cancelled")
            raise

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
        control.start(later(control))
        return WebhookResponse().say(text="Please hold").gather(action_hook="/menu")

    @app.action_hook("/menu")
    async def menu(result: GatherResult) -> WebhookResponse:
        go.set()
        return WebhookResponse().say(text="Still holding")

    socket = socket_of(app)
    _message(socket, "session:new", session_new(call_sid="c-bg"), call_sid="c-bg")
    assert _until_ack(socket)[0] == []
    _message(socket, "verb:hook", call_info(call_sid="c-bg", digits="1"), msgid="m2", hook="/menu")
    frames = [json.loads(socket.receive_text()) for _ in range(2)]
    whisper = _command("whisper", {"whisper": [{"verb": "say", "text": "Your agent is ready"}]})
    assert whisper in frames
    assert {"type": "ack", "msgid": "m2", "data": [{"verb": "say", "text": "Still holding"}]} in frames
    assert len(app.hook_settings.calls) == 1
    # jambonz says the call is over: the task is cancelled and the call forgotten.
    _message(socket, "call:status", call_info(call_sid="c-bg", call_status="completed"), msgid="m3")
    _wait_for(lambda: ended == ["cancelled"])
    assert len(app.hook_settings.calls) == 0


def _wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_commands_wait_for_a_dropped_socket_and_go_over_the_new_one() -> None:
    app = _app()
    go = asyncio.Event()
    sent: list[str] = []

    async def later(control: CallControl) -> None:
        await go.wait()
        await control.mute()
        sent.append("mute")

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
        control.start(later(control))
        return WebhookResponse().say(text="Hello")

    @app.action_hook("/go")
    async def release(call: CallSession) -> None:
        go.set()

    with TestClient(app) as client:
        with client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL]) as first:
            _message(first, "session:new", session_new(call_sid="c-re"), call_sid="c-re")
            _until_ack(first)
            first.close(1006)  # dropped: jambonz reconnects
        with client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL]) as second:
            # The task's command waits while no socket serves the call.
            data = session_new(call_sid="c-re")
            _message(second, "session:reconnect", data, msgid="r1", call_sid="c-re")
            assert _until_ack(second, "r1") == ([], {"type": "ack", "msgid": "r1"})
            _message(second, "verb:hook", call_info(call_sid="c-re"), msgid="m2", hook="/go")
            frames = [json.loads(second.receive_text()) for _ in range(2)]
            assert _command("mute:status", {"mute_status": "mute"}) in frames
            assert sent == ["mute"]


def test_a_socket_closed_normally_ends_the_call_and_its_commands_fail() -> None:
    app = _app()
    results: list[str] = []
    go = asyncio.Event()

    async def later(control: CallControl) -> None:
        try:
            await go.wait()
        finally:
            results.append("ended")

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
        control.start(later(control))
        return WebhookResponse().say(text="Hello")

    with TestClient(app) as client:
        with client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL]) as socket:
            _message(socket, "session:new", session_new(call_sid="c-end"), call_sid="c-end")
            _until_ack(socket)
            socket.close(1000)
        _wait_for(lambda: results == ["ended"])
        assert len(app.hook_settings.calls) == 0


def test_a_command_for_a_call_whose_socket_never_returns_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("jambonz_webhooks.control.RECONNECT_WAIT", 0.2)
    app = _app()
    outcome: list[str] = []

    async def later(control: CallControl) -> None:
        await asyncio.sleep(0.05)
        try:
            await control.mute()
        except CallEndedError as exc:
            outcome.append(str(exc))

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
        control.start(later(control))
        return WebhookResponse().say(text="Hello")

    with TestClient(app) as client:
        with client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL]) as socket:
            _message(socket, "session:new", session_new(call_sid="c-gone"), call_sid="c-gone")
            _until_ack(socket)
            socket.close(1011)
        _wait_for(lambda: bool(outcome))
    assert outcome == ["the socket of call c-gone is gone"]
    assert RECONNECT_WAIT == 10.0  # the module's own value is jambonz's backoff, patched here


def test_an_http_call_keeps_its_tasks_until_its_final_status(
    fake_api: FakeJambonzAPI, fake_api_server: tuple[FakeJambonzAPI, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAMBONZ_API_KEY", API_KEY)
    app = JambonzApp(insecure=True, state=MemoryStore(), api_base_url=fake_api_server[1])
    steps: list[str] = []

    async def later(control: CallControl) -> None:
        try:
            await control.mute()
            steps.append("muted")
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            steps.append("cancelled")
            raise

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        call.client.start(later(call.client))
        return WebhookResponse().say(text="Hello")

    @app.status_hook("/status")
    async def status(event: CallStatus) -> None:
        return None

    payload = session_new(account_sid=ACCOUNT_SID, call_sid=LIVE_CALL_SID)
    with TestClient(app) as client:
        assert client.post("/incoming", json=payload).status_code == 200
        _wait_for(lambda: steps == ["muted"])
        assert fake_api.updates[LIVE_CALL_SID] == [{"mute_status": "mute"}]
        assert len(app.hook_settings.calls) == 1
        done = call_info(call_sid=LIVE_CALL_SID, account_sid=ACCOUNT_SID, call_status="completed")
        assert client.post("/status", json=done).status_code == 204
        _wait_for(lambda: steps == ["muted", "cancelled"])
        assert len(app.hook_settings.calls) == 0


@pytest.mark.parametrize("raised", [LookupError("no such order"), SystemExit(2)], ids=["error", "exit"])
def test_a_failing_task_is_logged_with_the_call_sid(
    socket_of: Callable[[JambonzApp], WebSocketTestSession],
    caplog: pytest.LogCaptureFixture,
    raised: BaseException,
) -> None:
    # SystemExit from a task would end asyncio's event loop: here it is the task's failure.
    app = _app()

    async def broken() -> None:
        raise raised

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
        control.start(broken())
        return WebhookResponse().say(text="Hello")

    socket = socket_of(app)
    _message(socket, "session:new", session_new(call_sid="c-fail"), call_sid="c-fail")
    _until_ack(socket)
    _wait_for(lambda: any("c-fail" in record.getMessage() for record in caplog.records))
    (record,) = [record for record in caplog.records if "c-fail" in record.getMessage()]
    assert record.levelname == "ERROR"
    assert "background task" in record.getMessage()


def test_socket_events_reach_their_handlers(socket_of: Callable[[JambonzApp], WebSocketTestSession]) -> None:
    app = _app()
    seen: list[Any] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().config(notify_events=True).say(text="Hello", id="greeting")

    @app.on("verb:status")
    async def verb_status(event: VerbStatus, control: CallControl) -> None:
        seen.append(("verb", event.event, event.id, event.name))
        if event.event == "finished":
            await control.hangup()

    @app.on("jambonz:error")
    async def error(event: JambonzError) -> None:
        seen.append(("error", event.msg, event.details))

    @app.on("tts:streaming-event")
    async def tts(event: TtsStreamingEvent) -> None:
        seen.append(("tts", event.event_type))

    socket = socket_of(app)
    _message(socket, "session:new", session_new(call_sid="c-ev"), call_sid="c-ev")
    _until_ack(socket)
    _message(socket, "verb:status", {"event": "starting", "id": "greeting", "name": "say"}, msgid="e1")
    _message(socket, "jambonz:error", {"msg": "InvalidMessage", "details": "msgid not supplied"}, msgid="e2")
    _message(socket, "tts:streaming-event", {"event_type": "user_interruption"}, msgid="e3")
    _message(socket, "verb:status", {"event": "finished", "id": "greeting", "name": "say"}, msgid="e4")
    frame = json.loads(socket.receive_text())
    assert frame == _command("call:status", {"call_status": "completed"})
    _wait_for(lambda: len(seen) == 4)
    assert sorted(seen, key=str) == sorted(
        [
            ("verb", "starting", "greeting", "say"),
            ("error", "InvalidMessage", "msgid not supplied"),
            ("tts", "user_interruption"),
            ("verb", "finished", "greeting", "say"),
        ],
        key=str,
    )


def test_registering_an_unknown_event_fails_at_once() -> None:
    app = _app()
    with pytest.raises(ValueError, match="verb:status"):
        app.on("verb:stauts")


def test_streamed_text_waits_while_jambonz_is_full(
    socket_of: Callable[[JambonzApp], WebSocketTestSession],
) -> None:
    app = _app()
    done: list[str] = []

    async def speak(control: CallControl) -> None:
        async def words() -> Any:
            for word in ("Hello ", "there, ", "how can I help?"):
                yield word

        await control.stream_tokens(words())
        done.append("spoken")

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
        control.start(speak(control))
        return WebhookResponse().say(stream=True)

    socket = socket_of(app)
    _message(socket, "session:new", session_new(call_sid="c-tts"), call_sid="c-tts")
    _until_ack(socket)

    def tokens() -> dict[str, Any]:
        frame = json.loads(socket.receive_text())
        assert frame["command"] == "tts:tokens", frame
        data: dict[str, Any] = frame["data"]
        return data

    first = tokens()
    assert first["tokens"] == "Hello "
    _message(socket, "tts:tokens-result", {"id": first["id"], "status": "ok"}, msgid="t1")
    second = tokens()
    assert second["tokens"] == "there, "
    # jambonz's buffer is full: nothing more comes until it says the stream resumed.
    _message(
        socket, "tts:tokens-result", {"id": second["id"], "status": "failed", "reason": "full"}, msgid="t2"
    )
    _message(socket, "tts:streaming-event", {"event_type": "stream_paused"}, msgid="t3")
    time.sleep(0.3)
    assert done == []
    _message(socket, "tts:streaming-event", {"event_type": "stream_resumed"}, msgid="t4")
    again = tokens()
    assert again["tokens"] == "there, " and again["id"] != second["id"]
    _message(socket, "tts:tokens-result", {"id": again["id"], "status": "ok"}, msgid="t5")
    third = tokens()
    assert third["tokens"] == "how can I help?"
    _message(socket, "tts:tokens-result", {"id": third["id"], "status": "ok"}, msgid="t6")
    assert json.loads(socket.receive_text()) == _command("tts:flush", None)
    _wait_for(lambda: done == ["spoken"])


def test_streamed_text_refused_for_another_reason_raises(
    socket_of: Callable[[JambonzApp], WebSocketTestSession],
) -> None:
    app = _app()
    failures: list[str] = []

    async def speak(control: CallControl) -> None:
        try:
            await control.send_tokens("Hello")
        except TokensRefused as exc:
            failures.append(str(exc))

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
        control.start(speak(control))
        return WebhookResponse().say(text="Hello")

    socket = socket_of(app)
    _message(socket, "session:new", session_new(call_sid="c-no"), call_sid="c-no")
    _until_ack(socket)
    frame = json.loads(socket.receive_text())
    # fs 0.9.8 answers with the id alone when the call runs no TTS stream.
    _message(socket, "tts:tokens-result", {"id": frame["data"]["id"]}, msgid="t1")
    _wait_for(lambda: bool(failures))
    assert failures == ["jambonz refused the streamed text: no TTS stream"]


def test_long_text_is_cut_to_fit_jambonzs_buffer() -> None:
    from jambonz_webhooks.tokens import MAX_PIECE, pieces

    text = " ".join(f"word{index}" for index in range(400))
    cut = pieces(text)
    assert "".join(cut) == text
    assert all(0 < len(piece) <= MAX_PIECE for piece in cut)
    assert all(piece.endswith(" ") for piece in cut[:-1])  # at spaces
    assert pieces("x" * 1201) == ["x" * 500, "x" * 500, "x" * 201]


@pytest.mark.slow
def test_commands_from_a_handler_and_a_task_on_a_real_server(tmp_path: Path) -> None:
    server = _spawn("tests.apps.live_control:app", tmp_path, "control", INSECURE)
    try:
        assert _wait_ready(server, time.monotonic() + 30), server.stderr()
        url = f"ws://127.0.0.1:{server.port}/incoming"
        with connect(url, subprotocols=[Subprotocol(SUBPROTOCOL)], open_timeout=10) as socket:

            def receive() -> Frame:
                frame: Frame = json.loads(socket.recv(timeout=5))
                return frame

            def send(kind: str, data: Any, msgid: str, **fields: Any) -> None:
                socket.send(json.dumps({"type": kind, "msgid": msgid, **fields, "data": data}))

            send("session:new", session_new(call_sid="c-live"), "m1", call_sid="c-live")
            assert receive() == _command("mute:status", {"mute_status": "mute"})
            ack = receive()
            assert ack["type"] == "ack" and ack["msgid"] == "m1"
            assert ack["data"][0] == {"verb": "say", "text": "Please hold"}
            send("verb:hook", call_info(call_sid="c-live", digits="1"), "m2", hook="/menu")
            frames = [receive() for _ in range(4)]
            assert frames[0] == _command("mute:status", {"mute_status": "unmute"})
            assert {"type": "ack", "msgid": "m2", "data": [{"verb": "say", "stream": True}]} in frames
            whisper = _command("whisper", {"whisper": [{"verb": "say", "text": "An agent is ready"}]})
            assert whisper in frames
            tokens = [frame for frame in frames if frame.get("command") == "tts:tokens"]
            assert [frame["data"]["tokens"] for frame in tokens] == ["Thank you "]
            send("tts:tokens-result", {"id": tokens[0]["data"]["id"], "status": "ok"}, "t1")
            second = receive()
            assert second["data"]["tokens"] == "for waiting."
            send("tts:tokens-result", {"id": second["data"]["id"], "status": "ok"}, "t2")
            assert receive() == _command("tts:flush", None)
    finally:
        _stop(server.process)


def test_the_final_status_handler_finishes_though_jambonz_closes_at_once() -> None:
    app = _app()
    seen: list[str] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().say(text="Hello")

    @app.status_hook("/status")
    async def status(event: CallStatus) -> None:
        await asyncio.sleep(0.3)  # writing the call's record somewhere
        seen.append(str(event.call_status))

    with TestClient(app) as client:
        with client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL]) as socket:
            _message(socket, "session:new", session_new(call_sid="c-st"), call_sid="c-st")
            _until_ack(socket)
            _message(socket, "call:status", call_info(call_sid="c-st", call_status="completed"), msgid="s1")
            socket.close(1000)
        _wait_for(lambda: seen == ["completed"])


def test_a_tool_call_over_the_socket_is_answered_with_llm_tool_output() -> None:
    app = _app()
    tools = app.tool_hook("/tools")
    hung_up: list[str] = []

    @tools.tool
    async def order_status(order_id: str) -> dict[str, str]:
        """Where an order is."""
        if order_id == "0":
            raise ToolError("no such order")
        return {"order_id": order_id, "status": "shipped"}

    @tools.tool
    async def end_call() -> str:
        """Hang up: a tool controls the call it serves (over WebSocket, its socket)."""
        await CallControl.of().hangup()
        hung_up.append("yes")
        return "done"

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().llm(
            vendor="openai", model="gpt-4o-realtime-preview", llm_options={}, tools=tools
        )

    with (
        TestClient(app) as client,
        client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL]) as socket,
    ):
        _message(socket, "session:new", session_new(call_sid="c-tool"), call_sid="c-tool")
        (llm,) = _until_ack(socket)[1]["data"]
        assert llm["toolHook"] == "/tools/openai"

        def ask(call_id: str, name: str, args: dict[str, Any]) -> Frame:
            data = {"tool_call_id": call_id, "name": name, "args": args}
            _message(socket, "llm:tool-call", data, msgid=call_id, hook=llm["toolHook"], call_sid="c-tool")
            frame: Frame = json.loads(socket.receive_text())
            return frame

        found = ask("call_1", "order_status", {"order_id": "7"})
        assert found == _command(
            "llm:tool-output",
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": "call_1",
                    "output": '{"order_id":"7","status":"shipped"}',
                },
            },
            tool_call_id="call_1",
        )
        missing = ask("call_2", "order_status", {"order_id": "0"})
        assert missing["tool_call_id"] == "call_2"
        assert missing["data"]["item"]["output"] == '{"error":"no such order"}'
        invalid = ask("call_3", "order_status", {"order": 7})
        assert "error" in json.loads(invalid["data"]["item"]["output"])
        _message(
            socket,
            "llm:tool-call",
            {"tool_call_id": "call_4", "name": "end_call", "args": {}},
            msgid="x",
            hook="/tools/openai",
        )
        frames = [json.loads(socket.receive_text()) for _ in range(2)]
        assert frames[0] == _command("call:status", {"call_status": "completed"})
        assert frames[1]["command"] == "llm:tool-output" and frames[1]["tool_call_id"] == "call_4"
        assert hung_up == ["yes"]


def test_a_command_jambonz_would_drop_the_socket_for_is_refused(
    socket_of: Callable[[JambonzApp], WebSocketTestSession],
) -> None:
    app = _app()
    errors: list[str] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
        try:
            await control.update_llm({"instructions": "x" * 30_000})
        except ValueError as exc:
            errors.append(str(exc))
        return WebhookResponse().say(text="Hello")

    socket = socket_of(app)
    _message(socket, "session:new", session_new(call_sid="c-big"), call_sid="c-big")
    assert _until_ack(socket)[0] == []  # nothing was sent
    (error,) = errors
    assert "24576 jambonz accepts" in error


def test_a_tool_output_too_large_for_jambonz_answers_an_error_result() -> None:
    app = _app()
    tools = app.tool_hook("/tools")

    @tools.tool
    async def everything() -> str:
        """Returns far too much."""
        return "y" * 40_000

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().llm(
            vendor="openai", model="gpt-4o-realtime-preview", llm_options={}, tools=tools
        )

    with (
        TestClient(app) as client,
        client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL]) as socket,
    ):
        _message(socket, "session:new", session_new(call_sid="c-huge"), call_sid="c-huge")
        _until_ack(socket)
        data = {"tool_call_id": "call_9", "name": "everything", "args": {}}
        _message(socket, "llm:tool-call", data, msgid="x", hook="/tools/openai")
        frame = json.loads(socket.receive_text())
    assert frame["command"] == "llm:tool-output" and frame["tool_call_id"] == "call_9"
    assert json.loads(frame["data"]["item"]["output"]) == {"error": "too large"}


def _call(app: JambonzApp, call_sid: str) -> Iterator[WebSocketTestSession]:
    """A socket of ``app`` whose session:new for ``call_sid`` was acked."""
    with (
        TestClient(app) as client,
        client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL]) as socket,
    ):
        _message(socket, "session:new", session_new(call_sid=call_sid), call_sid=call_sid)
        _until_ack(socket)
        yield socket


async def _mute_when(go: asyncio.Event, control: CallControl, went: list[str]) -> None:
    """A call's task: once ``go`` is set, mute; record whether the command reached the call."""
    await go.wait()
    try:
        await control.mute()
        went.append("muted")
    except CallEndedError:
        went.append("ended")


def test_a_dialed_legs_final_status_does_not_end_the_parent_call() -> None:
    app = _app()
    went: list[str] = []
    go = asyncio.Event()

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
        control.start(_mute_when(go, control, went))
        return WebhookResponse().dial(
            target=[{"type": "phone", "number": "+15550001111"}], action_hook="/dialed"
        )

    @app.action_hook("/dialed")
    async def dialed(call: CallSession) -> WebhookResponse:
        go.set()
        return WebhookResponse().say(text="They are busy")

    for socket in _call(app, "c-parent"):
        # fs sends the child leg's statuses on the parent's socket.
        child = call_info(
            call_sid="c-child", parent_call_sid="c-parent", call_status="busy", direction="outbound"
        )
        _message(socket, "call:status", child, msgid="s1")
        _message(socket, "verb:hook", call_info(call_sid="c-parent"), msgid="m2", hook="/dialed")
        _wait_for(lambda: went == ["muted"])  # the task's command went through: the call lives on
        frames = [json.loads(socket.receive_text()) for _ in range(2)]
        assert _command("mute:status", {"mute_status": "mute"}) in frames
        assert len(app.hook_settings.calls) == 1


@pytest.mark.parametrize(
    "hook",
    [
        "ws://voice.example.com/next",
        "wss://voice.example.com/next?tenant=7",
        "/next#rc=2&rp=all",
        "next",
    ],
)
def test_a_hook_named_by_url_or_with_a_retry_policy_reaches_its_handler(hook: str) -> None:
    app = _app()

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().redirect(action_hook=hook)

    @app.action_hook("/next")
    async def next_hook(call: CallSession) -> WebhookResponse:
        return WebhookResponse().say(text="Redirected")

    for socket in _call(app, "c-url"):
        _message(socket, "session:redirect", call_info(call_sid="c-url"), msgid="m2", hook=hook)
        assert _until_ack(socket, "m2")[1]["data"] == [{"verb": "say", "text": "Redirected"}]


def test_a_status_hook_a_verb_names_runs_without_verbs_in_its_ack() -> None:
    app = _app()
    seen: list[str] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().conference(name="room", status_hook="/conf-status", status_events=["join"])

    @app.status_hook("/conf-status")
    async def conference_status(event: ConferenceStatus) -> None:
        seen.append(str(event.event))

    for socket in _call(app, "c-conf"):
        data = call_info(call_sid="c-conf", event="join", conference_sid="cf-1", friendly_name="room")
        _message(socket, "verb:hook", data, msgid="m2", hook="/conf-status")
        assert _until_ack(socket, "m2") == ([], {"type": "ack", "msgid": "m2"})
        _wait_for(lambda: seen == ["join"])


@pytest.mark.slow
def test_over_websocket_a_continuing_hook_answers_within_jambonzs_wait() -> None:
    app = _app()

    @app.call_hook("/incoming", background=Background(after=6.0, limit=30.0))
    async def incoming(call: CallSession) -> WebhookResponse:
        await asyncio.sleep(7)
        return WebhookResponse().say(text="Finally")

    with (
        TestClient(app) as client,
        client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL]) as socket,
    ):
        started = time.monotonic()
        _message(socket, "session:new", session_new(call_sid="c-slow"), call_sid="c-slow")
        ack = _until_ack(socket)[1]
        waited = time.monotonic() - started
    assert waited < 4.8  # jambonz fails the call at 5 s
    verbs = [verb["verb"] for verb in ack["data"]]
    assert verbs == ["say", "redirect"]  # the filler, then the resume hook


def test_verbs_over_jambonzs_frame_limit_are_answered_with_the_fallback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = _app()

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().say(text="x" * 30_000)

    with (
        TestClient(app) as client,
        client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL]) as socket,
    ):
        _message(socket, "session:new", session_new(call_sid="c-large"), call_sid="c-large")
        ack = _until_ack(socket)[1]
    assert ack["data"] == json.loads(app.hook_settings.fallback.to_json())  # type: ignore[union-attr]
    assert any(
        "c-large" in record.getMessage() and "24576" in record.getMessage() for record in caplog.records
    )


def test_a_second_session_new_for_a_live_call_does_not_take_it_over() -> None:
    app = _app()
    go = asyncio.Event()
    went: list[str] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
        if not went and not go.is_set() and control.transport == "websocket":
            went.append("started")
            control.start(_mute_when(go, control, went))
        return WebhookResponse().say(text="Hello")

    with (
        TestClient(app) as client,
        client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL]) as first,
    ):
        _message(first, "session:new", session_new(call_sid="c-own"), call_sid="c-own")
        _until_ack(first)
        with client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL]) as second:
            _message(second, "session:new", session_new(call_sid="c-own"), call_sid="c-own")
            _until_ack(second)
            second.close(1000)  # would end the call's link, had it taken it over
        go.set()
        _wait_for(lambda: went == ["started", "muted"])
        assert json.loads(first.receive_text()) == _command("mute:status", {"mute_status": "mute"})


def test_a_tool_call_no_toolbox_serves_goes_to_the_apps_handler() -> None:
    app = _app()

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().say(text="Hello")

    answered: list[str] = []

    @app.on("llm:tool-call")
    async def tool_call(call: LlmToolCall, control: CallControl) -> None:
        await control.tool_output(call.tool_call_id, {"type": "client_tool_result", "result": call.name})
        answered.append(call.tool_call_id)

    for socket in _call(app, "c-own-tools"):
        data = {"tool_call_id": "t-1", "name": "weather", "args": {"city": "Paris"}}
        _message(socket, "llm:tool-call", data, msgid="x", hook="/my-tools")
        _wait_for(lambda: answered == ["t-1"])
        frame = json.loads(socket.receive_text())
        assert frame == _command(
            "llm:tool-output", {"type": "client_tool_result", "result": "weather"}, tool_call_id="t-1"
        )


def test_dtmf_digits_go_one_command_each(socket_of: Callable[[JambonzApp], WebSocketTestSession]) -> None:
    app = _app()

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
        await control.dtmf("12#", duration=100)
        return WebhookResponse().say(text="Hello")

    socket = socket_of(app)
    _message(socket, "session:new", session_new(call_sid="c-dtmf"), call_sid="c-dtmf")
    assert _until_ack(socket)[0] == [
        _command("dtmf", {"dtmf": {"digit": digit, "duration": 100}}) for digit in ("1", "2", "#")
    ]


def test_a_barge_in_drops_the_text_being_streamed(
    socket_of: Callable[[JambonzApp], WebSocketTestSession],
) -> None:
    app = _app()
    outcome: list[bool] = []
    read: list[str] = []

    async def speak(control: CallControl) -> None:
        async def words() -> Any:
            for word in ("One ", "two ", "three."):
                read.append(word)
                yield word

        outcome.append(await control.stream_tokens(words()))

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
        control.start(speak(control))
        return WebhookResponse().say(stream=True)

    socket = socket_of(app)
    _message(socket, "session:new", session_new(call_sid="c-barge"), call_sid="c-barge")
    _until_ack(socket)
    first = json.loads(socket.receive_text())["data"]
    _message(
        socket, "tts:tokens-result", {"id": first["id"], "status": "failed", "reason": "full"}, msgid="t1"
    )
    # The caller speaks: jambonz clears its buffer, and sends no stream_resumed.
    _message(socket, "tts:streaming-event", {"event_type": "user_interruption"}, msgid="t2")
    _wait_for(lambda: outcome == [False], timeout=2.0)
    assert read == ["One "]  # the rest of the text was not even read


def test_over_websocket_the_rest_client_is_the_calls_account(
    fake_api: FakeJambonzAPI, fake_api_server: tuple[FakeJambonzAPI, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAMBONZ_API_KEY", API_KEY)
    app = JambonzApp(insecure=True, state=MemoryStore(), api_base_url=fake_api_server[1])
    seen: list[str] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
        return WebhookResponse().say(text="Hello").gather(action_hook="/menu")

    @app.action_hook("/menu")
    async def menu(result: GatherResult, control: CallControl) -> WebhookResponse:
        # A REST operation with no socket command: read the call from the API.
        seen.append(control.client.account_sid)
        await control.client.calls.update(control.call_sid, tag={"menu": "seen"})
        return WebhookResponse().hangup()

    with (
        TestClient(app) as client,
        client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL]) as socket,
    ):
        start = session_new(call_sid=LIVE_CALL_SID, account_sid=ACCOUNT_SID)
        _message(socket, "session:new", start, call_sid=LIVE_CALL_SID)
        _until_ack(socket)
        _message(socket, "verb:hook", call_info(call_sid=LIVE_CALL_SID, digits="1"), msgid="m2", hook="/menu")
        assert _until_ack(socket, "m2")[1]["data"] == [{"verb": "hangup"}]
    assert seen == [ACCOUNT_SID]
    fake_api.assert_clean()
    assert fake_api.updates[LIVE_CALL_SID] == [{"tag": {"menu": "seen"}}]


def test_verbs_in_commands_are_checked_against_the_apps_target() -> None:
    app = JambonzApp(insecure=True, state=MemoryStore(), target="0.9.8")
    refused: list[str] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
        try:
            await control.redirect([Room(name="standup")])
        except ValueError as exc:
            refused.append(str(exc))
        await control.redirect(WebhookResponse().say(text="Moved"))  # 0.9.8 has say
        return WebhookResponse().say(text="Hello")

    for commands in _call_commands(app, "c-target"):
        assert commands == [_command("redirect", [{"verb": "say", "text": "Moved"}])]
    (error,) = refused
    assert "0.9.8" in error and "room" in error


def _call_commands(app: JambonzApp, call_sid: str) -> Iterator[list[Frame]]:
    """The commands sent before the session:new ack of a call of ``app``."""
    with (
        TestClient(app) as client,
        client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL]) as socket,
    ):
        _message(socket, "session:new", session_new(call_sid=call_sid), call_sid=call_sid)
        yield _until_ack(socket)[0]
