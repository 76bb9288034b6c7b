"""The cookbook's recipes (examples/cookbook/) played as whole calls, and docs/cookbook.md kept to them.

Each recipe runs in process over HTTP and over jambonz's WebSocket API; the queue also runs under
a real uvicorn; REST requests go to the fake jambonz API over real HTTP.

The call waits in the verbs jambonz holds it in (``enqueue``, ``dequeue``, ``conference``,
``sip:refer``, and the dialer's ``pause`` through ``holds=``); the tests send the hooks jambonz sends
while they run with ``verb_hook`` (``waitHook``, ``statusHook``, ``confirmHook``) and ``send_hook``
(AMD events, another leg's hooks), end them with ``verb_result``, and give the payloads
jambonz-feature-server 0.9.8 builds (each cites where).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Literal

import pytest

from examples.cookbook import conference, dialer, queue, recording, transfer
from jambonz_webhooks import JambonzApp, MemoryStore, pytest_plugin, testing
from jambonz_webhooks.pytest_plugin import SimulatorFactory
from jambonz_webhooks.rest import AsyncJambonzClient
from jambonz_webhooks.rest.access import ApiAccess
from jambonz_webhooks.security import BasicCredentials, HookSecurity
from jambonz_webhooks.testing import CallSimulator, SimulatedCall
from tests import schemas
from tests.conftest import (
    DEPLOYED_SECRET,
    REPO_ROOT,
    STARTUP_TIMEOUT,
    _spawn,
    _stop,
    _wait_ready,
)
from tests.fake_jambonz_api import ACCOUNT_SID, API_KEY, LIVE_CALL_SID, FakeJambonzAPI

jambonz_simulator = pytest_plugin.jambonz_simulator

Transport = Literal["http", "websocket"]

RECIPES = ["dialer", "conference", "queue", "recording", "transfer"]
APPS: dict[str, JambonzApp] = {
    "dialer": dialer.app,
    "conference": conference.app,
    "queue": queue.app,
    "recording": recording.app,
    "transfer": transfer.app,
}
USER = BasicCredentials("jambonz", "cookbook-password")
# --------------------------------------------------------------------------- fixtures


@pytest.fixture(params=["http", "websocket"])
def transport(request: pytest.FixtureRequest) -> Transport:
    """Each recipe over HTTP webhooks and over the WebSocket API, in process."""
    return "websocket" if request.param == "websocket" else "http"


@pytest.fixture(autouse=True)
def deployed(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every recipe app with a secret and a store of its own; the module-level records emptied."""
    for app in APPS.values():
        # A secret signs HTTP hooks; a WebSocket call hook needs basic auth (jambonz signs nothing there).
        monkeypatch.setattr(
            app.hook_settings, "security", HookSecurity(secrets=(DEPLOYED_SECRET,), basic_auth=USER)
        )
        monkeypatch.setattr(app.hook_settings, "state", MemoryStore())
    monkeypatch.setattr(dialer, "OUTCOMES", {})
    monkeypatch.setattr(conference, "MEMBERS", {})
    monkeypatch.setattr(queue, "CALLBACKS", [])


def simulator(
    factory: SimulatorFactory, app: JambonzApp, transport: Transport, **options: Any
) -> CallSimulator:
    return factory(app, transport=transport, **options)


def assert_valid(call: SimulatedCall) -> None:
    """Every verb the app answered passes jambonz's schema."""
    for verb in call.verbs:
        assert schemas.errors(f"verbs/{verb['verb'].replace(':', '-')}", verb) == [], verb


# --------------------------------------------------------------------------- the dialer

NUMBER = "+15557654321"
PUBLIC_URL = "https://dialer.example.com"


def place_call(origin: str) -> str:
    async def place() -> str:
        async with AsyncJambonzClient(base_url=origin, account_sid=ACCOUNT_SID, api_key=API_KEY) as client:
            return await dialer.place_call(client, NUMBER, PUBLIC_URL)

    return asyncio.run(place())


