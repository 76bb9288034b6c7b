"""The core verbs against jambonz's official schemas: media, control, conference/queue, SIP, and the rest.

say, play, pause, hangup, redirect, tag, conference, room, enqueue, dequeue, leave, message, alert,
answer, dtmf, sip:decline, sip:refer, sip:request, transfer (with transferOptions) and rest:dial.
"""

from __future__ import annotations

import copy
from typing import Any

import pydantic_core
import pytest
from pydantic import ValidationError

from jambonz_webhooks.hooks import HookContext, HookObject
from jambonz_webhooks.response import encode_verbs
from jambonz_webhooks.verbs._base import Component, Verb, jambonz_name
from jambonz_webhooks.verbs.components import Synthesizer, Target
from jambonz_webhooks.verbs.conference import Conference, Dequeue, Enqueue, Leave, Room
from jambonz_webhooks.verbs.control import Hangup, Redirect, Tag
from jambonz_webhooks.verbs.media import Pause, Play, PlayPrompt, Say, SayPrompt
from jambonz_webhooks.verbs.misc import (
    Alert,
    Answer,
    Dtmf,
    Message,
    RestDial,
    Transfer,
    TransferBrief,
    TransferConfirm,
    TransferDisposition,
    TransferOptions,
)
from jambonz_webhooks.verbs.sip import SipDecline, SipRefer, SipRequest
from tests.schemas import errors, schemas

MODELS: list[type[Verb]] = [
    Say,
    Play,
    Pause,
    Hangup,
    Redirect,
    Tag,
    Conference,
    Room,
    Enqueue,
    Dequeue,
    Leave,
    Message,
    Alert,
    Answer,
    Dtmf,
    SipDecline,
    SipRefer,
    SipRequest,
    Transfer,
    RestDial,
]


def dump(model: Component) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data


def on_the_wire(model: Verb, context: HookContext | None = None) -> dict[str, Any]:
    """The verb as the answer's JSON array carries it."""
    (data,) = pydantic_core.from_json(encode_verbs([model], context))
    assert isinstance(data, dict)
    return data


def resolve_ref(schema_id: str, ref: str) -> str:
    """The short id a ``$ref`` inside ``schema_id`` points at (``../components/x`` or ``x``)."""
    kind = schema_id.split("/")[0]
    if ref.startswith("../"):
        return ref.removeprefix("../")
    return f"{kind}/{ref}"


def properties(schema_id: str) -> dict[str, Any]:
    """Every property a schema allows, following ``$ref`` and ``allOf`` to the bases."""
    schema = schemas()[schema_id]
    found: dict[str, Any] = {}
    if "$ref" in schema:
        found.update(properties(resolve_ref(schema_id, schema["$ref"])))
    for part in schema.get("allOf", []):
        if "$ref" in part:
            found.update(properties(resolve_ref(schema_id, part["$ref"])))
    found.update(schema.get("properties", {}))
    return found


def required(schema_id: str) -> set[str]:
    schema = schemas()[schema_id]
    names = set(schema.get("required", []))
    if "$ref" in schema:
        names |= required(resolve_ref(schema_id, schema["$ref"]))
    for part in schema.get("allOf", []):
        if "$ref" in part:
            names |= required(resolve_ref(schema_id, part["$ref"]))
    return names


def examples(model: type[Verb]) -> list[dict[str, Any]]:
    """The schema's own examples; room has none, so conference's are used with verb "room"."""
    if model is Room:
        return [{**example, "verb": "room"} for example in schemas()["verbs/conference"]["examples"]]
    found: list[dict[str, Any]] = schemas()[model.schema_id].get("examples", [])
    return found


# --- realistic instances, built with snake_case names, and the exact JSON they give ------------------

TARGET = {"type": "phone", "number": "+15085551212", "trunk": "carrier-a"}

