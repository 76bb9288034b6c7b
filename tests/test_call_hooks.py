"""The call hooks jambonz sends beyond an inbound call's, and CallSession on the hooks after them.

Each payload is built as jambonz-feature-server 0.9.8 builds it (the source is named beside it):
``CallInfo.toJSON()`` (lib/session/call-info.js) writes ``callSid, direction, from, to, callId,
sbcCallid, sipStatus, sipReason, callStatus, callerId, accountSid, traceId, applicationSid,
fsSipAddress`` and, when set, ``parentCallSid, originatingSipIp, originatingSipTrunkName,
callTerminationBy, duration, customerData, headers, apiBaseUrl, fsPublicIp``; a value left
undefined is dropped by JSON; the requestors snake-case the keys but those under ``sip``,
``customerData``, ``env_vars`` and ``args`` (lib/utils/snakecase-keys.js). Each must reach its
handler over HTTP (a POST, in process) and over WebSocket (the message jambonz sends for it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketTestSession

from jambonz_webhooks import (
    CallSession,
    CallStatus,
    EnqueueWait,
    GatherResult,
    JambonzApp,
    LlmToolCall,
    MemoryStore,
    StateStoreError,
    WebhookResponse,
)
from jambonz_webhooks.injection import kept_session
from tests.payloads import post_as_jambonz as post
from tests.payloads import session_new

SUBPROTOCOL = "ws.jambonz.org"
ACCOUNT_SID = "9351f46a-678c-43f5-b8a6-d4eb58d131af"
REST_CALL_SID = "6f1c2a3b-4d5e-4f60-8a7b-9c0d1e2f3a4b"

# A call created with POST /Accounts/{sid}/Calls, an inline call_hook and no application_sid.
# lib/http-routes/api/create-call.js builds its CallInfo (the "outbound call triggered by REST"
# branch of call-info.js) with applicationSid: app.application_sid, undefined here, callerId
# never set; lib/tasks/rest_dial.js _onConnect sends the call hook once the far end answers
# (status in-progress, 200 OK, set just before) as {...callInfo.toJSON(), defaults} (env_vars
# only with an application); `tag` became customerData; sbcCallid is the SBC's X-CID. No sip.
REST_CALL_HOOK: dict[str, Any] = {
    "call_sid": REST_CALL_SID,
    "direction": "outbound",
    "from": "15083084809",  # the user part of the INVITE's From (create-call's `from`)
    "to": "15083728299",  # target.number for a phone target
    "call_id": "5d0f7a3e-83a4-123e-a4b5-0242ac120003",
    "sbc_callid": "a1b2c3d4-0b91-1240-9db3-022758ab7fff",
    "sip_status": 200,
    "sip_reason": "OK",
    "call_status": "in-progress",
    "account_sid": ACCOUNT_SID,
    "trace_id": "615e314ac26241863b905931d9aad440",
    "fs_sip_address": "10.0.1.5:5060",
    "customerData": {"campaign": "spring-renewals", "contactId": 4711},
    "defaults": {
        "synthesizer": {"vendor": "google", "language": "en-US", "voice": "en-US-Standard-C"},
        "recognizer": {"vendor": "google", "language": "en-US"},
    },
}

# The leg a `dial` of that call placed: lib/utils/place-outdial.js sends its confirmHook
# ('dial:confirm', once answered) with this.callInfo.toJSON(), the "child of an existing call"
# branch of call-info.js: parentCallSid, and accountSid/applicationSid copied from the parent
# (none here), callerId = req.callingNumber.
CHILD_CALL: dict[str, Any] = {
    "call_sid": "0c9d8e7f-6a5b-4c3d-2e1f-0a9b8c7d6e5f",
    "direction": "outbound",
    "from": "15083084809",
    "to": "+15085551212",
    "call_id": "7e6d5c4b-83a4-123e-a4b5-0242ac120003",
    "sbc_callid": "b2c3d4e5-0b91-1240-9db3-022758ab7fff",
    "sip_status": 200,
    "sip_reason": "OK",
    "call_status": "in-progress",
    "caller_id": "15083084809",
    "account_sid": ACCOUNT_SID,
    "trace_id": "725f425bd37352974c016042e0bbe551",
    "fs_sip_address": "10.0.1.5:5060",
    "parent_call_sid": REST_CALL_SID,
}

# The same leg become a call of its own (a dial verb's child leg left on its own): doAdulting
# in place-outdial.js sends 'session:adulting' to '/adulting' (over HTTP relative to the app's
# base URL; over WebSocket on a socket opened at the call hook's URL + '/adulting') with
# {...callInfo.toJSON(), parentCallInfo: parent.toJSON()}.
ADULTING: dict[str, Any] = {
    **CHILD_CALL,
    "parent_call_info": {key: value for key, value in REST_CALL_HOOK.items() if key != "defaults"},
}

# An inbound call redirected: the `redirect` verb's performAction (lib/tasks/task.js) sends
# 'session:redirect' to its actionHook with callInfo.toJSON() and verb_id (the verb's id); the
# REST redirect (call_hook, call-session.js _lccCallHook) the same without verb_id. An inbound
# call's CallInfo never sets callerId; it has the carrier's fields.
REDIRECTED: dict[str, Any] = {
    "call_sid": "b5e3f2a0-1c2d-4e5f-8a9b-0c1d2e3f4a5b",
    "direction": "inbound",
    "from": "+15083084809",
    "to": "+15083728299",
    "call_id": "a1b2c3d4e5f6@203.0.113.10",
    "sbc_callid": "f6e5d4c3b2a1@198.51.100.7",
    "sip_status": 200,
    "sip_reason": "OK",
    "call_status": "in-progress",
    "account_sid": ACCOUNT_SID,
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "application_sid": "7087fe50-8acb-4f3b-b820-97b573723aab",
    "fs_sip_address": "10.0.1.5:5060",
    "originating_sip_ip": "203.0.113.10",
    "originating_sip_trunk_name": "carrier-east",
    "verb_id": "to-sales",
}


class Seen:
    """What the handlers of the test app were given, by path."""

    def __init__(self) -> None:
        self.calls: dict[str, list[CallSession]] = {}

    def add(self, path: str, call: CallSession) -> None:
        self.calls.setdefault(path, []).append(call)

    def one(self, path: str) -> CallSession:
        calls = self.calls.get(path, [])
        assert len(calls) == 1, self.calls
        return calls[0]


def make_app(store: Any = None) -> tuple[JambonzApp, Seen]:
    app = JambonzApp(insecure=True, fallback=None, state=store if store is not None else MemoryStore())
    seen = Seen()

    @app.call_hook("/outdial")
    async def outdial(call: CallSession) -> WebhookResponse:
        seen.add("/outdial", call)
        return WebhookResponse().say(text="Hello, this is a reminder.")

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        seen.add("/incoming", call)
        return WebhookResponse().say(text="Hello").redirect(action_hook="/sales")

    @app.call_hook("/incoming/adulting")
    async def adulting(call: CallSession) -> WebhookResponse:
        seen.add("/incoming/adulting", call)
        return WebhookResponse().say(text="You are on your own now")

    @app.call_hook("/adulting")
    async def adulting_http(call: CallSession) -> WebhookResponse:
        seen.add("/adulting", call)
        return WebhookResponse().say(text="You are on your own now")

    @app.action_hook("/screen")
    async def screen(call: CallSession) -> WebhookResponse:
        seen.add("/screen", call)
        return WebhookResponse().say(text="Press 1 to accept the call")

    @app.call_hook("/sales")
    async def sales(call: CallSession) -> WebhookResponse:
        seen.add("/sales", call)
        return WebhookResponse().say(text="Sales, how can we help?")

    @app.action_hook("/menu")
    async def menu(result: GatherResult, call: CallSession) -> WebhookResponse:
        seen.add("/menu", call)
        return WebhookResponse().say(text=f"You pressed {result.digits}")

    @app.status_hook("/status")
    async def status(event: CallStatus, call: CallSession) -> None:
        seen.add("/status", call)

    return app, seen


@pytest.fixture
def served() -> Iterator[tuple[TestClient, Seen]]:
    app, seen = make_app()
    with TestClient(app) as client:
        yield client, seen


def _send(socket: WebSocketTestSession, kind: str, data: dict[str, Any], msgid: str, **extra: Any) -> Any:
    """Send one message as jambonz does (ws-requestor.js) and return its ack's verbs."""
    envelope = {"type": kind, "msgid": msgid, "call_sid": data["call_sid"], **extra, "data": data}
    socket.send_text(json.dumps(envelope))
    ack = json.loads(socket.receive_text())
    assert ack["type"] == "ack" and ack["msgid"] == msgid, ack
    return ack.get("data")