def answered_call(
    factory: SimulatorFactory, transport: Transport, call_sid: str = "CA-dialer"
) -> SimulatedCall:
    """The outbound call answered: jambonz sends the call hook (rest_dial.js _onConnect)."""
    sim = simulator(factory, dialer.app, transport, call_hook="/call", holds=["pause"])
    call = sim.start(call_sid=call_sid, direction="outbound", from_=dialer.CALLER_ID, to=NUMBER)
    config, pause = call.verbs
    assert config == {
        "verb": "config",
        "amd": {"actionHook": "/amd", "timers": {"decisionTimeoutMs": 10000}},
    }
    assert (pause, call.waiting_for) == ({"verb": "pause", "length": 15}, "pause")
    return call


def test_the_dialer_places_calls_through_the_rest_api(
    fake_api: FakeJambonzAPI, fake_api_server: tuple[FakeJambonzAPI, str]
) -> None:
    call_sid = place_call(fake_api_server[1])
    (request,) = fake_api.requests
    assert (request.method, request.path) == ("POST", f"/v1/Accounts/{ACCOUNT_SID}/Calls")
    assert request.body == {
        "from": dialer.CALLER_ID,
        "to": {"type": "phone", "number": NUMBER},
        "call_hook": {"url": f"{PUBLIC_URL}/call"},  # hooks go as objects
        "call_status_hook": {"url": f"{PUBLIC_URL}/status"},
        "timeout": 30,
    }
    assert call_sid in fake_api.calls
    fake_api.assert_clean()


def test_a_person_hears_the_reminder_and_confirms(
    jambonz_simulator: SimulatorFactory, transport: Transport
) -> None:
    call = answered_call(jambonz_simulator, transport)
    amd_hook = call.verbs[0]["amd"]["actionHook"]
    # amd-utils.js: a short final transcript is a person.
    call.send_hook(amd_hook, type="amd_human_detected", reason="short greeting", greeting="Hello?")
    assert call.heard == [f"Hello! {dialer.REMINDER} Press 1 to confirm, or 2 to cancel."]
    assert call.waiting_for == "gather"
    call.press("1")
    assert call.heard[-1] == "Thank you, see you tomorrow. Goodbye."
    assert call.ended and call.hung_up_by == "app"
    assert dialer.OUTCOMES == {"CA-dialer": "confirmed"}
    assert_valid(call)


def test_a_machine_gets_the_message_once_its_greeting_is_over(
    jambonz_simulator: SimulatorFactory, transport: Transport
) -> None:
    call = answered_call(jambonz_simulator, transport)
    amd_hook = call.verbs[0]["amd"]["actionHook"]
    greeting = "Hi, you have reached Sam, I cannot take your call right now, please leave a message"
    call.send_hook(amd_hook, type="amd_machine_detected", reason="long greeting", greeting=greeting)
    assert call.heard == []
    assert (call.waiting_for, call.last_answer) == ("pause", [{"verb": "pause", "length": 30}])
    call.send_hook(amd_hook, type="amd_machine_stopped_speaking")
    assert call.heard == [dialer.MESSAGE]
    assert call.ended and call.hung_up_by == "app"
    assert dialer.OUTCOMES == {"CA-dialer": "voicemail"}


def test_the_beep_after_the_message_started_changes_nothing(jambonz_simulator: SimulatorFactory) -> None:
    # The message is held while it plays: the second event comes then.
    sim = jambonz_simulator(dialer.app, call_hook="/call", holds=["pause", "say"])
    call = sim.start(call_sid="CA-beep", direction="outbound")
    call.send_hook("/amd", type="amd_tone_detected", frequency=1000, variance=10)
    assert call.heard == [dialer.MESSAGE] and call.waiting_for == "say"
    assert call.send_hook("/amd", type="amd_machine_stopped_speaking") == []
    assert call.heard == [dialer.MESSAGE]
    call.verb_result()  # the message ends; the app's hangup runs
    assert call.ended and call.hung_up_by == "app"


def test_a_silent_callee_and_the_end_of_detection(jambonz_simulator: SimulatorFactory) -> None:
    call = answered_call(jambonz_simulator, "http", call_sid="CA-quiet")
    call.send_hook("/amd", type="amd_no_speech_detected")
    assert call.waiting_for == "gather"  # spoken to as a person who waits for us
    # amd-utils.js stopAmd: detection over, it says so; nothing changes.
    assert call.send_hook("/amd", type="amd_stopped") == []
    assert call.waiting_for == "gather"
    call.press("2")
    assert dialer.OUTCOMES == {"CA-quiet": "cancelled"}