CASES: list[tuple[type[Verb], dict[str, Any], dict[str, Any]]] = [
    (
        Say,
        {
            "text": ["Hello!", "Hi there!"],
            "synthesizer": Synthesizer(vendor="google", language="en-US", voice="en-US-Wavenet-C"),
            "early_media": True,
            "disable_tts_cache": False,
            "close_stream_on_empty": True,
            "stream": True,
            "instructions": "calm",
            "loop": "forever",
            "id": "greet",
        },
        {
            "verb": "say",
            "id": "greet",
            "text": ["Hello!", "Hi there!"],
            "instructions": "calm",
            "stream": True,
            "loop": "forever",
            "synthesizer": {"vendor": "google", "language": "en-US", "voice": "en-US-Wavenet-C"},
            "earlyMedia": True,
            "disableTtsCache": False,
            "closeStreamOnEmpty": True,
        },
    ),
    (
        Play,
        {
            "url": ["https://example.com/a.wav", "https://example.com/b.mp3"],
            "loop": 2,
            "early_media": False,
            "seek_offset": 1.5,
            "timeout_secs": "30",
            "action_hook": "/played",
        },
        {
            "verb": "play",
            "url": ["https://example.com/a.wav", "https://example.com/b.mp3"],
            "loop": 2,
            "earlyMedia": False,
            "seekOffset": 1.5,
            "timeoutSecs": "30",
            "actionHook": "/played",
        },
    ),
    (Pause, {"length": 1.5}, {"verb": "pause", "length": 1.5}),
    (
        Hangup,
        {"headers": {"X-Reason": "done", "X-Code": 42}},
        {"verb": "hangup", "headers": {"X-Reason": "done", "X-Code": 42}},
    ),
    (
        Redirect,
        {
            "action_hook": "https://app.example.com/next",
            "status_hook": HookObject(url="/status", method="get"),
        },
        {
            "verb": "redirect",
            "actionHook": "https://app.example.com/next",
            "statusHook": {"url": "/status", "method": "GET"},
        },
    ),
    (
        Tag,
        {"data": {"crmId": "A-17", "nested": {"vip": True}}},
        {"verb": "tag", "data": {"crmId": "A-17", "nested": {"vip": True}}},
    ),
    (
        Conference,
        {
            "name": "team-standup",
            "beep": True,
            "member_tag": "agent-1",
            "speak_only_to": "supervisor",
            "start_conference_on_enter": False,
            "end_conference_on_exit": True,
            "end_conference_duration": 3600,
            "max_participants": 10,
            "join_muted": True,
            "action_hook": "/conf/left",
            "wait_hook": "/conf/wait",
            "status_events": ["join", "leave"],
            "status_hook": "/conf/status",
            "enter_hook": "/conf/enter",
            "record": {"path": "s3://bucket"},
            "listen": {"url": "wss://l.example.com"},
            "stream": {"url": "wss://s.example.com"},
            "distribute_dtmf": True,
        },
        {
            "verb": "conference",
            "name": "team-standup",
            "beep": True,
            "memberTag": "agent-1",
            "speakOnlyTo": "supervisor",
            "startConferenceOnEnter": False,
            "endConferenceOnExit": True,
            "endConferenceDuration": 3600,
            "maxParticipants": 10,
            "joinMuted": True,
            "actionHook": "/conf/left",
            "waitHook": "/conf/wait",
            "statusEvents": ["join", "leave"],
            "statusHook": "/conf/status",
            "enterHook": "/conf/enter",
            "record": {"path": "s3://bucket"},
            "listen": {"url": "wss://l.example.com"},
            "stream": {"url": "wss://s.example.com"},
            "distributeDtmf": True,
        },
    ),
    (
        Room,
        {"name": "support-room", "join_muted": False, "wait_hook": "/room/wait", "id": "r1"},
        {"verb": "room", "id": "r1", "name": "support-room", "joinMuted": False, "waitHook": "/room/wait"},
    ),
    (
        Enqueue,
        {"name": "support", "action_hook": "/q/exit", "wait_hook": "/q/wait", "priority": 5},
        {"verb": "enqueue", "name": "support", "actionHook": "/q/exit", "waitHook": "/q/wait", "priority": 5},
    ),
    (
        Dequeue,
        {"name": "support", "action_hook": "/dq/done", "timeout": 30, "beep": True, "call_sid": "abc-123"},
        {
            "verb": "dequeue",
            "name": "support",
            "actionHook": "/dq/done",
            "timeout": 30,
            "beep": True,
            "callSid": "abc-123",
        },
    ),
    (Leave, {"id": "bye"}, {"verb": "leave", "id": "bye"}),
    (
        Message,
        {
            "to": "+15085551212",
            "from_": "+15085559876",
            "text": "Your code is 1234",
            "media": ["https://example.com/a.png"],
            "carrier": "twilio",
            "account_sid": "acc-1",
            "message_sid": "msg-1",
            "action_hook": "/sms/status",
        },
        {
            "verb": "message",
            "to": "+15085551212",
            "from": "+15085559876",
            "text": "Your code is 1234",
            "media": ["https://example.com/a.png"],
            "carrier": "twilio",
            "account_sid": "acc-1",
            "message_sid": "msg-1",
            "actionHook": "/sms/status",
        },
    ),
    (Alert, {"message": "info=alert-internal"}, {"verb": "alert", "message": "info=alert-internal"}),
    (Answer, {}, {"verb": "answer"}),
    (Dtmf, {"dtmf": "1w2w3#", "duration": 250}, {"verb": "dtmf", "dtmf": "1w2w3#", "duration": 250}),
    (
        SipDecline,
        {"status": 486, "reason": "Busy Here", "headers": {"Retry-After": 60}},
        {"verb": "sip:decline", "status": 486, "reason": "Busy Here", "headers": {"Retry-After": 60}},
    ),
    (
        SipRefer,
        {
            "refer_to": "sip:alice@example.com",
            "referred_by": "sip:bot@example.com",
            "referred_by_display_name": "Bot",
            "headers": {"X-Case": "7"},
            "action_hook": "/refer/done",
            "event_hook": "/refer/notify",
        },
        {
            "verb": "sip:refer",
            "referTo": "sip:alice@example.com",
            "referredBy": "sip:bot@example.com",
            "referredByDisplayName": "Bot",
            "headers": {"X-Case": "7"},
            "actionHook": "/refer/done",
            "eventHook": "/refer/notify",
        },
    ),
    (
        SipRequest,
        {
            "method": "INFO",
            "body": "Signal=1\nDuration=250",
            "headers": {"Content-Type": "application/dtmf-relay"},
            "action_hook": "/info/done",
        },
        {
            "verb": "sip:request",
            "method": "INFO",
            "body": "Signal=1\nDuration=250",
            "headers": {"Content-Type": "application/dtmf-relay"},
            "actionHook": "/info/done",
        },
    ),
    (
        Transfer,
        {
            "mode": "warm",
            "caller_present": False,
            "target": [Target(type="phone", number="+15085559876"), {"type": "user", "name": "bob@acme"}],
            "caller_id": "+15085550000",
            "on_hold_hook": "/hold",
            "timeout": 20,
            "confirm": TransferConfirm(prompt="Press 1 to accept.", digit="1"),
            "amd": {"action_hook": "/amd"},
            "disposition": {
                "on_no_answer": "voicemail",
                "on_busy": "return",
                "on_decline": "hangup",
                "on_failure": "return",
                "voicemail_url": "sip:vm@example.com",
            },
            "action_hook": "/transfer/done",
            "event_hook": "/transfer/events",
            "brief": TransferBrief(text="Customer needs billing help.", synthesizer={"vendor": "google"}),
            "blind_method": "dial",
        },
        {
            "verb": "transfer",
            "mode": "warm",
            "blindMethod": "dial",
            "callerPresent": False,
            "target": [{"type": "phone", "number": "+15085559876"}, {"type": "user", "name": "bob@acme"}],
            "callerId": "+15085550000",
            "onHoldHook": "/hold",
            "timeout": 20,
            "confirm": {"prompt": "Press 1 to accept.", "digit": "1"},
            "amd": {"actionHook": "/amd"},
            "disposition": {
                "onNoAnswer": "voicemail",
                "onBusy": "return",
                "onDecline": "hangup",
                "onFailure": "return",
                "voicemailUrl": "sip:vm@example.com",
            },
            "actionHook": "/transfer/done",
            "eventHook": "/transfer/events",
            "brief": {"text": "Customer needs billing help.", "synthesizer": {"vendor": "google"}},
        },
    ),
    (
        RestDial,
        {
            "account_sid": "acc-1",
            "application_sid": "app-1",
            "call_hook": {"url": "https://app.example.com/call", "method": "POST"},
            "call_status_hook": "/status",
            "from_": "+15085550000",
            "caller_name": "Acme",
            "from_host": "sip.acme.com",
            "speech_synthesis_vendor": "google",
            "speech_synthesis_voice": "en-US-Wavenet-C",
            "speech_synthesis_language": "en-US",
            "speech_recognizer_vendor": "deepgram",
            "speech_recognizer_language": "en-US",
            "tag": {"campaign": "spring"},
            "to": TARGET,
            "headers": {"X-Campaign": "spring"},
            "timeout": 40,
            "amd": {"action_hook": "/amd"},
            "dual_streams": True,
            "sip_request_within_dialog_hook": "/sip-in-dialog",
            "refer_hook": "/refer",
            "time_limit": 600,
            "codecs": ["G722", "PCMU"],
        },
        {
            "verb": "rest:dial",
            "account_sid": "acc-1",
            "application_sid": "app-1",
            "call_hook": {"url": "https://app.example.com/call", "method": "POST"},
            "call_status_hook": "/status",
            "from": "+15085550000",
            "callerName": "Acme",
            "fromHost": "sip.acme.com",
            "speech_synthesis_vendor": "google",
            "speech_synthesis_voice": "en-US-Wavenet-C",
            "speech_synthesis_language": "en-US",
            "speech_recognizer_vendor": "deepgram",
            "speech_recognizer_language": "en-US",
            "tag": {"campaign": "spring"},
            "to": {"type": "phone", "number": "+15085551212", "trunk": "carrier-a"},
            "headers": {"X-Campaign": "spring"},
            "timeout": 40,
            "amd": {"actionHook": "/amd"},
            "dual_streams": True,
            "sipRequestWithinDialogHook": "/sip-in-dialog",
            "referHook": "/refer",
            "timeLimit": 600,
            "codecs": ["G722", "PCMU"],
        },
    ),
]