def _socket(client: TestClient, path: str) -> Any:
    return client.websocket_connect(path, subprotocols=[SUBPROTOCOL])


# ---------------------------------------------------------------------------------------------
# The REST-created outbound call
# ---------------------------------------------------------------------------------------------


def _check_rest_call(call: CallSession) -> None:
    assert call.call_sid == REST_CALL_SID
    assert call.application_sid is None
    assert call.direction == "outbound"
    assert call.from_ == "15083084809"
    assert call.to == "15083728299"
    assert call.sip is None
    assert call.env_vars is None
    assert call.caller_id is None
    assert call.customer_data == {"campaign": "spring-renewals", "contactId": 4711}
    assert call.defaults is not None and call.defaults.synthesizer is not None
    assert call.defaults.synthesizer.voice == "en-US-Standard-C"


def test_a_rest_created_call_without_application_reaches_its_handler_over_http(
    served: tuple[TestClient, Seen],
) -> None:
    client, seen = served
    verbs = post(client, "/outdial", REST_CALL_HOOK)
    assert verbs == [{"verb": "say", "text": "Hello, this is a reminder."}]
    _check_rest_call(seen.one("/outdial"))


def test_a_rest_created_call_without_application_reaches_its_handler_over_websocket(
    served: tuple[TestClient, Seen],
) -> None:
    client, seen = served
    # create-call.js: a ws:// call_hook opens a socket there; rest_dial sends session:new on it.
    with _socket(client, "/outdial") as socket:
        verbs = _send(socket, "session:new", REST_CALL_HOOK, "m1")
    assert verbs == [{"verb": "say", "text": "Hello, this is a reminder."}]
    _check_rest_call(seen.one("/outdial"))