# --------------------------------------------------------------------------- the conference


def status_event(event: str, members: int) -> dict[str, Any]:
    """A conference status event (conference.js _notifyConferenceEvent): the simulator fills the
    conference's sid and name, the time and the call's information."""
    return {"event": event, "duration": 1.5, "members": members}


def test_a_guest_waits_for_the_host_and_leaves_when_the_host_does(
    jambonz_simulator: SimulatorFactory, transport: Transport
) -> None:
    sim = simulator(jambonz_simulator, conference.app, transport)
    guest = sim.start(from_="+15550000001")
    assert guest.heard == ["Welcome to the Acme conference line. Please enter your PIN."]
    guest.press(conference.GUEST_PIN)
    assert guest.heard[-1] == "Thank you. Joining the conference."
    joined = guest.waiting_verb
    assert guest.waiting_for == "conference" and joined is not None
    assert joined["name"] == conference.ROOM and joined["startConferenceOnEnter"] is False
    assert (joined["waitHook"], joined["actionHook"]) == ("/waiting", "/conference-over")

    # Until the host is there, jambonz plays what the waitHook answers, again and again.
    for _ in range(2):
        music = guest.verb_hook("waitHook")
        assert music == [
            {"verb": "say", "text": "The host has not joined yet. Please hold."},
            {"verb": "play", "url": conference.HOLD_MUSIC},
        ]

    host = sim.start(from_="+15550000002").press(conference.HOST_PIN)
    hosted = host.waiting_verb
    assert host.heard[-1] == "Welcome, host. The conference starts now."
    assert hosted is not None and hosted["startConferenceOnEnter"] is True
    assert hosted["endConferenceOnExit"] is True and "waitHook" not in hosted
    assert hosted["statusEvents"] == ["start", "end", "join", "leave"]

    # The host started it: jambonz keeps the host's statusHook for the conference's events.
    assert hosted["statusHook"] == "/conference-event"
    for event, members in [("start", 1), ("join", 1), ("join", 2)]:
        assert host.verb_hook("statusHook", **status_event(event, members)) == []
    assert conference.MEMBERS == {conference.ROOM: 2}

    # The host hangs up: their leg reports leave and end (before its session closes), and the
    # guest's conference verb ends.
    host.verb_hook("statusHook", **status_event("leave", 1))
    host.verb_hook("statusHook", **status_event("end", 1))
    host.hangup()
    assert conference.MEMBERS == {}
    guest.verb_result()
    assert guest.heard[-1] == "The conference has ended. Goodbye."
    assert guest.ended and guest.hung_up_by == "app"
    assert_valid(guest)
    assert_valid(host)


def test_a_wrong_pin_or_none_ends_the_call(jambonz_simulator: SimulatorFactory) -> None:
    sim = jambonz_simulator(conference.app)
    assert sim.start().press("0000").heard[-1] == "That PIN is not valid. Goodbye."
    silent = sim.start().silence()
    assert silent.heard[-1] == "We did not get a PIN. Goodbye."
    assert silent.ended


# --------------------------------------------------------------------------- the queue


def queue_wait(position: int, size: int, seconds: int) -> dict[str, Any]:
    """An enqueue waitHook's figures (enqueue.js _playHook); the simulator fills queue_sid and the
    call's ids, and sends nothing else of the call."""
    return {"queue_time": seconds, "queue_size": size, "queue_position": position}