# The smallest valid JSON of each verb: its required fields only.
MINIMAL: dict[type[Verb], dict[str, Any]] = {
    Say: {"verb": "say"},
    Play: {"verb": "play", "url": "https://example.com/a.wav"},
    Pause: {"verb": "pause", "length": 2},
    Hangup: {"verb": "hangup"},
    Redirect: {"verb": "redirect", "actionHook": "/next"},
    Tag: {"verb": "tag", "data": {}},
    Conference: {"verb": "conference", "name": "c"},
    Room: {"verb": "room", "name": "r"},
    Enqueue: {"verb": "enqueue", "name": "q"},
    Dequeue: {"verb": "dequeue", "name": "q"},
    Leave: {"verb": "leave"},
    Message: {"verb": "message", "to": "+1", "from": "+2"},
    Alert: {"verb": "alert", "message": "info=x"},
    Answer: {"verb": "answer"},
    Dtmf: {"verb": "dtmf", "dtmf": "1"},
    SipDecline: {"verb": "sip:decline", "status": 603},
    SipRefer: {"verb": "sip:refer", "referTo": "sip:a@b"},
    SipRequest: {"verb": "sip:request", "method": "INFO"},
    Transfer: {"verb": "transfer", "mode": "blind", "target": [{"type": "sip", "sipUri": "sip:a@b"}]},
    RestDial: {
        "verb": "rest:dial",
        "call_hook": "/call",
        "from": "+1",
        "to": {"type": "phone", "number": "+2"},
    },
}


