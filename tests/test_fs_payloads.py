"""Payloads jambonz sends that no schema describes, typed from real-shaped samples.

Every sample is built as jambonz-feature-server 0.9.8 builds it (the source beside it), then
snake-cased as its requestors do: every key but those under ``customerData``, ``sip``,
``env_vars`` and ``args`` (lib/utils/snakecase-keys.js with npm to-snake-case), so SIP header
names inside ``sip_headers`` and ``headers`` arrive as ``call_id``, ``content_type``, ``x_foo``.
drachtio-srf parses the headers of a received request lazily: each value is the header's text,
a repeated header's values joined by ``,`` (drachtio-srf lib/sip-parser/parser.js), names lower
case but for ``X-`` and ``P-`` headers.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from jambonz_webhooks import (
    CallControl,
    CallSession,
    CallStatus,
    JambonzApp,
    LlmToolCall,
    MemoryStore,
    SipRequestWithinDialog,
    Toolbox,
    WebhookResponse,
)
from jambonz_webhooks.events import forwarded_tool_output
from jambonz_webhooks.payload import SipReason, jambonz_key, parse_sip_reason, sip_header
from jambonz_webhooks.tools import VENDORS
from tests.payloads import call_info, post_as_jambonz, session_new

SUBPROTOCOL = "ws.jambonz.org"

# ---------------------------------------------------------------------------------------------
# Samples
# ---------------------------------------------------------------------------------------------

# An INFO within the call: lib/session/call-session.js _onRequestWithinDialog answers it 200,
# then currentTask.performHook (lib/tasks/task.js): {...callInfo.toJSON(), sip_method, sip_body:
# req.body, sip_headers: req.headers}, snake-cased.
SIP_INFO: dict[str, Any] = call_info(
    sip_method="INFO",
    sip_body="Signal=5\r\nDuration=160\r\n",
    sip_headers={
        "via": "SIP/2.0/UDP 10.0.1.2:5060;branch=z9hG4bK-524287-1---f3a1b2c3d4e5f6a7;rport",
        "max_forwards": "70",
        "from": "<sip:+15083084809@203.0.113.10>;tag=1928301774",
        "to": "<sip:+15083728299@jambonz.example>;tag=XgQ7mr3F6aQ0c",
        "call_id": "a1b2c3d4e5f6@203.0.113.10",
        "cseq": "102 INFO",
        "content_type": "application/dtmf-relay",
        "content_length": "26",
        "x_cid": "f6e5d4c3b2a1@198.51.100.7",  # X-CID, the SBC's Call-ID
        "x_session_ref": "crm-4711",
    },
)

# A MESSAGE within the call: answered 202, then the same hook.
SIP_MESSAGE: dict[str, Any] = {
    **SIP_INFO,
    "sip_method": "MESSAGE",
    "sip_body": "Please call me back on my mobile, thanks!",
    "sip_headers": {**SIP_INFO["sip_headers"], "cseq": "103 MESSAGE", "content_type": "text/plain"},
}

HOLD_SDP = (
    "v=0\r\no=- 3912345678 3912345679 IN IP4 203.0.113.10\r\ns=-\r\nc=IN IP4 203.0.113.10\r\n"
    "t=0 0\r\nm=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=sendonly\r\n"
)

# A re-INVITE putting the call on hold, with JAMBONES_HOLD_UNHOLD_EVENTS set:
# call-session.js _notifyHoldState sends 'verb:hook' to the sipRequestWithinDialogHook with
# {...callInfo.toJSON(), sip_method: 'INVITE', event: 'hold', on_hold: true, sip_body, sip_headers}
# (on hold: the SDP has a=sendonly or a=inactive, lib/utils/sdp-utils.js isOnhold).
HOLD: dict[str, Any] = call_info(
    sip_method="INVITE",
    event="hold",
    on_hold=True,
    sip_body=HOLD_SDP,
    sip_headers={**SIP_INFO["sip_headers"], "cseq": "104 INVITE", "content_type": "application/sdp"},
)
UNHOLD: dict[str, Any] = {**HOLD, "event": "unhold", "on_hold": False}

# A SIPREC call's re-INVITE that changes nothing: siprec-call-session.js _notifySipRecReinvite,
# event 'reinvite' and siprec true; the body is the whole multipart (SDPs and rs-metadata).
SIPREC_REINVITE: dict[str, Any] = {
    **HOLD,
    "event": "reinvite",
    "on_hold": False,
    "siprec": True,
    "sip_body": "--uniqueBoundary\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n--uniqueBoundary--\r\n",
}

# The final status of a call the far end hung up with custom headers and a Reason: the BYE's
# headers but the routing ones (call-session.js _extractCustomHeaders) become callInfo's
# sipHeaders, written as `headers` by toJSON; duration and callTerminationBy with it
# (inbound-call-session.js _hangup). sip_reason_header: the BYE's Reason, as a newer
# feature server surfaces it (schema 0.4.15; its test "a Reason header on a BYE is surfaced on
# the completed event").
FINAL_STATUS: dict[str, Any] = call_info(
    call_status="completed",
    call_termination_by="caller",
    duration=42,
    sip_reason_header="Q.850 ;cause=16",
    headers={
        "X-Reason": "agent-ended",  # under `headers`, not excluded: snake-cased below
        "reason": "Q.850 ;cause=16",
        "user-agent": "Acme-SBC/4.2",
        "allow": "INVITE,ACK,CANCEL,BYE,INFO,MESSAGE",
    },
)
FINAL_STATUS["headers"] = {jambonz_key(name): value for name, value in FINAL_STATUS["headers"].items()}

# A REST-created call the far end refused with two Reason headers, which drachtio joins with ','
# ("repeated Reason headers are preserved rather than one being dropped").
FAILED_STATUS: dict[str, Any] = call_info(
    direction="outbound",
    call_status="failed",
    sip_status=486,
    sip_reason="Busy Here",
    sip_reason_header='SIP ;cause=486 ;text="busy, try later",Q.850 ;cause=17',
)

# ---------------------------------------------------------------------------------------------
# An app with a hook for each
# ---------------------------------------------------------------------------------------------


class Seen:
    def __init__(self) -> None:
        self.items: list[Any] = []


def make_app() -> tuple[JambonzApp, Seen]:
    app = JambonzApp(insecure=True, fallback=None, state=MemoryStore())
    seen = Seen()

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().say(text="hi")

    @app.action_hook("/sip-in-dialog")
    async def in_dialog(request: SipRequestWithinDialog) -> WebhookResponse:
        seen.items.append(request)
        if request.sip_method == "INFO":
            return WebhookResponse().say(text=f"You sent {request.header('Content-Type')}")
        return WebhookResponse()

    @app.status_hook("/status")
    async def status(event: CallStatus) -> None:
        seen.items.append(event)

    @app.on("llm:tool-call")
    async def tool_call(call: LlmToolCall, control: CallControl) -> None:
        seen.items.append(call)

    return app, seen


@pytest.fixture
def served() -> Iterator[tuple[TestClient, Seen]]:
    app, seen = make_app()
    with TestClient(app) as client:
        yield client, seen


def _over_websocket(client: TestClient, messages: list[tuple[str, dict[str, Any], str | None]]) -> list[Any]:
    """Open a call's socket, send session:new then ``messages``; the acks' verbs (None: no ack)."""
    answers: list[Any] = []
    with client.websocket_connect("/incoming", subprotocols=[SUBPROTOCOL]) as socket:
        socket.send_text(json.dumps({"type": "session:new", "msgid": "m0", "data": session_new()}))
        json.loads(socket.receive_text())
        for index, (kind, data, hook) in enumerate(messages, 1):
            envelope = {"type": kind, "msgid": f"m{index}", "data": data}
            if hook is not None:
                envelope["hook"] = hook
            socket.send_text(json.dumps(envelope))
            if kind == "verb:hook":
                answers.append(json.loads(socket.receive_text()).get("data"))
    return answers


# ---------------------------------------------------------------------------------------------
# In-dialog SIP requests and hold events
# ---------------------------------------------------------------------------------------------


def _check_info(request: Any) -> None:
    assert isinstance(request, SipRequestWithinDialog)
    assert request.sip_method == "INFO"
    assert request.sip_body == "Signal=5\r\nDuration=160\r\n"
    assert request.header("Content-Type") == "application/dtmf-relay"
    assert request.header("X-Session-Ref") == "crm-4711"
    assert request.header("Call-ID") == "a1b2c3d4e5f6@203.0.113.10"
    assert request.header("X-Missing") is None
    assert request.event is None and request.on_hold is None
    assert request.call_sid == SIP_INFO["call_sid"]


def test_an_in_dialog_info_reaches_its_hook_typed_over_http(served: tuple[TestClient, Seen]) -> None:
    client, seen = served
    assert post_as_jambonz(client, "/sip-in-dialog", SIP_INFO) == [
        {"verb": "say", "text": "You sent application/dtmf-relay"}
    ]
    _check_info(seen.items[0])


def test_an_in_dialog_info_reaches_its_hook_typed_over_websocket(served: tuple[TestClient, Seen]) -> None:
    client, seen = served
    answers = _over_websocket(client, [("verb:hook", SIP_INFO, "/sip-in-dialog")])
    assert answers == [[{"verb": "say", "text": "You sent application/dtmf-relay"}]]
    _check_info(seen.items[0])


def test_an_in_dialog_message_and_hold_events(served: tuple[TestClient, Seen]) -> None:
    client, seen = served
    for payload in (SIP_MESSAGE, HOLD, UNHOLD, SIPREC_REINVITE):
        post_as_jambonz(client, "/sip-in-dialog", payload)
    message, hold, unhold, siprec = seen.items
    assert message.sip_method == "MESSAGE"
    assert message.sip_body == "Please call me back on my mobile, thanks!"
    assert message.header("content-type") == "text/plain"
    assert (hold.sip_method, hold.event, hold.on_hold, hold.siprec) == ("INVITE", "hold", True, None)
    assert "a=sendonly" in hold.sip_body
    assert hold.header("CSeq") == "104 INVITE"
    assert (unhold.event, unhold.on_hold) == ("unhold", False)
    assert (siprec.event, siprec.on_hold, siprec.siprec) == ("reinvite", False, True)


def test_hold_events_reach_their_hook_over_websocket(served: tuple[TestClient, Seen]) -> None:
    client, seen = served
    _over_websocket(client, [("verb:hook", HOLD, "/sip-in-dialog"), ("verb:hook", UNHOLD, "/sip-in-dialog")])
    assert [(item.event, item.on_hold) for item in seen.items] == [("hold", True), ("unhold", False)]


def test_an_in_dialog_request_with_a_wrong_type_is_refused() -> None:
    app, seen = make_app()
    with TestClient(app) as client:
        body = json.dumps({**HOLD, "on_hold": "yes"})
        response = client.post("/sip-in-dialog", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert {item["field"] for item in response.json()["fields"]} == {"on_hold"}
    assert seen.items == []


# ---------------------------------------------------------------------------------------------
# The final status's headers and the Reason header
# ---------------------------------------------------------------------------------------------


def _check_final(event: Any) -> None:
    assert isinstance(event, CallStatus)
    assert event.is_final and event.duration == 42
    assert event.headers == {
        "x_reason": "agent-ended",
        "reason": "Q.850 ;cause=16",
        "user_agent": "Acme-SBC/4.2",
        "allow": "INVITE,ACK,CANCEL,BYE,INFO,MESSAGE",
    }
    assert event.header("X-Reason") == "agent-ended"
    assert event.header("User-Agent") == "Acme-SBC/4.2"
    assert event.sip_reason_header == "Q.850 ;cause=16"
    assert event.sip_reasons == (SipReason("Q.850", 16, None),)


def test_the_final_status_headers_and_reason_over_http(served: tuple[TestClient, Seen]) -> None:
    client, seen = served
    assert post_as_jambonz(client, "/status", FINAL_STATUS) is None
    _check_final(seen.items[0])


def test_the_final_status_headers_and_reason_over_websocket(served: tuple[TestClient, Seen]) -> None:
    client, seen = served
    _over_websocket(client, [("call:status", FINAL_STATUS, None)])
    _check_final(seen.items[0])


def test_several_reason_values_are_parsed(served: tuple[TestClient, Seen]) -> None:
    client, seen = served
    post_as_jambonz(client, "/status", FAILED_STATUS)
    event = seen.items[0]
    assert event.call_status == "failed" and event.sip_reason == "Busy Here"
    assert event.sip_reasons == (SipReason("SIP", 486, "busy, try later"), SipReason("Q.850", 17, None))
    assert event.headers is None and event.header("X-Reason") is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Spacing variants fs passes through verbatim (its sip_reason_header tests).
        ("Q.850 ;cause=31", [("Q.850", 31, None)]),
        ("Q.850;cause=31", [("Q.850", 31, None)]),
        ("Q.850 ; cause=31", [("Q.850", 31, None)]),
        ('Q.850;cause=16;text="Normal call clearing"', [("Q.850", 16, "Normal call clearing")]),
        (
            'SIP;cause=200;text="Call completed elsewhere", Q.850;cause=26',
            [
                ("SIP", 200, "Call completed elsewhere"),
                ("Q.850", 26, None),
            ],
        ),
        ('SIP;text="a \\"quoted\\" word; and, more";cause=480', [("SIP", 480, 'a "quoted" word; and, more')]),
        ("Q.850;CAUSE=18;text=unquoted", [("Q.850", 18, "unquoted")]),
        ("Q.850;cause=abc", [("Q.850", None, None)]),
        ("Q.850;cause=", [("Q.850", None, None)]),
        ("RELEASE_CAUSE;cause=3;x-ext=1", [("RELEASE_CAUSE", 3, None)]),
        ("", []),
        (",, ;cause=1,", []),
        ('"broken', []),
    ],
)
def test_parse_sip_reason(text: str, expected: list[tuple[str, int | None, str | None]]) -> None:
    assert parse_sip_reason(text) == tuple(SipReason(*item) for item in expected)


def test_parse_sip_reason_never_raises() -> None:
    rng = random.Random(15)
    alphabet = string.printable + '";,=\\é☎'
    for _ in range(2000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(40)))
        for reason in parse_sip_reason(text):
            assert reason.protocol and '"' not in reason.protocol
            assert reason.cause is None or reason.cause >= 0


def test_jambonz_key_is_to_snake_case() -> None:
    # npm to-snake-case, as fs's requestors apply it to header names.
    cases = {
        "X-Reason": "x_reason",
        "X-CID": "x_cid",
        "call-id": "call_id",
        "cseq": "cseq",
        "p-asserted-identity": "p_asserted_identity",
        "User-Agent": "user_agent",
        "Diversion": "diversion",
        "callSid": "call_sid",
        "X-Custom_Header.v2": "x_custom_header_v2",
    }
    assert {name: jambonz_key(name) for name in cases} == cases


def test_sip_header_finds_a_header_however_it_was_written() -> None:
    assert sip_header({"x_reason": "a"}, "X-Reason") == "a"
    assert sip_header({"X-Reason": "b"}, "x-reason") == "b"
    assert sip_header({"cseq": "1 BYE"}, "CSeq") == "1 BYE"
    assert sip_header({"X-Reason": 3}, "X-Reason") is None
    assert sip_header(None, "X-Reason") is None


# ---------------------------------------------------------------------------------------------
# The LLM tool hook: its payload and its answer
# ---------------------------------------------------------------------------------------------

# lib/tasks/llm/index.js sendToolHook: request('llm:tool-call', toolHook, {tool_call_id, ...data})
# with no call fields; data is {name, args} from openai_s2s.js (args: JSON.parse of the item's
# arguments), ultravox_s2s.js, elevenlabs_s2s.js, voice_agent_s2s.js; google_s2s.js sends
# ('function_call_id', {type: 'toolCall', functionCalls}), snake-cased to function_calls. args is
# not snake-cased.
TOOL_CALLS: dict[str, dict[str, Any]] = {
    "openai": {"tool_call_id": "call_8fGhQ2", "name": "lookup_order", "args": {"orderId": "A-17"}},
    "ultravox": {"tool_call_id": "inv-3c1f", "name": "lookup_order", "args": {"orderId": "A-17"}},
    "elevenlabs": {"tool_call_id": "toolu_01", "name": "lookup_order", "args": {"orderId": "A-17"}},
    "deepgram": {"tool_call_id": "fc_5b2e", "name": "lookup_order", "args": {"orderId": "A-17"}},
    "google": {
        "tool_call_id": "function_call_id",
        "type": "toolCall",
        "function_calls": [
            {"id": "fc-1", "name": "lookup_order", "args": {"orderId": "A-17"}},
            {"id": "fc-2", "name": "lookup_order", "args": {"orderId": "B-2"}},
        ],
    },
}

# What each adapter's processToolOutput forwards to its vendor (else it logs and drops the output).
ADAPTER_TAKES: dict[str, Callable[[dict[str, Any]], bool]] = {
    "openai": lambda data: data.get("type") == "conversation.item.create",
    "ultravox": lambda data: data.get("type") == "client_tool_result",
    "elevenlabs": lambda data: data["data"].get("type") == "client_tool_result",
    "deepgram": lambda data: data["data"].get("type") == "FunctionCallResponse",
    "google": lambda data: bool(data.get("toolResponse")),
}


@pytest.mark.parametrize("vendor", sorted(TOOL_CALLS))
def test_a_tool_call_payload_is_typed(vendor: str) -> None:
    call = LlmToolCall.model_validate_json(json.dumps(TOOL_CALLS[vendor]), strict=True)
    assert call.call_sid is None  # over HTTP jambonz sends no call fields
    assert call.tool_call_id == TOOL_CALLS[vendor]["tool_call_id"]
    calls = call.calls
    assert {item.name for item in calls} == {"lookup_order"}
    assert calls[0].args == {"orderId": "A-17"}  # kept as the model wrote it
    if vendor == "google":
        assert call.type == "toolCall"
        assert [item.id for item in calls] == ["fc-1", "fc-2"]
    else:
        assert calls[0].id == call.tool_call_id and call.type is None


@pytest.mark.parametrize("vendor", sorted(TOOL_CALLS))
def test_the_tool_hook_answer_is_what_the_adapter_takes_once_jambonz_wraps_it(vendor: str) -> None:
    assert set(VENDORS) == set(TOOL_CALLS)
    tools = Toolbox()

    @tools.tool
    async def lookup_order(orderId: str) -> dict[str, str]:  # the model's own key
        """Look up an order."""
        return {"status": "shipped", "order": orderId}

    app = JambonzApp(insecure=True)
    app.tool_hook("/tools", tools)
    with TestClient(app) as client:
        answer = post_as_jambonz(client, f"/tools/{vendor}", TOOL_CALLS[vendor])
    forwarded = forwarded_tool_output(answer, TOOL_CALLS[vendor]["tool_call_id"])
    assert ADAPTER_TAKES[vendor](forwarded), forwarded
    assert "shipped" in json.dumps(forwarded)
    if "type" in answer:
        assert forwarded == answer  # passed through unchanged
    else:
        assert forwarded == {
            **answer,
            "type": "client_tool_result",
            "invocation_id": TOOL_CALLS[vendor]["tool_call_id"],
        }


def test_a_tool_call_over_websocket_reaches_its_handler_typed(served: tuple[TestClient, Seen]) -> None:
    client, seen = served
    _over_websocket(client, [("llm:tool-call", TOOL_CALLS["google"], "/nowhere")])
    call = seen.items[0]
    assert isinstance(call, LlmToolCall)
    assert [item.args for item in call.calls] == [{"orderId": "A-17"}, {"orderId": "B-2"}]