def test_a_caller_waits_and_an_agent_takes_the_call(
    jambonz_simulator: SimulatorFactory, transport: Transport
) -> None:
    customers = simulator(jambonz_simulator, queue.app, transport)
    agents = simulator(jambonz_simulator, queue.app, transport, call_hook="/agent")
    caller = customers.start(from_="+15550000007")
    assert caller.heard == ["Thank you for calling Acme support. All our agents are busy."]
    enqueued = caller.waiting_verb
    assert caller.waiting_for == "enqueue" and enqueued is not None
    assert (enqueued["name"], enqueued["waitHook"], enqueued["actionHook"]) == (
        "support",
        "/hold",
        "/left-queue",
    )

    # jambonz asks the waitHook what to play, plays it, and asks again.
    hold = caller.verb_hook("waitHook", **queue_wait(position=1, size=2, seconds=30))
    assert hold == [
        {"verb": "say", "text": "You are number 2 in line."},
        {"verb": "play", "url": queue.HOLD_MUSIC},
    ]
    hold = caller.verb_hook("waitHook", **queue_wait(position=0, size=1, seconds=60))
    assert hold[0] == {"verb": "say", "text": "You are next in line."}

    agent = agents.start(from_="+15550000100")
    assert agent.heard == ["Connecting you to the next caller."]
    dequeued = agent.waiting_verb
    assert agent.waiting_for == "dequeue" and dequeued is not None
    assert (dequeued["name"], dequeued["timeout"], dequeued["actionHook"]) == ("support", 5, "/agent-done")

    # Bridged; the conversation ends. Both verbs report how they went.
    caller.verb_result(queue_time=75, queue_result="bridged")
    assert caller.last_answer == [{"verb": "hangup"}] and caller.ended
    agent.verb_result(dequeue_result="complete")
    assert agent.heard[-1] == "The call has ended. Press 1 to take the next caller."
    agent.press("1")
    assert agent.waiting_for == "dequeue"
    agent.verb_result()  # nobody left in the queue: dequeue_result timeout, the default
    assert agent.heard[-1] == "No callers are waiting. Goodbye."
    assert agent.ended and agent.hung_up_by == "app"
    assert_valid(caller)
    assert_valid(agent)


def test_a_caller_who_waited_too_long_is_offered_a_call_back(jambonz_simulator: SimulatorFactory) -> None:
    caller = jambonz_simulator(queue.app).start(from_="+15550000008")
    hold = caller.verb_hook("waitHook", **queue_wait(position=3, size=4, seconds=queue.MAX_WAIT))
    # The waitHook may answer leave: the caller is out of the queue, and the actionHook says so.
    assert hold == [{"verb": "say", "text": "We are sorry for the wait."}, {"verb": "leave"}]
    left = caller.requests[-2].payload  # the enqueue's actionHook, before the status hook
    assert (left["queue_result"], left["queue_time"]) == ("leave", queue.MAX_WAIT)
    assert caller.heard[-1] == "We will call you back within the hour. Goodbye."
    assert caller.ended and queue.CALLBACKS == ["+15550000008"]


@pytest.mark.slow  # a subprocess or a scan of the whole repository: CI runs it
def test_the_queue_over_a_real_server(tmp_path: Path) -> None:
    server = _spawn(
        "examples.cookbook.queue:app", tmp_path, "cookbook-queue", {"JAMBONZ_WEBHOOK_SECRET": DEPLOYED_SECRET}
    )
    try:
        assert _wait_ready(server, time.monotonic() + STARTUP_TIMEOUT), server.stderr()
        # The app has no call status hook: none is sent.
        with CallSimulator(server.origin, secret=DEPLOYED_SECRET, status_hook=None) as sim:
            caller = sim.start(from_="+15550000009")
            assert caller.waiting_for == "enqueue"
            hold = caller.verb_hook("waitHook", **queue_wait(position=0, size=1, seconds=5))
            assert hold[0] == {"verb": "say", "text": "You are next in line."}
            caller.verb_result(queue_time=9, queue_result="error")
            assert caller.heard[-1] == "Sorry, something went wrong. Please call again."
            assert [request.status_code for request in caller.requests] == [200, 200, 200]
        with CallSimulator(server.origin, secret=False) as unsigned:
            with pytest.raises(testing.SimulatorError) as refused:
                unsigned.start()
            assert refused.value.status_code == 401
    finally:
        _stop(server.process)


# --------------------------------------------------------------------------- recording


@pytest.fixture
def recording_api(
    fake_api: FakeJambonzAPI, fake_api_server: tuple[FakeJambonzAPI, str], monkeypatch: pytest.MonkeyPatch
) -> FakeJambonzAPI:
    """The recording app's REST client pointed at the fake API (CallControl over HTTP uses it)."""
    monkeypatch.setenv("JAMBONZ_API_KEY", API_KEY)
    monkeypatch.setattr(recording.app.hook_settings, "api", ApiAccess(fake_api_server[1]))
    monkeypatch.setattr(recording.app.hook_settings, "_contexts", {})  # made with the old ApiAccess
    return fake_api