# ---------------------------------------------------------------------------------------------
# A child call: the dialed leg's confirmHook, and the leg become a call of its own
# ---------------------------------------------------------------------------------------------


def _check_child(call: CallSession) -> None:
    assert call.call_sid == CHILD_CALL["call_sid"]
    assert call.parent_call_sid == REST_CALL_SID
    assert call.application_sid is None
    assert call.caller_id == "15083084809"
    assert call.sip is None


def test_a_child_call_reaches_its_handlers_over_http(served: tuple[TestClient, Seen]) -> None:
    client, seen = served
    assert post(client, "/screen", CHILD_CALL) == [{"verb": "say", "text": "Press 1 to accept the call"}]
    _check_child(seen.one("/screen"))
    assert post(client, "/adulting", ADULTING) == [{"verb": "say", "text": "You are on your own now"}]
    adult = seen.one("/adulting")
    _check_child(adult)
    assert adult.get("parent_call_info")["call_sid"] == REST_CALL_SID


def test_a_child_call_reaches_its_handlers_over_websocket(served: tuple[TestClient, Seen]) -> None:
    client, seen = served
    with _socket(client, "/outdial") as socket:
        _send(socket, "session:new", REST_CALL_HOOK, "m1")
        # The dialed leg's confirmHook, on the parent's socket (ws-requestor.js: a named hook).
        verbs = _send(socket, "dial:confirm", CHILD_CALL, "m2", hook="/screen")
    assert verbs == [{"verb": "say", "text": "Press 1 to accept the call"}]
    _check_child(seen.one("/screen"))
    with _socket(client, "/incoming/adulting") as socket:
        verbs = _send(socket, "session:adulting", ADULTING, "m1")
    assert verbs == [{"verb": "say", "text": "You are on your own now"}]
    _check_child(seen.one("/incoming/adulting"))


# ---------------------------------------------------------------------------------------------
# A redirected call
# ---------------------------------------------------------------------------------------------


def _check_redirected(call: CallSession) -> None:
    assert call.call_sid == REDIRECTED["call_sid"]
    assert call.call_status == "in-progress"
    assert call.caller_id is None
    assert call.get("verb_id") == "to-sales"