def case_id(case: tuple[type[Verb], dict[str, Any], dict[str, Any]]) -> str:
    return case[0].__name__


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_snake_case_kwargs_give_the_exact_json_the_schema_accepts(
    case: tuple[type[Verb], dict[str, Any], dict[str, Any]],
) -> None:
    model, kwargs, expected = case
    built = model(**kwargs)
    assert dump(built) == expected
    assert on_the_wire(built) == expected
    assert next(iter(on_the_wire(built))) == "verb"
    assert errors(model.schema_id, expected) == []


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_camel_case_json_validates_back_to_itself(
    case: tuple[type[Verb], dict[str, Any], dict[str, Any]],
) -> None:
    model, _, expected = case
    assert dump(model.model_validate(copy.deepcopy(expected))) == expected


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_minimal_json_round_trips_and_is_valid(model: type[Verb]) -> None:
    data = MINIMAL[model]
    assert errors(model.schema_id, data) == []
    assert dump(model.model_validate(data)) == data


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_schema_examples_validate_and_dump_back_unchanged(model: type[Verb]) -> None:
    found = examples(model)
    if model is not RestDial:  # the only one of these schemas without examples
        assert found
    for example in found:
        assert errors(model.schema_id, example) == []
        assert dump(model.model_validate(copy.deepcopy(example))) == example


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_fields_and_required_fields_are_the_schemas(model: type[Verb]) -> None:
    fields = {jambonz_name(name): field for name, field in model.model_fields.items()}
    assert set(fields) == set(properties(model.schema_id))
    assert {name for name, field in fields.items() if field.is_required()} == required(model.schema_id)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_verb_name_is_one_the_schema_allows(model: type[Verb]) -> None:
    verb = properties(model.schema_id)["verb"]
    allowed = verb.get("enum", [verb.get("const")])
    assert model.verb_name in allowed
    assert model.model_fields["verb"].default == model.verb_name


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_a_typo_is_rejected_in_either_spelling(model: type[Verb]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate({**MINIMAL[model], "actionHok": "/x"})
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model.model_validate({**MINIMAL[model], "action_hok": "/x"})


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_each_required_field_missing_is_rejected(model: type[Verb]) -> None:
    names = required(model.schema_id)
    for name in names:
        data = {key: value for key, value in MINIMAL[model].items() if key != name}
        assert errors(model.schema_id, data) != []
        with pytest.raises(ValidationError, match="Field required"):
            model.model_validate(data)


# Tried in order: the first value the official schema rejects for a property must fail the model too.
WRONG_VALUES: list[Any] = ["not-a-valid-value", 42, {"unexpected": "object"}]


def wrong_value(schema_id: str, data: dict[str, Any], name: str) -> Any:
    for value in WRONG_VALUES:
        if errors(schema_id, {**data, name: value}):
            return value
    raise AssertionError(f"{schema_id}: no wrong value found for {name}")


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_a_wrong_type_or_enum_value_of_any_property_is_rejected(model: type[Verb]) -> None:
    data = MINIMAL[model]
    for name in properties(model.schema_id):
        value = wrong_value(model.schema_id, data, name)
        with pytest.raises(ValidationError):
            model.model_validate({**data, name: value})


# --- specific types, enums and bounds -------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (Play, {"verb": "play", "url": ["https://example.com/a.wav", 7]}),
        (Say, {"verb": "say", "text": ["hi", {"ssml": True}]}),
        (Pause, {"verb": "pause", "length": "two"}),
        (Hangup, {"verb": "hangup", "headers": {"X-A": ["list"]}}),
        (Conference, {"verb": "conference", "name": "c", "statusEvents": "join"}),
        (Conference, {"verb": "conference", "name": "c", "maxParticipants": "ten"}),
        (Message, {"verb": "message", "to": "+1", "from": "+2", "media": {"url": "x"}}),
        (SipDecline, {"verb": "sip:decline", "status": "busy"}),
        (SipRefer, {"verb": "sip:refer", "referTo": "sip:a@b", "headers": {"X-A": None}}),
        (Transfer, {"verb": "transfer", "mode": "cold", "target": [{"type": "phone", "number": "1"}]}),
        (Transfer, {"verb": "transfer", "mode": "blind", "blindMethod": "bridge", "target": [TARGET]}),
        (Transfer, {"verb": "transfer", "mode": "blind", "target": []}),
        (Transfer, {"verb": "transfer", "mode": "blind", "target": [{"type": "fax", "number": "1"}]}),
        (
            Transfer,
            {"verb": "transfer", "mode": "blind", "target": [TARGET], "disposition": {"onBusy": "retry"}},
        ),
        (
            Transfer,
            {"verb": "transfer", "mode": "warm", "target": [TARGET], "confirm": {"prompt": "Press 1"}},
        ),
        (
            Transfer,
            {
                "verb": "transfer",
                "mode": "warm",
                "target": [TARGET],
                "confirm": {"prompt": "p", "digit": "1", "x": 1},
            },
        ),
        (Transfer, {"verb": "transfer", "mode": "warm", "target": [TARGET], "brief": {"synthesizer": {}}}),
        (
            Transfer,
            {"verb": "transfer", "mode": "warm", "target": [TARGET], "brief": {"text": "t", "voice": "v"}},
        ),
        (RestDial, {**MINIMAL[RestDial], "codecs": []}),
        (RestDial, {**MINIMAL[RestDial], "codecs": ["PCMU", 0]}),
        (RestDial, {**MINIMAL[RestDial], "to": {"number": "+2"}}),
    ],
)
def test_wrong_values_are_rejected_like_the_schema_does(model: type[Verb], data: dict[str, Any]) -> None:
    assert errors(model.schema_id, data) != []
    with pytest.raises(ValidationError):
        model.model_validate(data)