def recorded_call(factory: SimulatorFactory, transport: Transport) -> SimulatedCall:
    sim = simulator(factory, recording.app, transport, account_sid=ACCOUNT_SID)
    return sim.start(call_sid=LIVE_CALL_SID)


def test_recording_with_consent_pauses_for_the_card_number(
    jambonz_simulator: SimulatorFactory, transport: Transport, recording_api: FakeJambonzAPI
) -> None:
    call = recorded_call(jambonz_simulator, transport)
    assert call.heard == ["Calls are recorded for quality. Press 1 to allow it, or 2 to continue unrecorded."]
    call.press("1")
    start = {
        "action": "startCallRecording",
        "siprecServerURL": recording.SRS_URL,
        "recordingID": LIVE_CALL_SID,
    }
    assert call.last_answer[0] == {"verb": "config", "record": start}
    assert call.heard[-2:] == ["Thank you.", recording.MENU]

    call.press("1")
    # Paused in the same answer as the question, before the caller keys anything in.
    pause, gather = call.last_answer
    assert pause == {"verb": "config", "record": {"action": "pauseCallRecording"}}
    assert (gather["verb"], gather["finishOnKey"], gather["actionHook"]) == ("gather", "#", "/card")

    call.press("4111111111111111#")
    assert call.requests[-1].payload["digits"] == "4111111111111111"
    resume = {"action": "resumeCallRecording"}
    if transport == "http":  # the REST API's update of the call
        assert recording_api.updates == {LIVE_CALL_SID: [{"record": resume}]}
        recording_api.assert_clean()
    else:  # the record command on the call's socket
        command = call.wait_for_command("record")
        assert command.data == resume
    assert call.heard[-2:] == ["Thank you, your payment is done.", "Connecting you to an agent."]
    assert call.dialed == [{"type": "phone", "number": recording.AGENTS}]
    call.dial_answered()
    assert call.heard[-1] == "Thank you for calling. Goodbye."
    assert_valid(call)


def test_without_consent_nothing_is_recorded(
    jambonz_simulator: SimulatorFactory, recording_api: FakeJambonzAPI
) -> None:
    call = recorded_call(jambonz_simulator, "http").press("2")
    assert call.heard[-2:] == ["This call will not be recorded.", recording.MENU]
    call.press("1")
    assert call.last_answer[0]["verb"] == "gather"  # no pause: nothing to pause
    call.press("12#")
    assert call.heard[-2] == "Sorry, we could not take that card."
    assert not [verb for verb in call.verbs if verb["verb"] == "config"]
    assert recording_api.requests == []  # no resume either


# --------------------------------------------------------------------------- transfer


def test_a_blind_transfer_by_refer(jambonz_simulator: SimulatorFactory, transport: Transport) -> None:
    call = simulator(jambonz_simulator, transfer.app, transport).start().press("2")
    refer = call.waiting_verb
    assert call.heard[-1] == "Transferring you to billing."
    assert refer == {"verb": "sip:refer", "referTo": transfer.BILLING_URI, "actionHook": "/refer-done"}
    # sip_refer.js: the REFER accepted (202), then the final NOTIFY says the new call was answered.
    call.verb_result(refer_status=202, final_referred_call_status=200)
    assert call.last_answer == []
    if transport == "http":
        assert call.ended  # no verbs left: jambonz's leg ends
    assert_valid(call)


@pytest.mark.parametrize(
    "outcome",
    [{"refer_status": 405}, {"refer_status": 202, "final_referred_call_status": 486}],
    ids=["refused", "busy"],
)
def test_a_failed_refer_is_dialed_instead(
    jambonz_simulator: SimulatorFactory, outcome: dict[str, Any]
) -> None:
    call = jambonz_simulator(transfer.app).start().press("2")
    call.verb_result(**outcome)
    assert call.dialed == [{"type": "phone", "number": transfer.BILLING_NUMBER}]
    call.dial_no_answer()
    assert call.heard[-1] == "Billing cannot take your call right now. Please try later."
    assert call.ended