def test_a_redirected_call_reaches_its_handler_over_http(served: tuple[TestClient, Seen]) -> None:
    client, seen = served
    assert post(client, "/sales", REDIRECTED) == [{"verb": "say", "text": "Sales, how can we help?"}]
    _check_redirected(seen.one("/sales"))


def test_a_redirected_call_reaches_its_handler_over_websocket(served: tuple[TestClient, Seen]) -> None:
    client, seen = served
    first = session_new(call_sid=REDIRECTED["call_sid"])
    with _socket(client, "/incoming") as socket:
        _send(socket, "session:new", first, "m1")
        verbs = _send(socket, "session:redirect", REDIRECTED, "m2", hook="/sales")
    assert verbs == [{"verb": "say", "text": "Sales, how can we help?"}]
    _check_redirected(seen.one("/sales"))


# ---------------------------------------------------------------------------------------------
# CallSession on the hooks after the call hook: the kept session, updated
# ---------------------------------------------------------------------------------------------

# A gather's actionHook (task.js performAction): the call's info now, and the verb's results.
GATHER = {
    **{key: value for key, value in REDIRECTED.items() if key != "verb_id"},
    "reason": "dtmfDetected",
    "digits": "7",
    "customerData": {"stage": "menu"},
}


def _check_kept(call: CallSession, first: dict[str, Any]) -> None:
    # From the call hook: the INVITE, the env vars, the defaults.
    assert call.sip is not None and call.sip.headers["X-Account-Ref"] == "acct-42"
    assert call.env_vars == first["env_vars"]
    assert call.caller_name == "Alice Example"
    # From this hook's own payload: the status now, the customerData now, its own keys.
    assert call.call_status == "in-progress"
    assert call.sip_status == 200
    assert call.customer_data == {"stage": "menu"}
    assert call.get("digits") == "7"


def test_call_session_on_an_action_hook_is_the_kept_session_updated_over_http(
    served: tuple[TestClient, Seen],
) -> None:
    client, seen = served
    first = session_new(call_sid=REDIRECTED["call_sid"])
    post(client, "/incoming", first)
    assert post(client, "/menu", GATHER) == [{"verb": "say", "text": "You pressed 7"}]
    _check_kept(seen.one("/menu"), first)
    final = {**REDIRECTED, "call_status": "completed", "duration": 12, "call_termination_by": "caller"}
    post(client, "/status", final)
    status = seen.one("/status")
    assert status.call_status == "completed"
    assert status.env_vars == first["env_vars"]


@pytest.mark.parametrize("redirected", [False, True], ids=["direct", "after-a-redirect"])
def test_call_session_on_an_action_hook_is_the_kept_session_updated_over_websocket(
    served: tuple[TestClient, Seen], redirected: bool
) -> None:
    client, seen = served
    first = session_new(call_sid=REDIRECTED["call_sid"])
    with _socket(client, "/incoming") as socket:
        _send(socket, "session:new", first, "m1")
        if redirected:
            # The redirected call hook brings no INVITE and no env vars: the kept session stays.
            _send(socket, "session:redirect", REDIRECTED, "m2", hook="/sales")
        verbs = _send(socket, "verb:hook", GATHER, "m3", hook="/menu")
    assert verbs == [{"verb": "say", "text": "You pressed 7"}]
    _check_kept(seen.one("/menu"), first)


def test_a_hook_of_a_call_whose_call_hook_was_never_kept_gets_its_own_payload(
    served: tuple[TestClient, Seen], caplog: pytest.LogCaptureFixture
) -> None:
    client, seen = served
    with caplog.at_level(logging.INFO, logger="jambonz_webhooks"):
        post(client, "/menu", GATHER)
    call = seen.one("/menu")
    assert call.sip is None and call.env_vars is None
    assert call.customer_data == {"stage": "menu"}
    # A dialed leg's first hook, or a call hook served elsewhere: nothing to warn about.
    assert [record for record in caplog.records if record.levelno >= logging.WARNING] == []


class FailingStore(MemoryStore):
    """A store whose reads fail, as a Redis that went away."""

    async def get(self, call_sid: str, key: str) -> bytes | None:
        raise StateStoreError("connection refused")


async def test_a_store_failure_gives_the_payload_and_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    call = CallSession.model_validate(GATHER)
    with caplog.at_level(logging.WARNING, logger="jambonz_webhooks"):
        assert await kept_session(call, FailingStore()) is call
    assert "could not read call" in caplog.text