def test_room_and_conference_schemas_both_take_either_verb_key() -> None:
    # The official shape is conference's, whose "verb" is an enum of both names; the models pin one each.
    for schema_id in ("verbs/conference", "verbs/room"):
        for verb in ("conference", "room"):
            assert errors(schema_id, {"verb": verb, "name": "x"}) == []
        assert errors(schema_id, {"verb": "meeting", "name": "x"}) != []
    assert dump(Room(name="x"))["verb"] == "room"
    assert dump(Conference(name="x"))["verb"] == "conference"
    assert not isinstance(Room(name="x"), Conference)
    # each model writes and reads its own name only, so that the two never pass for each other
    with pytest.raises(ValidationError):
        Conference.model_validate({"verb": "room", "name": "x"})
    with pytest.raises(ValidationError):
        Room.model_validate({"verb": "conference", "name": "x"})


# --- cross-field rules ----------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", ["onNoAnswer", "onBusy", "onDecline", "onFailure"])
def test_a_voicemail_disposition_needs_a_voicemail_url(outcome: str) -> None:
    bad = {**MINIMAL[Transfer], "disposition": {outcome: "voicemail"}}
    assert errors("verbs/transfer", bad) != []
    with pytest.raises(
        ValidationError, match=r"transfer disposition: on_\w+='voicemail' needs voicemail_url"
    ):
        Transfer.model_validate(bad)
    good = {
        **MINIMAL[Transfer],
        "disposition": {outcome: "voicemail", "voicemailUrl": "https://vm.example.com"},
    }
    assert errors("verbs/transfer", good) == []
    assert dump(Transfer.model_validate(good)) == good