def test_a_screened_transfer_the_agent_accepts(
    jambonz_simulator: SimulatorFactory, transport: Transport
) -> None:
    sim = simulator(jambonz_simulator, transfer.app, transport)
    call = sim.start(from_="+15550000042", caller_name="Ada").press("1")
    dial = call.waiting_verb
    assert call.heard[-1] == "Please hold while we find a sales agent."
    assert dial is not None and call.dialed == [{"type": "phone", "number": transfer.SALES_AGENT}]
    assert (dial["confirmHook"], dial["timeout"], dial["actionHook"]) == ("/screen", 20, "/sales-done")

    # place-outdial.js _executeApp: the agent answered; their leg runs the confirmHook's verbs.
    leg = {**call.info, "call_sid": "CA-agent-leg", "direction": "outbound", "from": "+15550000042"}
    leg |= {"to": transfer.SALES_AGENT, "caller_name": "Ada"}
    (gather,) = call.verb_hook("confirmHook", "dial:confirm", **leg)
    assert gather["say"] == {"text": "Sales call from Ada. Press 1 to take it."}
    # The agent's gather ends on the leg: 1 leaves no verbs to run, so the leg is still up: accepted.
    agent = {**leg, "reason": "dtmfDetected", "digits": "1"}
    assert call.send_hook(gather["actionHook"], replace=False, **agent) == []
    call.dial_answered()
    assert call.ended and call.hung_up_by == "app"
    assert call.last_answer == [{"verb": "hangup"}]
    assert_valid(call)


def test_a_screened_transfer_the_agent_declines_goes_to_billing(jambonz_simulator: SimulatorFactory) -> None:
    call = jambonz_simulator(transfer.app).start().press("1")
    leg = {**call.info, "call_sid": "CA-agent-leg", "direction": "outbound"}
    declined = call.send_hook("/screened", replace=False, **leg, reason="timeout")
    assert declined == [{"verb": "hangup"}]  # the leg hangs up: jambonz does not connect it
    call.dial_no_answer()
    assert call.heard[-1] == "No sales agent is free. Let me try billing for you."
    assert call.dialed[-1] == {"type": "phone", "number": transfer.BILLING_NUMBER}
    call.dial_answered()
    assert call.ended


# --------------------------------------------------------------------------- every recipe


@pytest.mark.slow  # a subprocess or a scan of the whole repository: CI runs it
@pytest.mark.parametrize("name", RECIPES)
def test_routes_lists_every_recipe_without_problems(name: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "jambonz_webhooks", "routes", f"examples.cookbook.{name}:app"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert f"Hooks of examples.cookbook.{name}:app" in result.stdout
    assert " 0 problem(s), 0 warning(s)" in result.stdout


# --------------------------------------------------------------------------- the docs

COOKBOOK = REPO_ROOT / "docs" / "cookbook.md"
# A recipe's code: the line naming its module, then the block.
SHOWN = re.compile(
    r"^\[`(examples/cookbook/\w+\.py)`\]\([^)]*\):\n\n```python\n(.*?)^```", re.DOTALL | re.MULTILINE
)


def shown_code() -> dict[str, str]:
    return dict(SHOWN.findall(COOKBOOK.read_text(encoding="utf-8")))


def without_docstring(source: str) -> str:
    """A module's code after its docstring: what the cookbook shows (the page says the rest)."""
    return source.split('"""\n\n', 1)[1]


def test_the_cookbook_shows_every_recipe() -> None:
    assert sorted(shown_code()) == sorted(f"examples/cookbook/{name}.py" for name in RECIPES)


@pytest.mark.parametrize("name", RECIPES)
def test_the_cookbook_shows_the_code_of_the_module(name: str) -> None:
    path = f"examples/cookbook/{name}.py"
    source = (REPO_ROOT / path).read_text(encoding="utf-8")
    assert shown_code()[path] == without_docstring(source)


def test_the_index_and_the_readme_link_the_cookbook() -> None:
    assert "(cookbook.md)" in (REPO_ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert "(docs/cookbook.md)" in (REPO_ROOT / "README.md").read_text(encoding="utf-8")