async def test_a_kept_session_that_no_longer_validates_gives_the_payload() -> None:
    store = MemoryStore()
    await store.set(GATHER["call_sid"], {"jambonz:session": b'{"call_sid": 5}'})
    call = CallSession.model_validate(GATHER)
    assert await kept_session(call, store) is call


def test_the_call_hook_is_kept_only_when_a_later_hook_asks_for_it() -> None:
    app = JambonzApp(insecure=True, state=MemoryStore())

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().say(text="hi")

    @app.action_hook("/menu")
    async def menu(result: GatherResult) -> WebhookResponse:
        return WebhookResponse().hangup()

    settings = app.hook_settings
    assert settings.uses_state is False

    @app.action_hook("/later")
    async def later(call: CallSession) -> WebhookResponse:
        return WebhookResponse().hangup()

    assert settings.uses_state is True


def test_a_redirect_to_a_call_hook_keeps_the_calls_first_session_over_http(
    served: tuple[TestClient, Seen],
) -> None:
    client, seen = served
    first = session_new(call_sid=REDIRECTED["call_sid"])
    post(client, "/incoming", first)
    # The redirected call hook brings no INVITE and no env vars: the kept session stays.
    post(client, "/sales", REDIRECTED)
    post(client, "/menu", GATHER)
    _check_kept(seen.one("/menu"), first)


def test_a_rest_created_call_without_an_invite_still_has_its_session_kept(
    served: tuple[TestClient, Seen],
) -> None:
    client, seen = served
    post(client, "/outdial", REST_CALL_HOOK)
    gather = {**REST_CALL_HOOK, "reason": "dtmfDetected", "digits": "1"}
    post(client, "/menu", gather)
    kept = seen.one("/menu")
    assert kept.defaults is not None  # from the call hook: the gather's payload has none
    assert kept.defaults.model_dump(exclude_none=True) == REST_CALL_HOOK["defaults"]


# An enqueue verb's waitHook (lib/tasks/enqueue.js, 0.9.8): the queue's figures with the call's
# call_sid, call_id and customerData only, none of the rest of the call's information.
WAIT_HOOK = {
    "call_sid": REDIRECTED["call_sid"],
    "call_id": REDIRECTED["call_id"],
    "customerData": {"stage": "queue"},
    "queue_sid": f"queue:{ACCOUNT_SID}:support",
    "queue_time": 3,
    "queue_size": 2,
    "queue_position": 1,
    "call_status": "in-progress",
}


def test_a_hook_carrying_little_of_the_call_gets_the_kept_session() -> None:
    app = JambonzApp(insecure=True, state=MemoryStore())
    seen: list[CallSession] = []

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().enqueue(name="support", wait_hook="/wait")

    @app.action_hook("/wait")
    async def wait(event: EnqueueWait, call: CallSession) -> WebhookResponse:
        seen.append(call)
        return WebhookResponse().say(text=f"You are number {event.queue_position}")

    first = session_new(call_sid=REDIRECTED["call_sid"])
    with TestClient(app) as client:
        post(client, "/incoming", first)
        assert post(client, "/wait", WAIT_HOOK) == [{"verb": "say", "text": "You are number 1"}]
        (call,) = seen
        assert type(call) is CallSession
        assert call.env_vars == first["env_vars"] and call.sip is not None  # kept
        assert call.customer_data == {"stage": "queue"}  # this hook's
        # A call whose call hook was kept nowhere: the handler cannot get a whole CallSession.
        other = {**WAIT_HOOK, "call_sid": "CA-never-seen"}
        answer = client.post("/wait", json=other)
        assert answer.status_code == 422
        assert "account_sid" in answer.json()["error"] and "no session was kept" in answer.json()["error"]


def test_a_hook_handler_cannot_take_a_tool_call_it_would_answer_with_verbs() -> None:
    app = JambonzApp(insecure=True, state=MemoryStore())

    async def tool(call: LlmToolCall) -> WebhookResponse:
        return WebhookResponse()

    with pytest.raises(TypeError, match=r"app\.tool_hook"):
        app.action_hook("/tools")(tool)

    @app.on("llm:tool-call")  # the socket's own tool calls: answered with tool_output
    async def on_tool(call: LlmToolCall) -> None:
        return None