def test_other_dispositions_need_no_voicemail_url() -> None:
    data = {
        **MINIMAL[Transfer],
        "disposition": {
            "onNoAnswer": "return",
            "onBusy": "hangup",
            "onDecline": "return",
            "onFailure": "hangup",
        },
    }
    assert errors("verbs/transfer", data) == []
    assert dump(Transfer.model_validate(data)) == data


def test_the_voicemail_rule_holds_on_the_component_itself() -> None:
    with pytest.raises(ValidationError, match="on_busy, on_failure='voicemail'"):
        TransferDisposition(on_busy="voicemail", on_failure="voicemail")
    assert dump(TransferDisposition(on_busy="voicemail", voicemail_url="sip:vm@x")) == {
        "onBusy": "voicemail",
        "voicemailUrl": "sip:vm@x",
    }


def test_rest_dial_dialog_hook_must_be_a_string() -> None:
    bad = {**MINIMAL[RestDial], "sipRequestWithinDialogHook": {"url": "/in-dialog"}}
    assert errors("verbs/rest_dial", bad) != []
    with pytest.raises(ValidationError, match="rest:dial: sip_request_within_dialog_hook must be a URL"):
        RestDial.model_validate(bad)
    # the other rest:dial hooks may be objects
    ok = {**MINIMAL[RestDial], "call_hook": {"url": "/call"}, "referHook": {"url": "/refer", "method": "GET"}}
    assert errors("verbs/rest_dial", ok) == []
    assert dump(RestDial.model_validate(ok)) == ok


