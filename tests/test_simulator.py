"""The call simulator itself (jambonz_webhooks.testing): what it sends, how it runs verbs, how it fails."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Mount

from jambonz_webhooks import (
    CallSession,
    CallStatus,
    ConferenceResult,
    ConferenceStatus,
    ConferenceWait,
    DequeueResult,
    DialResult,
    EnqueueResult,
    EnqueueWait,
    GatherResult,
    JambonzApp,
    MemoryStore,
    PlayResult,
    SipReferEvent,
    SipReferResult,
    WebhookResponse,
    pytest_plugin,
)
from jambonz_webhooks.pytest_plugin import SimulatorFactory
from jambonz_webhooks.security import verify_signature
from jambonz_webhooks.testing import CallSimulator, SimulatorError, jambonz_json
from tests import schemas
from tests.conftest import deploy_with_a_secret

# The plugin's fixture, made visible to this module's tests (the plugin is not registered for the suite).
jambonz_simulator = pytest_plugin.jambonz_simulator

REPO_ROOT = Path(__file__).resolve().parent.parent
PLUGIN = "jambonz_webhooks.pytest_plugin"
PHONE = {"type": "phone", "number": "+15550001111"}


def new_app(**options: Any) -> JambonzApp:
    """An app independent of the environment: no secret or credentials unless given, state in memory."""
    options.setdefault("webhook_secret", [])
    return JambonzApp(state=MemoryStore(), **options, insecure=True)


class Recorder:
    """Keeps what each hook of a test app received."""

    def __init__(self) -> None:
        self.bodies: dict[str, list[bytes]] = {}
        self.payloads: dict[str, list[dict[str, Any]]] = {}
        self.headers: dict[str, list[dict[str, str]]] = {}
        self.methods: dict[str, list[str]] = {}

    async def keep(self, name: str, request: Request) -> dict[str, Any]:
        body = await request.body()
        self.bodies.setdefault(name, []).append(body)
        self.headers.setdefault(name, []).append(dict(request.headers))
        self.methods.setdefault(name, []).append(request.method)
        payload: dict[str, Any] = json.loads(body) if body else dict(request.query_params)
        self.payloads.setdefault(name, []).append(payload)
        return payload


def menu_app(recorder: Recorder, **options: Any) -> JambonzApp:
    """Greets, gathers on /menu (which answers what ``menu_answer`` holds), records every request."""
    app = new_app(**options)
    app.state.menu_answer = WebhookResponse().say(text="menu answered").hangup()

    @app.call_hook("/incoming")
    async def incoming(call: CallSession, request: Request) -> WebhookResponse:
        await recorder.keep("incoming", request)
        return (
            WebhookResponse()
            .say(text="hello")
            .gather(input=["digits", "speech"], num_digits=2, finish_on_key="#", action_hook="/menu")
            .say(text="after the gather")
            .hangup()
        )

    @app.action_hook("/menu")
    async def menu(result: GatherResult, request: Request) -> WebhookResponse:
        await recorder.keep("menu", request)
        answer: WebhookResponse = app.state.menu_answer
        return answer

    @app.status_hook("/status")
    async def status(event: CallStatus, request: Request) -> None:
        await recorder.keep("status", request)

    return app


# --------------------------------------------------------------------------- what is sent


def test_requests_are_compact_json_as_jambonz_sends_them(jambonz_simulator: SimulatorFactory) -> None:
    recorder = Recorder()
    call = jambonz_simulator(menu_app(recorder)).start(from_="+33612345678", caller_name="Zoë ☎")
    body = recorder.bodies["incoming"][0]
    assert body == jambonz_json(call.session)
    assert b", " not in body and b'": ' not in body
    assert "Zoë ☎".encode() in body  # raw UTF-8, not \u escapes
    headers = recorder.headers["incoming"][0]
    assert headers["content-type"] == "application/json"
    assert "jambonz-signature" not in headers and "authorization" not in headers
    session = recorder.payloads["incoming"][0]
    assert session["from"] == "+33612345678" and session["to"] == "+15559870000"
    assert session["direction"] == "inbound" and session["call_status"] == "trying"
    assert session["sip"]["method"] == "INVITE"
    assert "env_vars" not in session  # jambonz sends them only when the application has some


def test_each_call_gets_its_own_sid_and_one_account(jambonz_simulator: SimulatorFactory) -> None:
    sim = jambonz_simulator(menu_app(Recorder()))
    first, second = sim.start(), sim.start()
    assert first.sid != second.sid
    assert first.session["account_sid"] == second.session["account_sid"] == sim.account_sid
    assert sim.calls == [first, second]


def test_the_factory_takes_the_simulators_own_arguments(jambonz_simulator: SimulatorFactory) -> None:
    # It is CallSimulator under another name: the same arguments, keyword-only after the target.
    sim = jambonz_simulator(menu_app(Recorder()), call_hook="/incoming", status_hook=None, timeout=2.0)
    assert isinstance(sim, CallSimulator) and sim.start().heard
    with pytest.raises(TypeError):
        jambonz_simulator(menu_app(Recorder()), "/incoming")  # type: ignore[call-arg]


def test_payload_overrides_and_call_info_in_later_hooks(jambonz_simulator: SimulatorFactory) -> None:
    recorder = Recorder()
    sim = jambonz_simulator(menu_app(recorder), originating_sip_trunk_name="trunk-a", fs_sip_address=None)
    call = sim.start(to="+4930123", env_vars={"A": 1}, customerData={"crm": "42"}).press("1#")
    session = recorder.payloads["incoming"][0]
    assert session["originating_sip_trunk_name"] == "trunk-a"
    assert "fs_sip_address" not in session  # None leaves a key out
    assert session["env_vars"] == {"A": 1}
    menu = recorder.payloads["menu"][0]
    assert menu["call_sid"] == call.sid
    assert menu["to"] == "+4930123"
    assert menu["customerData"] == {"crm": "42"}
    assert menu["call_status"] == "in-progress" and menu["sip_status"] == 200
    assert "env_vars" not in menu and "sip" not in menu  # only the call hook carries them


def test_signs_with_the_apps_own_secret(jambonz_simulator: SimulatorFactory) -> None:
    recorder = Recorder()
    app = menu_app(recorder, webhook_secret=["new_secret", "old_secret"])
    call = jambonz_simulator(app).start().press("1#")
    assert call.ended
    for name in ("incoming", "menu", "status"):
        for body, headers in zip(recorder.bodies[name], recorder.headers[name], strict=True):
            verify_signature(headers["jambonz-signature"], body, ["new_secret"])  # the first one signs


def test_a_given_secret_signs_and_false_sends_unsigned(jambonz_simulator: SimulatorFactory) -> None:
    app = menu_app(Recorder(), webhook_secret="s3cret")
    with pytest.raises(SimulatorError) as error:
        jambonz_simulator(app, secret="wrong").start()
    assert error.value.status_code == 401
    assert error.value.body is not None and "signature" in error.value.body
    with pytest.raises(SimulatorError) as error:
        jambonz_simulator(app, secret=False).start()
    assert error.value.status_code == 401
    assert "missing Jambonz-Signature" in str(error.value)


def test_sends_the_apps_basic_auth_credentials(jambonz_simulator: SimulatorFactory) -> None:
    recorder = Recorder()
    app = menu_app(recorder, basic_auth=("jambonz", "pässword"))
    assert jambonz_simulator(app).start().waiting_for == "gather"
    assert recorder.headers["incoming"][0]["authorization"].startswith("Basic ")
    with pytest.raises(SimulatorError) as error:
        jambonz_simulator(app, basic_auth=False).start()
    assert error.value.status_code == 401


def test_status_hooks_in_progress_then_completed_by_jambonz(jambonz_simulator: SimulatorFactory) -> None:
    recorder = Recorder()
    call = jambonz_simulator(menu_app(recorder)).start().silence()
    statuses = recorder.payloads["status"]
    assert [status["call_status"] for status in statuses] == ["in-progress", "completed"]
    assert statuses[1]["call_termination_by"] == "jambonz"
    assert isinstance(statuses[1]["duration"], int)
    assert call.hung_up_by == "app"
    assert [sent.kind for sent in call.requests] == ["call", "status", "action", "status"]


def test_the_caller_hanging_up_ends_the_gather_without_its_hook(jambonz_simulator: SimulatorFactory) -> None:
    recorder = Recorder()
    call = jambonz_simulator(menu_app(recorder)).start().hangup()
    assert call.ended and call.hung_up_by == "caller"
    assert "menu" not in recorder.payloads
    assert recorder.payloads["status"][-1]["call_termination_by"] == "caller"
    with pytest.raises(SimulatorError, match="the call is over"):
        call.press("1")
    with pytest.raises(SimulatorError, match="the call is over"):
        call.hangup()


def test_no_status_hook(jambonz_simulator: SimulatorFactory) -> None:
    recorder = Recorder()
    call = jambonz_simulator(menu_app(recorder), status_hook=None).start().press("1#")
    assert call.ended
    assert "status" not in recorder.payloads
    assert [sent.kind for sent in call.requests] == ["call", "action"]


# --------------------------------------------------------------------------- running the verbs


def test_press_keeps_jambonz_digit_rules(jambonz_simulator: SimulatorFactory) -> None:
    recorder = Recorder()
    sim = jambonz_simulator(menu_app(recorder))
    sim.start().press("7#9")  # finishOnKey ends the digits, without the key
    sim.start().press("123")  # numDigits is 2
    assert [menu["digits"] for menu in recorder.payloads["menu"]] == ["7", "12"]
    assert {menu["reason"] for menu in recorder.payloads["menu"]} == {"dtmfDetected"}


def test_speak_sends_a_speech_result(jambonz_simulator: SimulatorFactory) -> None:
    recorder = Recorder()
    jambonz_simulator(menu_app(recorder)).start().speak("I need help", alternatives=["I need kelp"])
    menu = recorder.payloads["menu"][0]
    assert menu["reason"] == "speechDetected"
    assert menu["speech"]["is_final"] is True
    assert [reading["transcript"] for reading in menu["speech"]["alternatives"]] == [
        "I need help",
        "I need kelp",
    ]
    assert "digits" not in menu
    # The app's own model reads it.
    assert GatherResult.model_validate(menu).transcript == "I need help"


def test_any_other_gather_outcome(jambonz_simulator: SimulatorFactory) -> None:
    recorder = Recorder()
    call = jambonz_simulator(menu_app(recorder)).start()
    call.gather_result(reason="error", details={"msg": "stt failed"})
    assert recorder.payloads["menu"][0]["reason"] == "error"
    assert recorder.payloads["menu"][0]["details"] == {"msg": "stt failed"}
    assert recorder.payloads["menu"][0]["call_sid"] == call.sid
    assert call.heard[-1] == "menu answered"


def test_an_empty_action_answer_lets_the_remaining_verbs_run(jambonz_simulator: SimulatorFactory) -> None:
    app = menu_app(Recorder())
    app.state.menu_answer = WebhookResponse()
    call = jambonz_simulator(app).start().silence()
    assert call.heard == ["hello", "after the gather"]
    assert call.last_answer == []
    assert call.hung_up_by == "app"


def test_a_non_empty_action_answer_replaces_the_remaining_verbs(jambonz_simulator: SimulatorFactory) -> None:
    call = jambonz_simulator(menu_app(Recorder())).start().press("4#")
    assert call.heard == ["hello", "menu answered"]
    assert call.last_answer == [{"verb": "say", "text": "menu answered"}, {"verb": "hangup"}]
    assert [verb["verb"] for verb in call.verbs] == ["say", "gather", "say", "hangup", "say", "hangup"]


def test_redirect_is_followed_and_replaces_the_rest(jambonz_simulator: SimulatorFactory) -> None:
    recorder = Recorder()
    app = new_app()

    @app.call_hook("/incoming")
    async def incoming() -> WebhookResponse:
        return (
            WebhookResponse()
            .say(text="before")
            .pause(length=2)
            .redirect(action_hook="/next")
            .say(text="never")
        )

    @app.action_hook("/next")
    async def next_step(request: Request) -> WebhookResponse:
        await recorder.keep("next", request)
        return (
            WebhookResponse()
            .tag(data={"step": 2})
            .say(text="after the redirect")
            .redirect(action_hook="/last")
        )

    @app.action_hook("/last")
    async def last(request: Request) -> WebhookResponse:
        await recorder.keep("last", request)
        return WebhookResponse().play(url="https://example.com/bye.mp3").hangup()

    call = jambonz_simulator(app, status_hook=None).start()
    assert call.heard == ["before", "after the redirect", "https://example.com/bye.mp3"]
    assert "app pauses 2s" in call.log
    assert recorder.payloads["next"][0]["call_sid"] == call.sid
    # A tag's data is sent with the later hooks, as customerData.
    assert "customerData" not in recorder.payloads["next"][0]
    assert recorder.payloads["last"][0]["customerData"] == {"step": 2}
    assert call.ended and call.hung_up_by == "app"


def test_running_out_of_verbs_ends_the_call(jambonz_simulator: SimulatorFactory) -> None:
    app = new_app()

    @app.call_hook("/incoming")
    async def incoming() -> WebhookResponse:
        return WebhookResponse().say(text="only this").config(notify_events=True)

    call = jambonz_simulator(app, status_hook=None).start()
    assert call.heard == ["only this"]
    assert call.ended and call.hung_up_by == "app"
    assert call.log[-1] == "no verbs left: jambonz hangs up"
    assert call.log[-2] == "app runs config (not simulated, skipped)"


@pytest.mark.parametrize(
    ("outcome", "status", "sip_status"),
    [
        ("dial_answered", "completed", 200),
        ("dial_busy", "busy", 486),
        ("dial_no_answer", "no-answer", 487),
        ("dial_failed", "failed", 503),
    ],
)
def test_dial_outcomes_reach_the_dials_action_hook(
    jambonz_simulator: SimulatorFactory, outcome: str, status: str, sip_status: int
) -> None:
    results: list[DialResult] = []
    app = new_app()

    @app.call_hook("/incoming")
    async def incoming() -> WebhookResponse:
        return (
            WebhookResponse()
            .dial(target=[PHONE, {"type": "user", "name": "bob@example.com"}], action_hook="/dialed")
            .say(text="not heard")
        )

    @app.action_hook("/dialed")
    async def dialed(result: DialResult) -> WebhookResponse:
        results.append(result)
        return WebhookResponse().say(text=f"dial {result.dial_call_status}").hangup()

    call = jambonz_simulator(app, status_hook=None).start()
    assert call.dialed == [
        {"type": "phone", "number": "+15550001111"},
        {"type": "user", "name": "bob@example.com"},
    ]
    assert "app dials +15550001111, bob@example.com" in call.log
    getattr(call, outcome)()
    assert [(result.dial_call_status, result.dial_sip_status) for result in results] == [(status, sip_status)]
    assert results[0].dial_call_sid is not None
    assert call.heard == [f"dial {status}"]


def test_play_action_hook_gets_play_completed(jambonz_simulator: SimulatorFactory) -> None:
    results: list[PlayResult] = []
    app = new_app()

    @app.call_hook("/incoming")
    async def incoming() -> WebhookResponse:
        return WebhookResponse().play(
            url=["https://a.example/1.wav", "https://a.example/2.wav"], action_hook="/played"
        )

    @app.action_hook("/played")
    async def played(result: PlayResult) -> None:
        results.append(result)

    call = jambonz_simulator(app, status_hook=None).start()
    assert call.heard == ["https://a.example/1.wav", "https://a.example/2.wav"]
    assert [result.reason for result in results] == ["playCompleted"]


def test_hook_object_with_its_own_method_and_credentials(jambonz_simulator: SimulatorFactory) -> None:
    recorder = Recorder()
    app = new_app()

    @app.call_hook("/incoming")
    async def incoming() -> WebhookResponse:
        hook = {"url": "/menu", "method": "get", "username": "u", "password": "p"}
        return WebhookResponse().gather(input=["speech"], action_hook=hook)

    @app.action_hook("/menu")
    async def menu(result: GatherResult, request: Request) -> WebhookResponse:
        await recorder.keep("menu", request)
        return WebhookResponse().say(text=f"heard {result.transcript}").hangup()

    call = jambonz_simulator(app, status_hook=None).start().speak("bonjour à tous", language="fr-FR")
    assert recorder.methods["menu"] == ["GET"]
    assert recorder.bodies["menu"] == [b""]  # the payload went in the query string
    assert recorder.headers["menu"][0]["authorization"] == "Basic dTpw"
    # The framework read the bracket-notation query back into the gather result.
    assert call.heard == ["heard bonjour à tous"]
    assert call.requests[-1].method == "GET"


def test_a_mounted_app_is_followed_under_its_prefix(jambonz_simulator: SimulatorFactory) -> None:
    voice = menu_app(Recorder())
    outer = Starlette(routes=[Mount("/voice", app=voice)])
    call = jambonz_simulator(outer, call_hook="/voice/incoming", status_hook="/voice/status").start()
    assert call.waiting_verb is not None and call.waiting_verb["actionHook"] == "/voice/menu"
    call.press("5#")
    assert call.requests[2].url == "http://testserver/voice/menu"
    assert call.heard[-1] == "menu answered"


def test_a_url_target_over_real_http(secure_server_origin: str, jambonz_simulator: SimulatorFactory) -> None:
    """tests/apps/secure.py, under uvicorn, signed with the secret being rotated out."""
    call = jambonz_simulator(secure_server_origin, secret="wh_secret_old", status_hook=None).start()
    assert call.heard == ["run 1"]
    assert call.requests[0].url == f"{secure_server_origin}/incoming"
    assert call.ended and call.hung_up_by == "app"


# --------------------------------------------------------------------------- failures


def test_a_failing_handler_is_heard_as_the_fallback(jambonz_simulator: SimulatorFactory) -> None:
    app = menu_app(Recorder())
    app.state.menu_answer = "not a response"  # the handler's return value cannot be encoded
    call = jambonz_simulator(app).start().press("1#")
    assert call.heard[-1] == "We are sorry, something went wrong. Please call again later."
    assert call.hung_up_by == "app"


def test_a_non_2xx_answer_raises_with_status_and_body(jambonz_simulator: SimulatorFactory) -> None:
    app = menu_app(Recorder(), fallback=None)
    app.state.menu_answer = "not a response"
    call = jambonz_simulator(app).start()
    with pytest.raises(SimulatorError) as error:
        call.press("1#")
    assert error.value.status_code == 500
    assert error.value.body == '{"error":"the application failed to answer this hook"}'
    assert "action hook POST http://testserver/menu answered 500" in str(error.value)
    assert call.requests[-1].status_code == 500


def test_an_unknown_call_hook_is_a_404(jambonz_simulator: SimulatorFactory) -> None:
    with pytest.raises(SimulatorError) as error:
        jambonz_simulator(menu_app(Recorder()), call_hook="/nowhere").start()
    assert error.value.status_code == 404


def test_a_failing_status_hook_is_answered_and_logged(
    jambonz_simulator: SimulatorFactory, caplog: pytest.LogCaptureFixture
) -> None:
    # jambonz ignores a status hook's answer, and the app answers it before its handler runs:
    # the call goes on, and the failure is in the log with the call_sid.
    app = new_app()
    seen: list[str] = []

    @app.call_hook("/incoming")
    async def incoming() -> WebhookResponse:
        return WebhookResponse().hangup()

    @app.status_hook("/status")
    async def status(event: CallStatus) -> None:
        seen.append(event.call_sid)
        raise RuntimeError("status exploded")

    with caplog.at_level(logging.ERROR, logger="jambonz_webhooks"):
        call = jambonz_simulator(app).start()
    assert seen and all(sid == call.sid for sid in seen)
    assert any("status exploded" in r.getMessage() and call.sid in r.getMessage() for r in caplog.records)


def _greeter() -> JambonzApp:
    """A call hook and an action hook, and no status hook."""
    app = new_app()

    @app.call_hook("/incoming")
    async def incoming() -> WebhookResponse:
        return WebhookResponse().gather(input=["digits"], num_digits=1, action_hook="/menu").hangup()

    @app.action_hook("/menu")
    async def menu(result: GatherResult) -> WebhookResponse:
        return WebhookResponse().say(text=f"you pressed {result.digits}").hangup()

    return app


def test_an_app_with_no_status_hook_runs_under_the_default_status_hook() -> None:
    # CallSimulator's default status hook is /status: an app without one answers it 404, which
    # jambonz ignores; the call goes on.
    with CallSimulator(_greeter()) as simulator:
        call = simulator.start().press("4")
    assert call.heard == ["you pressed 4"]
    assert call.ended and call.hung_up_by == "app"
    statuses = [sent for sent in call.requests if sent.kind == "status"]
    assert [sent.status_code for sent in statuses] == [404, 404]  # in-progress, then completed
    assert "the status hook answered 404 (ignored, as jambonz does)" in call.log


def test_a_status_hook_answering_500_does_not_end_the_call() -> None:
    app = _greeter()

    async def failing_status(request: Request) -> PlainTextResponse:
        return PlainTextResponse("status store down", status_code=500)

    app.add_route("/status", failing_status, methods=["POST"])
    with CallSimulator(app) as simulator:
        call = simulator.start().press("7")
    assert call.heard == ["you pressed 7"]
    assert [sent.kind for sent in call.requests] == ["call", "status", "action", "status"]
    assert [sent.status_code for sent in call.requests if sent.kind == "status"] == [500, 500]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (PlainTextResponse("hello"), "not JSON"),
        (JSONResponse({"verb": "say", "text": "hi"}), "list of verbs"),
        (JSONResponse(["say"]), "list of verbs"),
    ],
)
def test_an_answer_that_is_not_a_list_of_verbs_raises(
    jambonz_simulator: SimulatorFactory, answer: Any, message: str
) -> None:
    async def incoming(request: Request) -> Any:
        return answer

    app = Starlette()
    app.add_route("/incoming", incoming, methods=["POST"])
    with pytest.raises(SimulatorError, match=message) as error:
        jambonz_simulator(app, status_hook=None).start()
    assert error.value.status_code == 200


def test_verbs_in_the_keyed_shape_are_understood(jambonz_simulator: SimulatorFactory) -> None:
    async def incoming(request: Request) -> JSONResponse:
        return JSONResponse([{"say": {"text": "keyed"}}, {"hangup": {}}])

    app = Starlette()
    app.add_route("/incoming", incoming, methods=["POST"])
    call = jambonz_simulator(app, status_hook=None).start()
    assert call.heard == ["keyed"]
    assert call.verbs == [{"verb": "say", "text": "keyed"}, {"verb": "hangup"}]
    assert call.hung_up_by == "app"


def test_scripting_what_cannot_happen_raises(jambonz_simulator: SimulatorFactory) -> None:
    app = new_app()

    @app.call_hook("/incoming")
    async def incoming() -> WebhookResponse:
        return WebhookResponse().gather(input=["speech"], action_hook="/menu")

    @app.action_hook("/menu")
    async def menu() -> WebhookResponse:
        return WebhookResponse().dial(target=[PHONE])

    call = jambonz_simulator(app, status_hook=None).start()
    with pytest.raises(SimulatorError, match="does not listen for digits"):
        call.press("1")
    with pytest.raises(SimulatorError, match="waits for gather, not a dial"):
        call.dial_busy()
    call.silence()
    assert call.waiting_for == "dial"
    with pytest.raises(SimulatorError, match="waits for dial, not a gather"):
        call.speak("hello")
    with pytest.raises(SimulatorError, match="not DTMF"):
        call.press("1x")
    call.dial_answered()  # no actionHook: the verbs left (none) run, and the call ends
    assert call.ended and call.hung_up_by == "app"


def test_a_hook_that_is_no_url_raises(jambonz_simulator: SimulatorFactory) -> None:
    async def incoming(request: Request) -> JSONResponse:
        return JSONResponse([{"verb": "redirect", "actionHook": "ws://example.com/x"}])

    app = Starlette()
    app.add_route("/incoming", incoming, methods=["POST"])
    with pytest.raises(SimulatorError, match="http"):
        jambonz_simulator(app, status_hook=None).start()


# --------------------------------------------------------------------------- lifecycle and the plugin


def test_the_context_manager_runs_the_apps_lifespan() -> None:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        events.append("startup")
        yield
        events.append("shutdown")

    app = new_app(lifespan=lifespan)

    @app.call_hook("/incoming")
    async def incoming() -> WebhookResponse:
        events.append("call")
        return WebhookResponse().hangup()

    with CallSimulator(app, status_hook=None) as sim:
        sim.start()
        assert events == ["startup", "call"]
    assert events == ["startup", "call", "shutdown"]


@pytest.mark.slow
def test_the_installed_package_registers_the_plugin_which_closes_its_simulators(tmp_path: Path) -> None:
    marker = tmp_path / "events.txt"
    (tmp_path / "test_inner.py").write_text(
        f"""
