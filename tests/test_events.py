"""The callback models: one per jambonz callback schema, fed realistic payloads through a real app.

The cases come from the official schemas (``tests.schemas``): every enum value of every callback
schema is delivered in a realistic payload, valid per that schema, to a handler annotated with
the model, over POST (strict JSON) and GET (query strings, coerced).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from pydantic import BaseModel
from starlette.testclient import TestClient

from jambonz_webhooks import ConferenceStatus, JambonzApp, WebhookResponse
from jambonz_webhooks.events import (
    CALLBACK_MODELS,
    FINAL_CALL_STATUSES,
    AgentTurn,
    CallStatus,
    GatherPartial,
    GatherResult,
    SipReferEvent,
    TranscribeResult,
)
from jambonz_webhooks.payload import CallInfo
from jambonz_webhooks.session import CallSession
from tests.payloads import call_info, session_new
from tests.schemas import errors, schema_ids, schemas

CALLBACK_IDS = schema_ids("callbacks")
ACCOUNT_SID = call_info()["account_sid"]
CALL_SID = call_info()["call_sid"]

# ---------------------------------------------------------------------------------------------
# Reading the schemas
# ---------------------------------------------------------------------------------------------


def merged_properties(schema_id: str) -> dict[str, dict[str, Any]]:
    """The properties a payload of ``schema_id`` may have: its own, its oneOf branches', then its bases'."""
    schema = schemas()[schema_id]
    props: dict[str, dict[str, Any]] = dict(schema.get("properties", {}))
    for branch in schema.get("oneOf", []):
        for key, sub in branch.get("properties", {}).items():
            props.setdefault(key, sub)
    for part in schema.get("allOf", []):
        ref = part.get("$ref")
        if ref is not None:
            for key, sub in merged_properties(f"callbacks/{ref}").items():
                props.setdefault(key, sub)
    return props


def required_keys(schema_id: str) -> list[str]:
    """Keys every payload of ``schema_id`` must carry (required outright, or by every oneOf branch)."""
    schema = schemas()[schema_id]
    required = list(schema.get("required", []))
    branches = [set(branch.get("required", [])) for branch in schema.get("oneOf", [])]
    if branches:
        required += sorted(set.intersection(*branches) - set(required))
    return required


def _enums(node: dict[str, Any], path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    if "enum" in node:
        for value in node["enum"]:
            yield path, value
    if "const" in node:
        yield path, node["const"]
    for key, sub in node.get("properties", {}).items():
        yield from _enums(sub, (*path, key))
    for branch in node.get("oneOf", []) + node.get("anyOf", []):
        yield from _enums(branch, path)


def enum_cases() -> list[tuple[str, tuple[str, ...], Any]]:
    """Every documented value of every enum (or const) of every callback schema, with where it goes."""
    cases = []
    for schema_id in CALLBACK_IDS:
        seen = set()
        for path, value in _enums(schemas()[schema_id], ()):
            if (path, value) not in seen:
                seen.add((path, value))
                cases.append((schema_id, path, value))
    return cases


ENUM_CASES = enum_cases()
ENUM_FIELDS = sorted({(schema_id, path) for schema_id, path, _ in ENUM_CASES})

# ---------------------------------------------------------------------------------------------
# Realistic payloads
# ---------------------------------------------------------------------------------------------

Path = tuple[str, ...]


def speech(transcript: str = "I'd like to check my balance", confidence: float = 0.93) -> dict[str, Any]:
    """A final deepgram result, as jambonz forwards it."""
    return {
        "language_code": "en-US",
        "channel_tag": 1,
        "is_final": True,
        "alternatives": [
            {"transcript": transcript, "confidence": confidence},
            {"transcript": transcript.replace("balance", "balances"), "confidence": 0.71},
        ],
        "vendor": {
            "name": "deepgram",
            "evt": {
                "type": "Results",
                "duration": 1.82,
                "is_final": True,
                "speech_final": True,
                "channel": {"alternatives": [{"transcript": transcript, "confidence": confidence}]},
            },
        },
    }


def gather(path: Path, value: Any) -> dict[str, Any]:
    data = call_info(reason=value)
    if value == "speechDetected":
        data["speech"] = speech()
    elif value == "stt-low-confidence":
        data["speech"] = speech("I'd like to jeck my ballads", 0.31)
    elif value == "dtmfDetected":
        data["digits"] = "1234"
    elif value == "error":
        data["details"] = {"error": "recognizer connection failed", "vendor": "deepgram"}
    return data


DIAL_SIP_STATUS = {
    "completed": 200,
    "failed": 503,
    "busy": 486,
    "no-answer": 487,
    "trying": 100,
    "ringing": 180,
    "early-media": 183,
    "in-progress": 200,
}


def dial(path: Path, value: Any) -> dict[str, Any]:
    return call_info(
        dial_call_status=value,
        dial_sip_status=DIAL_SIP_STATUS[value],
        dial_call_sid="c7d8e9f0-1a2b-4c3d-9e8f-7a6b5c4d3e2f",
        dial_sbc_callid="0f9e8d7c6b5a@198.51.100.7",
    )


def amd(path: Path, value: Any) -> dict[str, Any]:
    data = call_info(type=value)
    if value == "amd_human_detected":
        data.update(reason="short greeting", greeting="Hello?", language="en-US")
    elif value == "amd_machine_detected":
        data.update(
            reason="hint",
            greeting="Hi, you've reached Sam. Please leave a message after the tone.",
            hint="leave a message",
            language="en-US",
        )
    elif value == "amd_tone_detected":
        data.update(frequency=1000, variance=12)
    return data


TRANSFER_REASON_OF = {
    "bridged": "completed",
    "returned": "no-answer",
    "voicemail": "no-answer",
    "failed": "error",
}
TRANSFER_RESULT_OF = {
    "completed": "bridged",
    "no-answer": "returned",
    "busy": "returned",
    "declined": "returned",
    "caller-abandoned": "failed",
    "error": "failed",
}
TRANSFER_SIP_STATUS = {"completed": 200, "no-answer": 487, "busy": 486, "declined": 603, "error": 503}


def transfer(path: Path, value: Any) -> dict[str, Any]:
    if path == ("transfer_result",):
        result, reason = value, TRANSFER_REASON_OF[value]
    else:
        result, reason = TRANSFER_RESULT_OF[value], value
    data = call_info(transfer_result=result, transfer_reason=reason)
    if reason != "caller-abandoned":
        data.update(
            dial_call_sid="3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f", sip_status=TRANSFER_SIP_STATUS[reason]
        )
    return data


def call_status(path: Path, value: Any) -> dict[str, Any]:
    return call_info(
        direction="inbound",
        call_status="completed",
        sip_status=200,
        sip_reason="OK",
        call_termination_by="caller",
        duration=187,
    )


def verb_status(path: Path, value: Any) -> dict[str, Any]:
    if value in ("starting", "finished"):
        return {"event": value, "name": "say", "id": "greeting"}
    if value == "synthesized-audio":
        return {
            "event": value,
            "verb": "say",
            "vendor": "elevenlabs",
            "language": "en-US",
            "characters": 42,
            "elapsed_time": 212.5,
            "served_from_cache": False,
        }
    if value in ("dtmf-bargein-detected", "speech-bargein-detected"):
        return {"event": value, "verb": "gather", "id": "menu"}
    return {"event": value, "verb": "play", "id": "hold-music"}


def conference_status(path: Path, value: Any) -> dict[str, Any]:
    started = value == "start"
    return call_info(
        event=value,
        conference_sid=f"conf:{ACCOUNT_SID}:sales-standup",
        friendly_name="sales-standup",
        duration=0 if started else 73.42,
        members=1 if started else 4,
        time="2024-05-01T14:03:27.512Z",
    )


def play(path: Path, value: Any) -> dict[str, Any]:
    if value in ("playFailed", "fail"):
        return call_info(reason="playFailed", status="fail")
    return call_info(
        reason="playCompleted",
        playback_seconds=12,
        playback_milliseconds=12480,
        playback_last_offset_pos="199680",
    )


def message(path: Path, value: Any) -> dict[str, Any]:
    data = call_info(message_sid="9d2f1a3b-5c6d-4e7f-8a9b-0c1d2e3f4a5b", message_status=value)
    if value in ("success", "failure"):
        data.update(carrier="Telnyx", carrier_message_id="40317f1a-3a59-4c6b-9c2e-5d3a1f2b7e90")
    if value in ("failure", "system error"):
        data["message_failure_reason"] = "destination number is not SMS capable"
    return data


def llm(path: Path, value: Any) -> dict[str, Any]:
    data = call_info(completion_reason=value)
    if value != "normal conversation end":
        data["error"] = {"code": "session_expired", "message": "the model closed the session"}
    return data


def sip_request(path: Path, value: Any) -> dict[str, Any]:
    if value == "success":
        return call_info(result="success", sip_status=202)
    return call_info(result="failed", err="request timed out")


def agent_turn(path: Path, value: Any) -> dict[str, Any]:
    transcript, response = "What are your opening hours?", "We are open nine to five, Monday to Friday."
    if path == ("latency", "preflight", "result") or value == "turn_end":
        outcome = value if path == ("latency", "preflight", "result") else "hit"
        preflight: dict[str, Any] = {"result": outcome}
        if outcome == "hit":
            preflight["tokens"] = 18
        latency: dict[str, Any] = {
            "transcriber_latency": 212,
            "voice_latency": 148,
            "preflight": preflight,
        }
        if outcome != "hit":
            latency.update(turn_detection_latency=340, model_latency=410)
        return {
            "type": "turn_end",
            "transcript": transcript,
            "response": response,
            "interrupted": False,
            "latency": latency,
        }
    if value == "user_transcript":
        return {"type": value, "transcript": transcript}
    if value == "llm_response":
        return {"type": value, "response": response}
    return {"type": value}


def tts_streaming_event(path: Path, value: Any) -> dict[str, Any]:
    if value == "tts_spoken":
        return {"event_type": value, "text": "Your balance is forty two dollars", "bargein": True}
    return {"event_type": value}


def fixed(**fields: Any) -> Callable[[Path, Any], dict[str, Any]]:
    def build(path: Path, value: Any) -> dict[str, Any]:
        return call_info(**fields)

    return build


BUILDERS: dict[str, Callable[[Path, Any], dict[str, Any]]] = {
    "callbacks/base": fixed(),
    "callbacks/session-new": lambda path, value: session_new(),
    "callbacks/session-reconnect": lambda path, value: session_new(),
    "callbacks/session-redirect": fixed(
        caller_name="Alice Example",
        caller_id="+15083084809",
        parent_call_sid="0e1d2c3b-4a59-6877-8695-a4b3c2d1e0f9",
        fs_sip_address="10.0.1.5:5060",
        fs_public_ip="198.51.100.20",
        customerData={"crmId": "CRM-123", "campaign": {"name": "spring", "wave": 2}},
    ),
    "callbacks/call-status": call_status,
    "callbacks/verb-status": verb_status,
    "callbacks/gather": gather,
    "callbacks/gather-partial": fixed(
        b3="4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        caller_name="Alice Example",
        local_sip_address="10.0.1.5:5060",
        speech={
            "language_code": "en-US",
            "channel_tag": 1,
            "is_final": False,
            "alternatives": [{"transcript": "I'd like to check", "confidence": 0.62}],
            "vendor": {"name": "deepgram", "evt": {"type": "Results", "is_final": False}},
        },
    ),
    "callbacks/transcribe": fixed(
        speech=speech(),
        stt_latency_ms="312",
        stt_talkspurts="[[1714564799,1714564801]]",
        stt_start_time="1714564798",
        stt_stop_time="1714564802",
        stt_usage="3.84",
    ),
    "callbacks/transcribe-translation": fixed(
        translation={"channel": 1, "language": "es-ES", "translation": "Quisiera consultar mi saldo"}
    ),
    "callbacks/dial": dial,
    "callbacks/dial-dtmf": fixed(dtmf="*9"),
    "callbacks/dial-hold": fixed(
        hold_detail={"from": "<sip:+15083728299@203.0.113.50>;tag=77aa", "to": "<sip:+15083084809@10.0.1.5>"}
    ),
    "callbacks/dial-refer": fixed(
        refer_details={
            "sip_refer_to": "<sip:+15085550123@203.0.113.50>",
            "refer_to_user": "+15085550123",
            "sip_referred_by": "<sip:+15083728299@203.0.113.50>",
            "referred_by_user": "+15083728299",
            "sip_user_agent": "Grandstream GXP2170 1.0.11.23",
            "referring_call_sid": "c7d8e9f0-1a2b-4c3d-9e8f-7a6b5c4d3e2f",
            "referred_call_sid": CALL_SID,
            "x_override_number": "+15085550199",
        }
    ),
    "callbacks/amd": amd,
    "callbacks/transfer": transfer,
    "callbacks/sip-refer": fixed(refer_status=202, final_referred_call_status=200),
    "callbacks/sip-refer-event": lambda path, value: {"event": "transfer-status", "call_status": 180},
    "callbacks/sip-request": sip_request,
    "callbacks/enqueue": lambda path, value: call_info(
        queue_sid=f"queue:{ACCOUNT_SID}:support", queue_time=42, queue_result=value
    ),
    "callbacks/enqueue-wait": lambda path, value: {
        "queue_sid": f"queue:{ACCOUNT_SID}:support",
        "queue_time": 42,
        "queue_size": 3,
        "queue_position": 1,
        "call_sid": CALL_SID,
        "call_id": call_info()["call_id"],
        "customerData": {"crmId": "CRM-123"},
    },
    "callbacks/dequeue": lambda path, value: call_info(dequeue_result=value),
    "callbacks/conference": fixed(),
    "callbacks/conference-wait": fixed(),
    "callbacks/conference-status": conference_status,
    "callbacks/play": play,
    "callbacks/listen": fixed(dial_call_duration=95, digits="#"),
    "callbacks/message": message,
    "callbacks/llm": llm,
    "callbacks/agent-turn": agent_turn,
    "callbacks/tts-streaming-event": tts_streaming_event,
}

# The documented case each schema is shown with when the test is not about its enums.
DEFAULT_CASE: dict[str, tuple[Path, Any]] = {
    "callbacks/verb-status": (("event",), "synthesized-audio"),
    "callbacks/gather": (("reason",), "speechDetected"),
    "callbacks/dial": (("dial_call_status",), "completed"),
    "callbacks/amd": (("type",), "amd_machine_detected"),
    "callbacks/transfer": (("transfer_result",), "bridged"),
    "callbacks/sip-request": (("result",), "success"),
    "callbacks/enqueue": (("queue_result",), "bridged"),
    "callbacks/dequeue": (("dequeue_result",), "complete"),
    "callbacks/conference-status": (("event",), "join"),
    "callbacks/play": (("reason",), "playCompleted"),
    "callbacks/message": (("message_status",), "success"),
    "callbacks/llm": (("completion_reason",), "server error"),
    "callbacks/agent-turn": (("type",), "turn_end"),
    "callbacks/tts-streaming-event": (("event_type",), "tts_spoken"),
}


def set_path(data: dict[str, Any], path: Path, value: Any) -> None:
    for key in path[:-1]:
        data = data.setdefault(key, {})
    data[path[-1]] = value


def realistic(schema_id: str, path: Path = (), value: Any = None) -> dict[str, Any]:
    """A payload of ``schema_id`` as jambonz sends it, showing ``value`` at ``path`` (or the default case)."""
    if not path and schema_id in DEFAULT_CASE:
        path, value = DEFAULT_CASE[schema_id]
    data = BUILDERS[schema_id](path, value)
    if path:
        set_path(data, path, value)
    return data


# ---------------------------------------------------------------------------------------------
# Serving a model through a real app
# ---------------------------------------------------------------------------------------------

HOOK_KIND = {
    "callbacks/session-new": "call",
    "callbacks/session-reconnect": "call",
    "callbacks/session-redirect": "call",
    "callbacks/call-status": "status",
}


class Served:
    """A JambonzApp with one hook whose handler asks for ``model`` and records what it got."""

    def __init__(self, schema_id: str) -> None:
        self.model = CALLBACK_MODELS[schema_id]
        self.seen: list[CallInfo] = []
        app = JambonzApp(fallback=None, insecure=True)

        async def handler(event: CallInfo) -> WebhookResponse:
            self.seen.append(event)
            return WebhookResponse().hangup()

        handler.__annotations__ = {"event": self.model, "return": WebhookResponse}
        kind = HOOK_KIND.get(schema_id, "action")
        {"call": app.call_hook, "action": app.action_hook, "status": app.status_hook}[kind]("/hook")(handler)
        self.client = TestClient(app)

    def post(self, payload: dict[str, Any]) -> Any:
        return self.client.post(
            "/hook", content=json.dumps(payload), headers={"content-type": "application/json"}
        )

    def get(self, payload: dict[str, Any]) -> Any:
        return self.client.get("/hook?" + urlencode(list(flatten(payload))))

    def deliver(self, payload: dict[str, Any], method: str = "POST") -> Any:
        """Send ``payload`` and return the model instance the handler received."""
        response = self.post(payload) if method == "POST" else self.get(payload)
        assert response.status_code in (200, 204), response.text
        assert len(self.seen) == 1
        event = self.seen.pop()
        assert type(event) is self.model
        return event


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """Bracket notation of a payload, as a GET hook carries it (``speech[alternatives][0][transcript]``)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flatten(item, f"{prefix}[{key}]" if prefix else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from flatten(item, f"{prefix}[{index}]")
    elif isinstance(value, bool):
        yield prefix, "true" if value else "false"
    else:
        yield prefix, str(value)


def attr(obj: Any, key: str) -> Any:
    """The value ``obj`` holds for the JSON key ``key`` (a named field, or an extra key)."""
    assert isinstance(obj, BaseModel)
    for name, info in type(obj).model_fields.items():
        if (info.alias or name) == key:
            return getattr(obj, name)
    extra = obj.model_extra or {}
    assert key in extra, f"{type(obj).__name__} lost {key!r}"
    return extra[key]


def assert_typed(got: Any, sent: Any, schema: dict[str, Any], lenient: bool = False) -> None:
    """``got`` is ``sent`` read with the type ``schema`` gives it; free-form values equal only when strict."""
    kind = schema.get("type")
    if "enum" in schema or "const" in schema:
        assert got == sent
    elif kind == "object" and "properties" in schema:
        assert isinstance(got, BaseModel), (got, schema)
        for key, value in sent.items():
            assert_typed(attr(got, key), value, schema["properties"].get(key, {}), lenient)
    elif kind == "object":
        assert isinstance(got, dict)
        assert lenient or got == sent
    elif kind == "array":
        assert isinstance(got, list)
        assert len(got) == len(sent)
        for got_item, sent_item in zip(got, sent, strict=True):
            assert_typed(got_item, sent_item, schema.get("items", {}), lenient)
    elif kind == "integer":
        assert type(got) is int
        assert got == sent
    elif kind == "number":
        assert type(got) in (int, float)
        assert got == sent
    elif kind == "boolean":
        assert got is sent
    elif kind == "string" and schema.get("format") == "date-time":
        assert isinstance(got, datetime)
        assert got == datetime.fromisoformat(sent)
    elif kind == "string":
        assert got == sent
        assert isinstance(got, str)
    elif isinstance(got, BaseModel):  # an object the schema does not describe here, but the model does
        assert lenient or got.model_dump(mode="json", by_alias=True, exclude_none=True) == sent
    else:
        assert lenient or got == sent


def assert_payload_typed(
    event: CallInfo, payload: dict[str, Any], schema_id: str, lenient: bool = False
) -> None:
    props = merged_properties(schema_id)
    for key, value in payload.items():
        assert_typed(attr(event, key), value, props.get(key, {}), lenient)


# ---------------------------------------------------------------------------------------------
# One model per schema
# ---------------------------------------------------------------------------------------------


def test_every_callback_schema_has_a_model() -> None:
    assert set(CALLBACK_MODELS) == set(CALLBACK_IDS)
    for schema_id, model in CALLBACK_MODELS.items():
        assert model.schema_id == schema_id
        assert issubclass(model, CallInfo)


def test_every_callback_schema_has_a_realistic_payload_builder() -> None:
    assert set(BUILDERS) == set(CALLBACK_IDS)


def _json_names(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


def _nested_model(model: type[BaseModel], key: str) -> type[BaseModel] | None:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            for arg in getattr(info.annotation, "__args__", (info.annotation,)):
                if isinstance(arg, type) and issubclass(arg, BaseModel):
                    return arg
                for inner in getattr(arg, "__args__", ()):  # list[Model]
                    if isinstance(inner, type) and issubclass(inner, BaseModel):
                        return inner
    return None


def _missing(model: type[BaseModel], props: dict[str, dict[str, Any]], where: str) -> list[str]:
    missing = [f"{where}{key}" for key in props if key not in _json_names(model)]
    for key, sub in props.items():
        node = sub.get("items", sub) if sub.get("type") == "array" else sub
        if "properties" in node and key in _json_names(model):
            nested = _nested_model(model, key)
            assert nested is not None, f"{where}{key} is an object but not a model"
            missing += _missing(nested, node["properties"], f"{where}{key}.")
    return missing


@pytest.mark.parametrize("schema_id", CALLBACK_IDS)
def test_model_names_every_property_of_its_schema(schema_id: str) -> None:
    model = CALLBACK_MODELS[schema_id]
    props = merged_properties(schema_id)
    if model is CallInfo or issubclass(model, CallSession):
        # The top level only: session.py's SipInvite keeps the INVITE's rarer keys as extras.
        assert [key for key in props if key not in _json_names(model)] == []
        return
    assert _missing(model, props, "") == []


# CallInfo and CallSession ask for what jambonz always sends, beyond the schema (see test_session);
# every other model requires what its schema requires.
FOLLOWS_SCHEMA = [
    sid
    for sid in CALLBACK_IDS
    if not (CALLBACK_MODELS[sid] is CallInfo or issubclass(CALLBACK_MODELS[sid], CallSession))
]


@pytest.mark.parametrize("schema_id", FOLLOWS_SCHEMA)
def test_required_fields_follow_the_schema(schema_id: str) -> None:
    model = CALLBACK_MODELS[schema_id]
    required = {info.alias or name for name, info in model.model_fields.items() if info.is_required()}
    # call_sid: CallInfo asks for it although the base schema does not (jambonz always sends it there).
    assert required - {"call_sid"} == set(required_keys(schema_id)) - {"call_sid"}


# ---------------------------------------------------------------------------------------------
# Every documented case, delivered
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schema_id", "path", "value"),
    [
        pytest.param(*case, id=f"{case[0].removeprefix('callbacks/')}-{'.'.join(case[1])}={case[2]}")
        for case in ENUM_CASES
    ],
)
def test_each_documented_case_reaches_the_handler_typed(schema_id: str, path: Path, value: Any) -> None:
    payload = realistic(schema_id, path, value)
    assert errors(schema_id, payload) == []
    event = Served(schema_id).deliver(payload)
    got: Any = event
    for key in path:
        got = attr(got, key)
    assert got == value
    assert_payload_typed(event, payload, schema_id)


def test_enum_cases_cover_the_documented_values() -> None:
    """A sanity check of the case list itself: the well-known values are among the cases."""
    values = {(schema_id, value) for schema_id, _, value in ENUM_CASES}
    for reason in ("speechDetected", "dtmfDetected", "timeout", "error", "stt-low-confidence"):
        assert ("callbacks/gather", reason) in values
    for status in ("completed", "failed", "busy", "no-answer"):
        assert ("callbacks/dial", status) in values
    assert ("callbacks/tts-streaming-event", "tts_spoken") in values
    assert ("callbacks/agent-turn", "miss") in values
    assert len(ENUM_CASES) >= 100


@pytest.mark.parametrize("schema_id", CALLBACK_IDS)
def test_realistic_payload_reaches_the_handler_typed(schema_id: str) -> None:
    payload = realistic(schema_id)
    assert errors(schema_id, payload) == []
    event = Served(schema_id).deliver(payload)
    assert_payload_typed(event, payload, schema_id)
    assert event.model_dump(mode="json", by_alias=True, exclude_none=True).keys() == payload.keys()


# Closed on purpose: CallInfo's direction has two values and no others are coming.
OPEN_ENUM_FIELDS = [(schema_id, path) for schema_id, path in ENUM_FIELDS if path != ("direction",)]


@pytest.mark.parametrize(
    ("schema_id", "path"),
    [pytest.param(s, p, id=f"{s.removeprefix('callbacks/')}-{'.'.join(p)}") for s, p in OPEN_ENUM_FIELDS],
)
def test_enums_stay_open_to_values_jambonz_adds_later(schema_id: str, path: Path) -> None:
    payload = realistic(schema_id)
    set_path(payload, path, "value-added-in-2031")
    event = Served(schema_id).deliver(payload)
    got: Any = event
    for key in path:
        got = attr(got, key)
    assert got == "value-added-in-2031"


def test_direction_stays_closed() -> None:
    served = Served("callbacks/call-status")
    response = served.post(call_info(direction="sideways"))
    assert response.status_code == 422
    assert served.seen == []


# ---------------------------------------------------------------------------------------------
# Unknown keys, wrong types, missing fields, query strings
# ---------------------------------------------------------------------------------------------


def _first_nested_object(payload: dict[str, Any], props: dict[str, dict[str, Any]]) -> str | None:
    for key, sub in props.items():
        if "properties" in sub and isinstance(payload.get(key), dict) and key not in ("sip", "defaults"):
            return key
    return None


@pytest.mark.parametrize("schema_id", CALLBACK_IDS)
def test_unknown_keys_survive(schema_id: str) -> None:
    payload = realistic(schema_id)
    payload["x_added_later"] = {"nested": [1, "two", None], "flag": True}
    nested = _first_nested_object(payload, merged_properties(schema_id))
    if nested is not None:
        payload[nested]["x_nested_later"] = 7
    event = Served(schema_id).deliver(payload)
    assert event.get("x_added_later") == {"nested": [1, "two", None], "flag": True}
    assert event.model_extra is not None
    assert "x_added_later" in event.model_extra
    dumped = event.model_dump(mode="json", by_alias=True)
    assert dumped["x_added_later"] == payload["x_added_later"]
    if nested is not None:
        assert attr(attr(event, nested), "x_nested_later") == 7
        assert dumped[nested]["x_nested_later"] == 7


WRONG_VALUE = {"string": 12345, "integer": "twelve", "number": "fast", "boolean": "yes", "object": "text"}


def _wrong_type_target(schema_id: str) -> tuple[str, Any]:
    """The first property of the schema with one simple type, and a value of another type."""
    for key, sub in merged_properties(schema_id).items():
        kind = sub.get("type")
        if isinstance(kind, str) and kind in WRONG_VALUE:
            return key, WRONG_VALUE[kind]
    raise AssertionError(f"{schema_id} has no typed property")


@pytest.mark.parametrize("schema_id", CALLBACK_IDS)
def test_a_wrong_type_is_a_422_naming_the_field(schema_id: str) -> None:
    key, wrong = _wrong_type_target(schema_id)
    payload = realistic(schema_id)
    payload[key] = wrong
    assert errors(schema_id, payload) != []
    served = Served(schema_id)
    response = served.post(payload)
    assert response.status_code == 422, response.text
    assert any(field["field"].split(".")[0] == key for field in response.json()["fields"])
    assert served.seen == []


@pytest.mark.parametrize(
    ("schema_id", "key"),
    [(schema_id, key) for schema_id in CALLBACK_IDS for key in required_keys(schema_id)],
)
def test_a_missing_required_field_is_a_422(schema_id: str, key: str) -> None:
    payload = realistic(schema_id)
    del payload[key]
    assert errors(schema_id, payload) != []
    served = Served(schema_id)
    response = served.post(payload)
    assert response.status_code == 422, response.text
    assert [field["field"] for field in response.json()["fields"]] == [key]


@pytest.mark.parametrize("schema_id", CALLBACK_IDS)
def test_a_query_string_is_coerced_to_the_same_types(schema_id: str) -> None:
    payload = realistic(schema_id)
    event = Served(schema_id).deliver(payload, method="GET")
    assert_payload_typed(event, payload, schema_id, lenient=True)


@pytest.mark.parametrize("schema_id", ["callbacks/dial", "callbacks/enqueue", "callbacks/agent-turn"])
def test_a_query_string_value_that_cannot_be_coerced_is_a_422(schema_id: str) -> None:
    key = next(
        k for k, sub in merged_properties(schema_id).items() if sub.get("type") in ("integer", "boolean")
    )
    payload = realistic(schema_id)
    set_path(payload, (key,), "not-a-number")
    served = Served(schema_id)
    response = served.get(payload)
    assert response.status_code == 422, response.text
    assert served.seen == []


# ---------------------------------------------------------------------------------------------
# What jambonz really sends where it differs from the schema, and the helpers
# ---------------------------------------------------------------------------------------------


def test_transcribe_times_as_integers_as_jambonz_sends_them() -> None:
    payload = realistic("callbacks/transcribe")
    payload.update(stt_start_time=1714564798, stt_stop_time=1714564802)
    event = Served("callbacks/transcribe").deliver(payload)
    assert isinstance(event, TranscribeResult)
    assert (event.stt_start_time, event.stt_stop_time) == (1714564798, 1714564802)
    assert event.transcript == "I'd like to check my balance"


def test_payloads_without_call_information() -> None:
    refer = Served("callbacks/sip-refer-event").deliver({"event": "transfer-status", "call_status": 200})
    assert isinstance(refer, SipReferEvent)
    assert (refer.call_sid, refer.call_status) == (None, 200)
    turn = Served("callbacks/agent-turn").deliver({"type": "user_interruption"})
    assert isinstance(turn, AgentTurn)
    assert (turn.call_sid, turn.transcript, turn.latency) == (None, None, None)


def test_sip_refer_event_call_status_is_a_sip_code_not_a_call_status() -> None:
    served = Served("callbacks/sip-refer-event")
    response = served.post({"event": "transfer-status", "call_status": "in-progress"})
    assert response.status_code == 422
    assert served.seen == []


def test_transcripts() -> None:
    gathered = Served("callbacks/gather").deliver(realistic("callbacks/gather"))
    assert isinstance(gathered, GatherResult)
    assert gathered.transcript == "I'd like to check my balance"
    assert gathered.speech is not None
    assert gathered.speech.alternatives[1].confidence == 0.71
    dtmf = Served("callbacks/gather").deliver(realistic("callbacks/gather", ("reason",), "dtmfDetected"))
    assert isinstance(dtmf, GatherResult)
    assert (dtmf.transcript, dtmf.digits) == (None, "1234")
    partial = Served("callbacks/gather-partial").deliver(realistic("callbacks/gather-partial"))
    assert isinstance(partial, GatherPartial)
    assert partial.transcript == "I'd like to check"
    assert partial.get("local_sip_address") == "10.0.1.5:5060"


@pytest.mark.parametrize("status", schemas()["callbacks/base"]["properties"]["call_status"]["enum"])
def test_call_status_is_final(status: str) -> None:
    event = Served("callbacks/call-status").deliver(call_info(call_status=status))
    assert isinstance(event, CallStatus)
    assert event.is_final is (status in ("completed", "failed", "busy", "no-answer"))
    assert {"completed", "failed", "busy", "no-answer"} == FINAL_CALL_STATUSES


@pytest.mark.parametrize("with_dict", [False, True], ids=["model", "model-and-dict"])
def test_a_conference_status_time_reads_the_same_with_or_without_the_raw_dict(with_dict: bool) -> None:
    # The model alone is validated from the JSON text; with the dict, from the parsed dict: an
    # ISO time must read the same both ways (strict validation takes it from text only).
    app = JambonzApp(webhook_secret=[], insecure=True)
    seen: list[datetime | None] = []

    if with_dict:

        @app.status_hook("/conference")
        async def both(event: ConferenceStatus, payload: dict[str, Any]) -> None:
            seen.append(event.time)
    else:

        @app.status_hook("/conference")
        async def model(event: ConferenceStatus) -> None:
            seen.append(event.time)

    payload = {
        **call_info(),
        "event": "join",
        "conference_sid": "conf:acct:room",
        "time": "2026-12-08T10:00:00.000Z",
        "members": 2,
    }
    with TestClient(app) as client:
        assert client.post("/conference", json=payload).status_code == 204
    assert seen == [datetime.fromisoformat("2026-12-08T10:00:00+00:00")]