# --- the transferOptions component ----------------------------------------------------------------


def test_transfer_options_component_follows_its_schema() -> None:
    options = TransferOptions(
        mode="blind", blind_method="refer", target=[{"type": "sip", "sip_uri": "sip:a@b"}]
    )
    data = dump(options)
    assert data == {"mode": "blind", "blindMethod": "refer", "target": [{"type": "sip", "sipUri": "sip:a@b"}]}
    assert errors("components/transferOptions", data) == []
    fields = {jambonz_name(name) for name in TransferOptions.model_fields}
    assert fields == set(properties("components/transferOptions"))
    assert issubclass(Transfer, TransferOptions)
    with pytest.raises(ValidationError):
        TransferOptions(mode="blind", target=[], brief={"text": "x"})  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="Field required"):
        TransferOptions.model_validate({"mode": "warm"})


@pytest.mark.parametrize(
    ("component", "pointer"),
    [
        (TransferConfirm, ("components/transferOptions", "confirm")),
        (TransferDisposition, ("components/transferOptions", "disposition")),
        (TransferBrief, ("verbs/transfer", "brief")),
    ],
)
def test_inline_objects_have_the_schemas_fields(component: type[Component], pointer: tuple[str, str]) -> None:
    schema_id, name = pointer
    inline = schemas()[schema_id]["properties"][name]
    fields = {jambonz_name(field): info for field, info in component.model_fields.items()}
    assert set(fields) == set(inline["properties"])
    assert {key for key, info in fields.items() if info.is_required()} == set(inline.get("required", []))


# --- hooks, nesting and the prompt pattern ---------------------------------------------------------


def on_wait() -> None:
    """A stand-in handler used as a hook."""


def test_hooks_are_hook_references_resolved_under_the_mount_prefix() -> None:
    context = HookContext(prefix="/voice", paths={on_wait: "/wait"})
    verbs: list[Verb] = [
        Enqueue(name="support", wait_hook=on_wait, action_hook="/exit"),
        Room(name="r", status_hook="https://other.example.com/status", enter_hook="/enter"),
        SipRefer(refer_to="sip:a@b", event_hook=HookObject(url="/notify", method="post")),
        Transfer(mode="blind", target=[TARGET], action_hook=on_wait),
        RestDial(call_hook=on_wait, from_="+1", to=TARGET, sip_request_within_dialog_hook=on_wait),
    ]
    data = pydantic_core.from_json(encode_verbs(list(verbs), context))
    assert data[0] == {
        "verb": "enqueue",
        "name": "support",
        "actionHook": "/voice/exit",
        "waitHook": "/voice/wait",
    }
    assert data[1]["statusHook"] == "https://other.example.com/status"
    assert data[1]["enterHook"] == "/voice/enter"
    assert data[2]["eventHook"] == {"url": "/voice/notify", "method": "POST"}
    assert data[3]["actionHook"] == "/voice/wait"
    assert data[4]["call_hook"] == "/voice/wait"
    assert data[4]["sipRequestWithinDialogHook"] == "/voice/wait"
    for verb, written in zip(verbs, data, strict=True):
        assert errors(verb.schema_id, written) == []


def test_a_hook_of_the_wrong_kind_is_rejected() -> None:
    with pytest.raises(ValidationError, match="a hook must be"):
        Dequeue(name="q", action_hook=42)  # type: ignore[arg-type]


def test_prompts_are_written_without_their_verb_key() -> None:
    assert dump(SayPrompt(text="hi")) == {"text": "hi"}
    assert dump(PlayPrompt(url="https://example.com/a.wav")) == {"url": "https://example.com/a.wav"}
    assert dump(Say(text="hi")) == {"verb": "say", "text": "hi"}
    assert isinstance(Play(url="https://example.com/a.wav"), PlayPrompt)


def test_numbers_keep_their_type() -> None:
    assert dump(Pause(length=2))["length"] == 2
    assert isinstance(dump(Pause(length=2))["length"], int)
    assert dump(Dtmf(dtmf="1", duration=62.5))["duration"] == 62.5
    assert dump(SipDecline(status=603))["status"] == 603