from contextlib import asynccontextmanager
from pathlib import Path

from jambonz_webhooks import JambonzApp, MemoryStore, WebhookResponse

MARKER = Path({str(marker)!r})


@asynccontextmanager
async def lifespan(app):
    yield
    MARKER.write_text("shut down")


app = JambonzApp(webhook_secret=[], insecure=True, state=MemoryStore(), lifespan=lifespan)


@app.call_hook("/incoming")
async def incoming():
    return WebhookResponse().say(text="hi").hangup()


def test_inner(jambonz_simulator):
    call = jambonz_simulator(app, status_hook=None).start()
    assert call.heard == ["hi"]
    assert not MARKER.exists()
""",
        encoding="utf-8",
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    assert marker.read_text() == "shut down"


def test_say_and_timeout_are_speak_and_silence(monkeypatch: pytest.MonkeyPatch) -> None:
    from example_app.app import app as ivr

    deploy_with_a_secret(monkeypatch, ivr)

    with CallSimulator(ivr) as sim:
        spoken = sim.start().say("I need help")
        assert spoken.heard[-1] == "You said: I need help. Thank you for calling our company, goodbye."
        quiet = sim.start().timeout()
        assert quiet.heard[-1] == "Thank you for calling our company. Goodbye."


# --------------------------------------------------------------------------- verbs that hold the call


def holding_app(received: dict[str, list[dict[str, Any]]]) -> JambonzApp:
    """A queue with hold music, an AMD hook, and a pause: the verbs jambonz holds a call in."""
    app = new_app()

    def keep(name: str, payload: dict[str, Any]) -> dict[str, Any]:
        received.setdefault(name, []).append(payload)
        return payload

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        if call.to == "+15550000002":
            return WebhookResponse().say(text="Please hold").pause(length=20).say(text="Still there?")
        return (
            WebhookResponse()
            .say(text="Please hold")
            .enqueue(name="support", wait_hook=hold, action_hook=after)
        )

    @app.action_hook("/hold")
    async def hold(payload: dict[str, Any]) -> WebhookResponse:
        keep("hold", payload)
        if payload.get("queue_position") == 0:
            return WebhookResponse().say(text="Nobody is free").leave()
        if payload.get("queue_position") == -1:
            return WebhookResponse().dial(target=[PHONE])
        return (
            WebhookResponse()
            .say(text=f"You are number {payload.get('queue_position')}")
            .play(url="https://example.com/music.mp3")
        )

    @app.action_hook("/after")
    async def after(payload: dict[str, Any]) -> WebhookResponse:
        keep("after", payload)
        return WebhookResponse().say(text=f"Queue result {payload.get('queue_result')}").hangup()

    @app.action_hook("/amd")
    async def amd(payload: dict[str, Any]) -> WebhookResponse | None:
        keep("amd", payload)
        if payload.get("type") == "amd_machine_detected":
            return WebhookResponse().say(text="A message for the machine").hangup()
        return None

    return app


@pytest.mark.parametrize("transport", ["http", "websocket"])
def test_a_call_waits_in_an_enqueue_hears_its_wait_hook_and_ends_by_its_result(transport: str) -> None:
    received: dict[str, list[dict[str, Any]]] = {}
    with CallSimulator(holding_app(received), transport=transport) as simulator:  # type: ignore[arg-type]
        call = simulator.start()
        assert call.waiting_for == "enqueue" and not call.ended
        answer = call.verb_hook("waitHook", queue_position=2, queue_size=3)
        assert [verb["verb"] for verb in answer] == ["say", "play"]
        assert call.heard == ["Please hold", "You are number 2", "https://example.com/music.mp3"]
        assert received["hold"][0]["queue_position"] == 2
        assert received["hold"][0]["call_sid"] == call.sid
        assert call.waiting_for == "enqueue"  # a waitHook answer does not replace the verbs

        call.verb_result(queue_result="bridged", queue_time=40)
        assert received["after"][0]["queue_result"] == "bridged"
        assert received["after"][0]["queue_time"] == 40
        assert call.heard[-1] == "Queue result bridged"
        assert call.ended and call.hung_up_by == "app"


def test_leave_in_a_wait_hook_answer_ends_the_enqueue_as_jambonz_does() -> None:
    received: dict[str, list[dict[str, Any]]] = {}
    with CallSimulator(holding_app(received)) as simulator:
        call = simulator.start()
        call.verb_hook("waitHook", queue_position=0)
        assert received["after"][0]["queue_result"] == "leave"
        assert call.heard == ["Please hold", "Nobody is free", "Queue result leave"]
        assert call.ended


def test_a_wait_hook_answer_jambonz_refuses_is_an_error() -> None:
    with CallSimulator(holding_app({})) as simulator:
        call = simulator.start()
        with pytest.raises(SimulatorError, match=r"refuses \['dial'\] in a waitHook answer to the enqueue"):
            call.verb_hook("waitHook", queue_position=-1)


def test_verb_hook_names_a_hook_the_waiting_verb_has() -> None:
    with CallSimulator(holding_app({})) as simulator:
        call = simulator.start()
        with pytest.raises(SimulatorError, match="the enqueue the call waits in has no statusHook"):
            call.verb_hook("statusHook")


@pytest.mark.parametrize("transport", ["http", "websocket"])
def test_send_hook_answers_replace_the_waiting_verb(transport: str) -> None:
    received: dict[str, list[dict[str, Any]]] = {}
    with CallSimulator(holding_app(received), transport=transport, holds=["pause"]) as simulator:  # type: ignore[arg-type]
        call = simulator.start(to="+15550000002")
        assert call.waiting_for == "pause"
        assert call.send_hook("/amd", type="amd_human_detected") == []
        assert call.waiting_for == "pause"  # no verbs answered: nothing changes
        answer = call.send_hook("/amd", type="amd_machine_detected")
        assert [verb["verb"] for verb in answer] == ["say", "hangup"]
        assert [payload["type"] for payload in received["amd"]] == [
            "amd_human_detected",
            "amd_machine_detected",
        ]
        assert received["amd"][0]["call_sid"] == call.sid
        assert call.heard == ["Please hold", "A message for the machine"]  # "Still there?" was replaced
        assert call.ended


def test_a_hook_of_another_leg_is_answered_without_running_here() -> None:
    received: dict[str, list[dict[str, Any]]] = {}
    with CallSimulator(holding_app(received), holds=["pause"]) as simulator:
        call = simulator.start(to="+15550000002")
        answer = call.send_hook("/amd", replace=False, type="amd_machine_detected", call_sid="CA-leg")
        assert [verb["verb"] for verb in answer] == ["say", "hangup"]
        assert received["amd"][0]["call_sid"] == "CA-leg"
        assert call.waiting_for == "pause" and not call.ended
        assert call.heard == ["Please hold"]


def test_a_held_pause_runs_on_when_it_ends() -> None:
    with CallSimulator(holding_app({}), holds=["pause"]) as simulator:
        call = simulator.start(to="+15550000002")
        assert call.waiting_for == "pause"
        call.verb_result()
        assert call.heard == ["Please hold", "Still there?"]
        assert call.ended  # over HTTP the verbs ran out


def test_a_pause_runs_through_unless_held() -> None:
    with CallSimulator(holding_app({})) as simulator:
        call = simulator.start(to="+15550000002")
        assert call.heard == ["Please hold", "Still there?"]
        assert call.ended
        with pytest.raises(SimulatorError, match="the call is over"):
            call.verb_result()


ROOM_LINE, REFER_LINE, AGENT_LINE = "+15550000010", "+15550000011", "+15550000012"
REFUSED_GUEST = "+15550000666"


def typed_holding_app(received: dict[str, list[dict[str, Any]]]) -> JambonzApp:
    """The held verbs with their hooks typed: a payload without a field jambonz always sends is a 422."""
    app = new_app()

    def keep(name: str, payload: dict[str, Any]) -> None:
        received.setdefault(name, []).append(payload)

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        if call.to == ROOM_LINE:
            return WebhookResponse().conference(
                name="room",
                wait_hook="/room-wait",
                enter_hook="/room-enter",
                status_hook="/room-status",
                status_events=["join", "leave"],
                action_hook="/room-done",
            )
        if call.to == REFER_LINE:
            return WebhookResponse().sip_refer(
                refer_to="sip:billing@example.com", event_hook="/refer-event", action_hook="/refer-done"
            )
        if call.to == AGENT_LINE:
            return WebhookResponse().dequeue(name="support", action_hook="/dequeued")
        return (
            WebhookResponse()
            .tag(data={"tier": "gold"})
            .enqueue(name="support", wait_hook="/queue-wait", action_hook="/queue-done")
        )

    @app.action_hook("/queue-wait")
    async def queue_wait(wait: EnqueueWait, payload: dict[str, Any]) -> WebhookResponse:
        keep("queue-wait", payload)
        place = (wait.queue_position or 0) + 1
        return (
            WebhookResponse().say(text=f"You are number {place} of {wait.queue_size}").tag(data={"heard": 1})
        )

    @app.action_hook("/queue-done")
    async def queue_done(result: EnqueueResult, payload: dict[str, Any]) -> WebhookResponse:
        keep("queue-done", payload)
        return WebhookResponse().say(text=f"Queue {result.queue_result}").hangup()

    @app.action_hook("/room-wait")
    async def room_wait(wait: ConferenceWait, payload: dict[str, Any]) -> WebhookResponse:
        keep("room-wait", payload)
        if wait.from_ == REFUSED_GUEST:
            return WebhookResponse().say(text="Tagged").tag(data={"guest": True})
        return WebhookResponse().say(text="The host is not here yet").pause(length=5)

    @app.action_hook("/room-enter")
    async def room_enter(wait: ConferenceWait, payload: dict[str, Any]) -> WebhookResponse:
        keep("room-enter", payload)
        return WebhookResponse().say(text="You are entering the room")

    @app.action_hook("/room-status")
    async def room_status(status: ConferenceStatus) -> None:
        # Typed only: with a raw dict beside it, decoding.py validates the dict strictly, and a
        # strict datetime refuses the ISO string jambonz sends as time (not this test's subject).
        keep("room-status", status.model_dump(mode="json", by_alias=True, exclude_unset=True))

    @app.action_hook("/room-done")
    async def room_done(result: ConferenceResult, payload: dict[str, Any]) -> WebhookResponse:
        keep("room-done", payload)
        return WebhookResponse().say(text="The conference is over").hangup()

    @app.action_hook("/refer-event")
    async def refer_event(event: SipReferEvent, payload: dict[str, Any]) -> None:
        keep("refer-event", payload)

    @app.action_hook("/refer-done")
    async def refer_done(result: SipReferResult, payload: dict[str, Any]) -> WebhookResponse:
        keep("refer-done", payload)
        return WebhookResponse().say(text=f"Refer {result.refer_status} {result.final_referred_call_status}")

    @app.action_hook("/dequeued")
    async def dequeued(result: DequeueResult, payload: dict[str, Any]) -> WebhookResponse:
        keep("dequeued", payload)
        return WebhookResponse().say(text=f"Dequeue {result.dequeue_result}").hangup()

    return app


def assert_schema(schema_id: str, payloads: list[dict[str, Any]]) -> None:
    for payload in payloads:
        assert schemas.errors(schema_id, payload) == [], payload


@pytest.mark.parametrize("transport", ["http", "websocket"])
def test_an_enqueue_s_hooks_get_the_fields_jambonz_always_sends_and_only_those(transport: str) -> None:
    received: dict[str, list[dict[str, Any]]] = {}
    with CallSimulator(typed_holding_app(received), transport=transport) as simulator:  # type: ignore[arg-type]
        first, second = simulator.start(), simulator.start()
        # enqueue.js _playHook: the queue's figures (the simulator's two callers), the call's ids,
        # the tagged customerData, and nothing else of the call's information.
        second.verb_hook("waitHook")
        wait = received["queue-wait"][0]
        assert wait == {
            "queue_sid": f"queue:{simulator.account_sid}:support",
            "queue_time": 0,
            "queue_size": 2,
            "queue_position": 1,
            "call_sid": second.sid,
            "call_id": second.info["call_id"],
            "customerData": {"tier": "gold"},
        }
        assert second.heard == ["You are number 2 of 2"]
        # The test's fields win; the answer's tag is kept, as the waitHook's play session runs it.
        first.verb_hook("waitHook", queue_position=4, queue_time=30)
        assert received["queue-wait"][1]["queue_position"] == 4
        assert received["queue-wait"][1]["queue_time"] == 30
        assert first.heard == ["You are number 5 of 2"]
        assert first.info["customerData"] == {"heard": 1}

        first.verb_result(queue_result="bridged")
        done = received["queue-done"][0]
        assert (done["queue_sid"], done["queue_time"], done["queue_result"]) == (
            wait["queue_sid"],
            0,
            "bridged",
        )
        assert done["from"] == first.info["from"] and done["call_sid"] == first.sid
        assert first.heard[-1] == "Queue bridged" and first.ended
        second.verb_result()  # what fs sends unless something else ended the enqueue
        assert received["queue-done"][1]["queue_result"] == "hangup"
        assert second.heard[-1] == "Queue hangup"
    assert_schema("callbacks/enqueue-wait", received["queue-wait"])
    assert_schema("callbacks/enqueue", received["queue-done"])


def test_a_dequeue_ends_as_jambonz_reports_one_that_found_nobody() -> None:
    received: dict[str, list[dict[str, Any]]] = {}
    with CallSimulator(typed_holding_app(received)) as simulator:
        agent = simulator.start(to=AGENT_LINE)
        assert agent.waiting_for == "dequeue"
        agent.verb_result()
        assert received["dequeued"][0]["dequeue_result"] == "timeout"
        assert agent.heard == ["Dequeue timeout"]
        simulator.start(to=AGENT_LINE).verb_result(dequeue_result="complete")
        assert received["dequeued"][1]["dequeue_result"] == "complete"
    assert_schema("callbacks/dequeue", received["dequeued"])


@pytest.mark.parametrize("transport", ["http", "websocket"])
def test_a_sip_refer_event_hook_gets_the_notify_only_and_a_final_one_ends_the_refer(transport: str) -> None:
    received: dict[str, list[dict[str, Any]]] = {}
    with CallSimulator(typed_holding_app(received), transport=transport) as simulator:  # type: ignore[arg-type]
        call = simulator.start(to=REFER_LINE)
        assert call.verb_hook("eventHook") == []
        # sip_refer.js _handleNotify: the sipfrag's status, under the name call_status, and no more.
        assert received["refer-event"] == [{"event": "transfer-status", "call_status": 100}]
        call.verb_hook("eventHook", call_status=180)
        assert call.waiting_for == "sip:refer"  # not final yet
        call.verb_hook("eventHook", call_status=200)
        assert received["refer-event"][-1] == {"event": "transfer-status", "call_status": 200}
        done = received["refer-done"][0]
        assert (done["refer_status"], done["final_referred_call_status"]) == (202, 200)
        assert done["call_status"] == "in-progress"  # the action hook has the call's information
        assert call.heard == ["Refer 202 200"]
        other = simulator.start(to=REFER_LINE).verb_result()
        assert received["refer-done"][1]["refer_status"] == 202
        assert other.heard == ["Refer 202 None"]
    assert_schema("callbacks/sip-refer-event", received["refer-event"])
    assert_schema("callbacks/sip-refer", received["refer-done"])


@pytest.mark.parametrize("transport", ["http", "websocket"])
def test_a_conference_plays_its_wait_and_enter_hooks_and_sends_its_status_events(transport: str) -> None:
    received: dict[str, list[dict[str, Any]]] = {}
    with CallSimulator(typed_holding_app(received), transport=transport) as simulator:  # type: ignore[arg-type]
        call = simulator.start(to=ROOM_LINE)
        assert [verb["verb"] for verb in call.verb_hook("waitHook")] == ["say", "pause"]
        assert received["room-wait"][0]["from"] == call.info["from"]  # conference.js: cs.callInfo
        call.verb_hook("enterHook")
        assert call.heard == ["The host is not here yet", "You are entering the room"]
        assert call.waiting_for == "conference"

        call.verb_hook("statusHook", event="join")
        status = received["room-status"][0]
        assert status["event"] == "join" and status["members"] == 1
        assert status["conference_sid"] == f"conf:{simulator.account_sid}:room"
        assert status["friendly_name"] == "room" and status["call_sid"] == call.sid
        assert isinstance(status["duration"], int | float) and status["time"].endswith("Z")
        with pytest.raises(SimulatorError, match=r"only for its statusEvents \['join', 'leave'\]"):
            call.verb_hook("statusHook", event="start")

        call.verb_result()
        assert "conference_result" not in received["room-done"][0]  # conference.js sends no result
        assert call.heard[-1] == "The conference is over"
    assert_schema("callbacks/conference-status", received["room-status"])
    assert_schema("callbacks/conference", received["room-done"])


def test_a_conference_wait_hook_answer_may_hold_play_say_and_pause_only() -> None:
    with CallSimulator(typed_holding_app({})) as simulator:
        call = simulator.start(from_=REFUSED_GUEST, to=ROOM_LINE)
        with pytest.raises(SimulatorError, match=r"refuses \['tag'\] in a waitHook answer to the conference"):
            call.verb_hook("waitHook")
        assert call.heard == []


# --------------------------------------------------------------------------- an app with no credentials


@pytest.mark.parametrize("transport", ["http", "websocket"])
def test_an_app_with_no_credentials_is_lent_the_simulators_while_it_is_open(
    monkeypatch: pytest.MonkeyPatch, transport: str
) -> None:
    for name in ("JAMBONZ_WEBHOOK_SECRET", "JAMBONZ_WEBHOOK_USERNAME", "JAMBONZ_WEBHOOK_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("JAMBONZ_WEBHOOK_INSECURE", raising=False)
    app = JambonzApp(state=MemoryStore())  # as in the quickstart: it would refuse to start

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().say(text=f"Hello {call.from_}").hangup()

    assert app.hook_settings.security.closed
    with CallSimulator(app, transport=transport) as simulator:  # type: ignore[arg-type]
        call = simulator.start(from_="+15551234567")
        assert call.heard == ["Hello +15551234567"]
        lent = app.hook_settings.security
        assert lent.signed and lent.basic_auth is not None  # checked on every hook, as in production
        if transport == "http":
            assert call.requests[0].headers["Jambonz-Signature"].startswith("t=")
            unsigned = simulator.client.post("/incoming", json=json.loads(jambonz_json(call.session)))
            assert unsigned.status_code == 401
    assert app.hook_settings.security.closed  # given back when the simulator closes
