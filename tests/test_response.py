"""The WebhookResponse builder, the verb models and how hook references are written (no HTTP here)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest
from pydantic import ValidationError

from jambonz_webhooks import HookContext, HookObject, UnroutedHandlerError, WebhookResponse
from jambonz_webhooks.app import DEFAULT_FALLBACK
from jambonz_webhooks.hooks import NO_CONTEXT, PendingHook, write_hook
from jambonz_webhooks.response import _VALIDATORS, collect_verbs, encode_verbs, prepare_verbs, to_verb
from jambonz_webhooks.verbs import Config, Dial, Gather, Hangup, Pause, Play, Redirect, Say, Target


def menu() -> None:
    """A stand-in handler used as a hook reference."""


def other() -> None:
    """A handler no context knows about."""


def as_list(verbs: WebhookResponse | list[Any]) -> list[dict[str, Any]]:
    if isinstance(verbs, WebhookResponse):
        return verbs.to_list()
    data: list[dict[str, Any]] = json.loads(encode_verbs(verbs))
    return data


# --- each verb: the exact JSON, camelCase as the schemas spell it -------------------------------


def test_say_exact_bytes() -> None:
    response = WebhookResponse().say(text="Hello there", early_media=True, disable_tts_cache=False)
    assert (
        response.to_json()
        == b'[{"verb":"say","text":"Hello there","earlyMedia":true,"disableTtsCache":false}]'
    )


def test_say_with_synthesizer_and_list_text() -> None:
    response = WebhookResponse().say(
        text=["one", "two"],
        loop=2,
        synthesizer={
            "vendor": "google",
            "language": "en-US",
            "voice": "en-US-Standard-C",
            "fallback_vendor": "aws",
        },
        close_stream_on_empty=True,
    )
    assert response.to_list() == [
        {
            "verb": "say",
            "text": ["one", "two"],
            "loop": 2,
            "synthesizer": {
                "vendor": "google",
                "language": "en-US",
                "voice": "en-US-Standard-C",
                "fallbackVendor": "aws",
            },
            "closeStreamOnEmpty": True,
        }
    ]


def test_play() -> None:
    response = WebhookResponse().play(
        url="https://media.example/hold.wav",
        timeout_secs=5,
        seek_offset=100,
        early_media=True,
        action_hook="/played",
    )
    assert response.to_list() == [
        {
            "verb": "play",
            "url": "https://media.example/hold.wav",
            "earlyMedia": True,
            "seekOffset": 100,
            "timeoutSecs": 5,
            "actionHook": "/played",
        }
    ]


def test_gather_camel_case_names() -> None:
    response = WebhookResponse().gather(
        input=["digits", "speech"],
        action_hook="/menu",
        num_digits=1,
        min_digits=1,
        max_digits=4,
        finish_on_key="#",
        inter_digit_timeout=3,
        speech_timeout=2,
        timeout=10,
        partial_result_hook="/partial",
        listen_during_prompt=True,
        dtmf_bargein=True,
        bargein=False,
        min_bargein_word_count=2,
        recognizer={
            "vendor": "deepgram",
            "language": "en-US",
            "hints": ["sales", {"phrase": "support", "boost": 5}],
            "hints_boost": 10,
            "vad": {"enable": True, "voice_ms": 250, "silence_ms": 800},
            "deepgram_options": {"smart_formatting": True},
        },
    )
    assert response.to_list() == [
        {
            "verb": "gather",
            "actionHook": "/menu",
            "input": ["digits", "speech"],
            "finishOnKey": "#",
            "numDigits": 1,
            "minDigits": 1,
            "maxDigits": 4,
            "interDigitTimeout": 3,
            "speechTimeout": 2,
            "timeout": 10,
            "partialResultHook": "/partial",
            "listenDuringPrompt": True,
            "dtmfBargein": True,
            "bargein": False,
            "minBargeinWordCount": 2,
            "recognizer": {
                "vendor": "deepgram",
                "language": "en-US",
                "vad": {"enable": True, "voiceMs": 250, "silenceMs": 800},
                "hints": ["sales", {"phrase": "support", "boost": 5}],
                "hintsBoost": 10,
                "deepgramOptions": {"smartFormatting": True},
            },
        }
    ]


def test_dial_targets_and_special_names() -> None:
    response = WebhookResponse().dial(
        target=[
            {"type": "phone", "number": "+15083728299", "trunk": "carrier-east"},
            Target(
                type="sip",
                sip_uri="sip:alice@example.com",
                auth={"username": "alice", "password": "s3cret"},
                from_={"user": "bob", "host": "example.org"},
                override_to="sip:desk@example.com",
                headers={"X-Account-Ref": "acct-42"},
                confirm_hook="https://confirm.example/hook",
            ),
            {"type": "user", "name": "carol@example.com"},
            {"type": "teams", "number": "+15550001", "tenant": "acme.onmicrosoft.com", "vmail": True},
        ],
        action_hook="/dial-done",
        answer_on_bridge=True,
        caller_id="+15083084809",
        caller_name="Alice",
        time_limit=3600,
        timeout=30,
        forward_pai=True,
        dial_music="https://media.example/ring.wav",
        headers={"X-Custom-Header": "kept as is"},
        srtp_encryption="sdes",
        tag={"crm_id": "CRM-123"},
    )
    assert response.to_list() == [
        {
            "verb": "dial",
            "target": [
                {"type": "phone", "number": "+15083728299", "trunk": "carrier-east"},
                {
                    "type": "sip",
                    "sipUri": "sip:alice@example.com",
                    "confirmHook": "https://confirm.example/hook",
                    "headers": {"X-Account-Ref": "acct-42"},
                    "from": {"user": "bob", "host": "example.org"},
                    "auth": {"username": "alice", "password": "s3cret"},
                    "overrideTo": "sip:desk@example.com",
                },
                {"type": "user", "name": "carol@example.com"},
                {"type": "teams", "number": "+15550001", "tenant": "acme.onmicrosoft.com", "vmail": True},
            ],
            "actionHook": "/dial-done",
            "answerOnBridge": True,
            "callerId": "+15083084809",
            "callerName": "Alice",
            "dialMusic": "https://media.example/ring.wav",
            "headers": {"X-Custom-Header": "kept as is"},
            "timeLimit": 3600,
            "timeout": 30,
            "tag": {"crm_id": "CRM-123"},
            "forwardPAI": True,
            "srtpEncryption": "sdes",
        }
    ]


def test_hangup_pause_redirect_tag() -> None:
    response = (
        WebhookResponse()
        .pause(length=1.5)
        .redirect(action_hook="/next", status_hook="https://status.example/s")
        .tag(data={"crm_id": "CRM-9", "nestedValue": {"snake_case": 1}})
        .hangup(headers={"X-Reason": "done", "X-Code": 42})
    )
    assert response.to_json() == (
        b'[{"verb":"pause","length":1.5},'
        b'{"verb":"redirect","actionHook":"/next","statusHook":"https://status.example/s"},'
        b'{"verb":"tag","data":{"crm_id":"CRM-9","nestedValue":{"snake_case":1}}},'
        b'{"verb":"hangup","headers":{"X-Reason":"done","X-Code":42}}]'
    )


def test_config() -> None:
    response = WebhookResponse().config(
        synthesizer={"vendor": "elevenlabs", "voice": "Rachel", "options": {"stability": 0.5}},
        recognizer={"vendor": "google", "language": "en-GB", "alt_languages": ["fr-FR"]},
        barge_in={"enable": True, "action_hook": "/barge", "input": ["speech"], "min_bargein_word_count": 1},
        vad={"enable": True, "vendor": "silero", "threshold": 0.5, "speech_pad_ms": 30},
        early_media=True,
        notify_events=True,
        on_hold_music="https://media.example/hold.mp3",
        reset=["recognizer", "synthesizer"],
        sip_request_within_dialog_hook="/sip-info",
        action_hook_delay_action={"enabled": True, "no_response_timeout": 3, "actions": [{"verb": "say"}]},
        filler_noise={"enable": True, "url": "https://media.example/typing.wav", "start_delay_secs": 1},
    )
    assert response.to_list() == [
        {
            "verb": "config",
            "synthesizer": {"vendor": "elevenlabs", "voice": "Rachel", "options": {"stability": 0.5}},
            "recognizer": {"vendor": "google", "language": "en-GB", "altLanguages": ["fr-FR"]},
            "bargeIn": {
                "enable": True,
                "actionHook": "/barge",
                "input": ["speech"],
                "minBargeinWordCount": 1,
            },
            "fillerNoise": {"enable": True, "url": "https://media.example/typing.wav", "startDelaySecs": 1},
            "vad": {"enable": True, "vendor": "silero", "threshold": 0.5, "speechPadMs": 30},
            "notifyEvents": True,
            "reset": ["recognizer", "synthesizer"],
            "onHoldMusic": "https://media.example/hold.mp3",
            "actionHookDelayAction": {"enabled": True, "noResponseTimeout": 3, "actions": [{"verb": "say"}]},
            "sipRequestWithinDialogHook": "/sip-info",
            "earlyMedia": True,
        }
    ]


def test_builder_returns_the_same_response_and_keeps_order() -> None:
    response = WebhookResponse()
    assert response.say(text="a") is response
    response.pause(length=1).hangup()
    assert len(response) == 3
    # A built verb is kept in its wire form: the dict jambonz receives.
    assert list(response) == [
        {"verb": "say", "text": "a"},
        {"verb": "pause", "length": 1},
        {"verb": "hangup"},
    ]
    assert [verb["verb"] for verb in response.to_list()] == ["say", "pause", "hangup"]


def test_response_from_models_and_dicts_and_add() -> None:
    response = WebhookResponse([Say(text="a"), {"verb": "pause", "length": 1}, {"hangup": {}}])
    response.add(Play(url="https://x/a.wav"), {"say": {"text": "b"}})
    assert response.to_json() == (
        b'[{"verb":"say","text":"a"},{"verb":"pause","length":1},{"verb":"hangup"},'
        b'{"verb":"play","url":"https://x/a.wav"},{"verb":"say","text":"b"}]'
    )
    # Models are kept as given; dicts are validated into the wire form.
    assert [type(verb) for verb in response.verbs] == [Say, dict, dict, Play, dict]


# --- spelling: snake_case and camelCase both accepted; unset fields left out; verb first --------


def test_snake_and_camel_case_give_the_same_verb() -> None:
    snake = Gather(num_digits=1, action_hook="/menu", finish_on_key="#", listen_during_prompt=True)
    camel = Gather.model_validate(
        {"numDigits": 1, "actionHook": "/menu", "finishOnKey": "#", "listenDuringPrompt": True}
    )
    camel_fields: dict[str, Any] = {"numDigits": 1, "actionHook": "/menu", "finishOnKey": "#"}
    camel_kwargs = WebhookResponse().gather(**camel_fields)
    assert snake == camel
    assert camel_kwargs.to_list() == [
        {"verb": "gather", "actionHook": "/menu", "finishOnKey": "#", "numDigits": 1}
    ]
    mixed = WebhookResponse(
        [{"verb": "dial", "target": [{"type": "sip", "sipUri": "sip:a@b"}], "forward_pai": True}]
    )
    mixed.add({"verb": "dial", "target": [{"type": "sip", "sip_uri": "sip:a@b"}], "forwardPAI": True})
    mixed.add({"say": {"earlyMedia": True, "text": "x"}}, {"say": {"early_media": True, "text": "x"}})
    assert mixed.to_list() == [
        {"verb": "dial", "target": [{"type": "sip", "sipUri": "sip:a@b"}], "forwardPAI": True},
        {"verb": "dial", "target": [{"type": "sip", "sipUri": "sip:a@b"}], "forwardPAI": True},
        {"verb": "say", "text": "x", "earlyMedia": True},
        {"verb": "say", "text": "x", "earlyMedia": True},
    ]


def test_python_names_are_snake_case() -> None:
    gather = Gather.model_validate({"numDigits": 3, "finishOnKey": "*"})
    assert gather.num_digits == 3
    assert gather.finish_on_key == "*"
    dial = Dial.model_validate({"target": [{"type": "sip", "sipUri": "sip:a@b"}], "forwardPAI": False})
    assert dial.forward_pai is False
    assert isinstance(dial.target[0], Target)
    assert dial.target[0].sip_uri == "sip:a@b"


def test_unset_and_none_fields_are_omitted() -> None:
    response = (
        WebhookResponse()
        .say()
        .gather(num_digits=None)
        .dial(target=[{"type": "phone", "number": "1"}])
        .hangup()
    )
    response.config().play(url="u").redirect(action_hook="/r").tag(data={}).pause(length=0)
    assert response.to_json() == (
        b'[{"verb":"say"},{"verb":"gather"},{"verb":"dial","target":[{"type":"phone","number":"1"}]},'
        b'{"verb":"hangup"},{"verb":"config"},{"verb":"play","url":"u"},{"verb":"redirect","actionHook":"/r"},'
        b'{"verb":"tag","data":{}},{"verb":"pause","length":0}]'
    )


@pytest.mark.parametrize(
    "verb",
    [
        {"text": "hi", "earlyMedia": True, "verb": "say"},
        {"say": {"text": "hi"}},
        {"url": "u", "verb": "play"},
        {"numDigits": 1, "verb": "gather"},
        {"target": [{"type": "phone", "number": "1"}], "verb": "dial"},
        {"headers": {"X": "y"}, "verb": "hangup"},
        {"length": 2, "verb": "pause"},
        {"actionHook": "/r", "verb": "redirect"},
        {"earlyMedia": True, "verb": "config"},
        {"data": {"a": 1}, "verb": "tag"},
        {"transcribe": {"transcriptionHook": "/t"}},  # the keyed shape
        {"microsoft_s2s": {"llmOptions": {}}},  # a server synonym no schema describes
    ],
)
def test_verb_key_comes_first(verb: dict[str, Any]) -> None:
    (data,) = WebhookResponse([verb]).to_list()
    assert next(iter(data)) == "verb"
    raw = WebhookResponse([verb]).to_json()
    assert raw.startswith(b'[{"verb":')


# --- validation at build time --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "fields"),
    [
        ("say", {"txt": "typo"}),
        ("say", {"text": "x", "earlymedia": True}),
        ("play", {"url": "u", "action_hok": "/x"}),
        ("gather", {"numDigit": 1}),
        ("gather", {"num_digit": 1}),
        ("gather", {"say": {"txt": "typo in a nested verb"}}),
        ("gather", {"recognizer": {"vendor": "google", "langauge": "en-US"}}),
        ("dial", {"target": [{"type": "phone", "numbr": "1"}]}),
        ("dial", {"target": [{"type": "phone", "number": "1"}], "forwardPai": True}),
        ("hangup", {"header": {"X": "y"}}),
        ("pause", {"length": 1, "seconds": 1}),
        ("redirect", {"action_hook": "/r", "statushook": "/s"}),
        ("config", {"synthesizer": {"vendor": "google", "voic": "x"}}),
        ("tag", {"data": {}, "date": {}}),
    ],
)
def test_unknown_fields_are_rejected_when_building(method: str, fields: dict[str, Any]) -> None:
    response = WebhookResponse()
    with pytest.raises(ValidationError):
        getattr(response, method)(**fields)
    assert len(response) == 0  # nothing half-built was appended


@pytest.mark.parametrize(
    "verb",
    [
        {"verb": "say", "txt": "typo"},
        {"say": {"txt": "typo"}},
        {"gather": {"say": {"verb": "say", "txt": "typo"}}},
        {"verb": "dial", "target": []},
        {"verb": "say", "text": 42},
    ],
)
def test_bad_dicts_are_rejected(verb: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        WebhookResponse([verb])
    with pytest.raises(ValidationError):
        WebhookResponse().add(verb)


@pytest.mark.parametrize(
    ("method", "fields"),
    [
        ("config", {"vad": {"threshold": 1.5}}),
        ("config", {"vad": {"threshold": -0.1}}),
        ("config", {"vad": {"mode": 4}}),
        ("config", {"vad": {"vendor": "cobra"}}),
        ("gather", {"recognizer": {"vendor": "google", "vad": {"threshold": 2}}}),
        ("gather", {"recognizer": {"vendor": "google", "min_confidence": 1.01}}),
        ("gather", {"recognizer": {"vendor": "google", "interaction_type": "chat"}}),
        ("gather", {"input": ["video"]}),
        ("gather", {"action_hook": {"url": "/menu", "method": "PUT"}}),
        ("gather", {"action_hook": {"url": "/menu", "verb": "POST"}}),
        ("dial", {"target": []}),
        ("dial", {}),
        ("dial", {"target": [{"type": "fax", "number": "1"}]}),
        ("dial", {"target": [{"number": "1"}]}),
        ("dial", {"target": [{"type": "phone", "number": "1"}], "srtp_encryption": "zrtp"}),
        ("pause", {}),
        ("play", {}),
        ("redirect", {}),
        ("tag", {}),
        ("say", {"synthesizer": {"vendor": "aws", "engine": "turbo"}}),
        ("say", {"synthesizer": {"language": "en-US"}}),
        ("config", {"barge_in": {"input": ["keypad"]}}),
    ],
)
def test_enums_bounds_and_required_fields(method: str, fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        getattr(WebhookResponse(), method)(**fields)


def test_bounds_accept_their_limits() -> None:
    response = (
        WebhookResponse().config(vad={"threshold": 1, "mode": 3}).config(vad={"threshold": 0, "mode": 0})
    )
    assert response.to_list() == [
        {"verb": "config", "vad": {"mode": 3, "threshold": 1}},
        {"verb": "config", "vad": {"mode": 0, "threshold": 0}},
    ]


def test_a_verb_model_checks_its_own_verb_name() -> None:
    with pytest.raises(ValidationError):
        Say.model_validate({"verb": "play", "text": "x"})


def test_a_dict_without_verb_is_refused() -> None:
    with pytest.raises(ValueError, match="not a verb"):
        WebhookResponse([{"text": "hi", "loop": 2}])
    with pytest.raises(TypeError):
        WebhookResponse(["say hi"])  # type: ignore[list-item]


# --- nested verbs: no "verb" key inside gather -----------------------------------------------------


@pytest.mark.parametrize(
    "say",
    [
        {"text": "Press one", "early_media": True},
        {"verb": "say", "text": "Press one", "earlyMedia": True},
        Say(text="Press one", early_media=True),
    ],
    ids=["dict", "dict-with-verb", "model"],
)
def test_nested_say_has_no_verb_key(say: Say | dict[str, Any]) -> None:
    response = WebhookResponse().gather(input=["digits"], num_digits=1, action_hook="/menu", say=say)
    assert response.to_json() == (
        b'[{"verb":"gather","actionHook":"/menu","input":["digits"],"numDigits":1,'
        b'"say":{"text":"Press one","earlyMedia":true}}]'
    )


@pytest.mark.parametrize(
    "play",
    [{"url": "https://x/p.wav"}, {"verb": "play", "url": "https://x/p.wav"}, Play(url="https://x/p.wav")],
    ids=["dict", "dict-with-verb", "model"],
)
def test_nested_play_has_no_verb_key(play: Play | dict[str, Any]) -> None:
    assert WebhookResponse().gather(play=play).to_list() == [
        {"verb": "gather", "play": {"url": "https://x/p.wav"}}
    ]


def test_nested_verbs_in_gather_given_as_dicts() -> None:
    response = WebhookResponse(
        [
            {"verb": "gather", "say": {"verb": "say", "text": "a"}},
            {"gather": {"say": {"text": "b", "synthesizer": {"vendor": "google"}}}},
            {"gather": {"play": {"url": "https://x/p.wav", "verb": "play"}}},
        ]
    )
    assert response.to_json() == (
        b'[{"verb":"gather","say":{"text":"a"}},'
        b'{"verb":"gather","say":{"text":"b","synthesizer":{"vendor":"google"}}},'
        b'{"verb":"gather","play":{"url":"https://x/p.wav"}}]'
    )


def test_a_say_model_used_nested_and_top_level() -> None:
    say = Say(text="hello")
    response = WebhookResponse().add(say).gather(say=say).add(say)
    assert response.to_list() == [
        {"verb": "say", "text": "hello"},
        {"verb": "gather", "say": {"text": "hello"}},
        {"verb": "say", "text": "hello"},
    ]
    assert say.verb == "say"  # the model itself is untouched


def test_nested_verb_must_be_the_right_verb() -> None:
    with pytest.raises(ValidationError):
        WebhookResponse().gather(say={"verb": "play", "url": "u"})
    with pytest.raises(ValidationError):
        WebhookResponse().gather(say=Play(url="u"))  # type: ignore[call-overload]


# --- what a handler may return ---------------------------------------------------------------------


def test_collect_response_is_its_verbs() -> None:
    response = WebhookResponse().say(text="x")
    assert collect_verbs(response) is response.verbs


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (None, []),
        ([], []),
        (WebhookResponse(), []),
        (WebhookResponse().say(text="a").hangup(), [{"verb": "say", "text": "a"}, {"verb": "hangup"}]),
        ([Say(text="a"), {"verb": "hangup"}], [{"verb": "say", "text": "a"}, {"verb": "hangup"}]),
        (
            (Pause(length=1), {"pause": {"length": 2}}),
            [{"verb": "pause", "length": 1}, {"verb": "pause", "length": 2}],
        ),
        (Hangup(), [{"verb": "hangup"}]),
        (Redirect(action_hook="/r"), [{"verb": "redirect", "actionHook": "/r"}]),
        ({"verb": "say", "text": "a"}, [{"verb": "say", "text": "a"}]),
        ({"say": {"text": "a"}}, [{"verb": "say", "text": "a"}]),
        ({"tag": {"data": {"k": "v"}}}, [{"verb": "tag", "data": {"k": "v"}}]),
        (
            {"verb": "listen", "url": "wss://audio.example/s", "mixType": "stereo", "sampleRate": 8000},
            [{"verb": "listen", "url": "wss://audio.example/s", "mixType": "stereo", "sampleRate": 8000}],
        ),
        (
            {"llm": {"vendor": "openai", "model": "gpt-4o", "llmOptions": {"messages": []}}},
            [{"verb": "llm", "vendor": "openai", "model": "gpt-4o", "llmOptions": {"messages": []}}],
        ),
        (
            [{"verb": "enqueue", "name": "support"}, Config(notify_events=True)],
            [{"verb": "enqueue", "name": "support"}, {"verb": "config", "notifyEvents": True}],
        ),
    ],
)
def test_handler_result_shapes(result: object, expected: list[dict[str, Any]]) -> None:
    verbs = collect_verbs(result)
    assert json.loads(encode_verbs(verbs)) == expected


def test_a_dict_in_keyed_shape_is_validated_as_its_verb() -> None:
    assert collect_verbs({"say": {"text": "a"}}) == [{"verb": "say", "text": "a"}]
    # A component with model-level rules (a dial target) stays its model inside the dict.
    dial = to_verb({"dial": {"target": [{"type": "user", "name": "u"}]}})
    assert dial == {"verb": "dial", "target": [Target(type="user", name="u")]}
    assert json.loads(encode_verbs([dial])) == [{"verb": "dial", "target": [{"type": "user", "name": "u"}]}]
    assert to_verb({"verb": "tag", "data": {"x": 1}}) == {"verb": "tag", "data": {"x": 1}}
    with pytest.raises(ValidationError, match="Tag"):
        to_verb({"tag": {"data": 1}})


@pytest.mark.parametrize("result", ["say hi", 42, b"[]", {"verb", "say"}, [42], [None], object()])
def test_wrong_result_types_are_refused(result: object) -> None:
    with pytest.raises(TypeError):
        collect_verbs(result)


def test_a_dict_naming_no_verb_is_refused() -> None:
    with pytest.raises(ValueError):
        collect_verbs({"text": "a", "loop": 1})
    with pytest.raises(ValueError):
        collect_verbs({"say": "not an object"})


# --- hook references -------------------------------------------------------------------------------

VOICE = HookContext(prefix="/voice", paths={menu: "/menu"})
ROOT = HookContext(prefix="", paths={menu: "/menu"})


@pytest.mark.parametrize(
    ("hook", "context", "expected"),
    [
        ("/menu", None, "/menu"),
        ("/menu", ROOT, "/menu"),
        ("/menu", VOICE, "/voice/menu"),
        ("https://x/y", VOICE, "https://x/y"),
        ("https://hooks.example/menu?x=1#rc=2&rp=ct", VOICE, "https://hooks.example/menu?x=1#rc=2&rp=ct"),
        (menu, ROOT, "/menu"),
        (menu, VOICE, "/voice/menu"),
        (
            {"url": "/menu", "method": "GET", "username": "u", "password": "p"},
            VOICE,
            {"url": "/voice/menu", "method": "GET", "username": "u", "password": "p"},
        ),
        (
            {"url": "/menu", "method": "GET", "username": "u", "password": "p"},
            ROOT,
            {"url": "/menu", "method": "GET", "username": "u", "password": "p"},
        ),
        ({"url": "https://x/y", "method": "post"}, VOICE, {"url": "https://x/y", "method": "POST"}),
        ({"url": menu, "method": "get"}, VOICE, {"url": "/voice/menu", "method": "GET"}),
        ({"url": "/menu"}, VOICE, {"url": "/voice/menu"}),
        (
            HookObject(url="/menu", username="u", password="p"),
            VOICE,
            {"url": "/voice/menu", "username": "u", "password": "p"},
        ),
    ],
)
def test_hook_reference(hook: Any, context: HookContext | None, expected: Any) -> None:
    response = WebhookResponse().gather(action_hook=hook).redirect(action_hook=hook)
    assert response.to_list(context) == [
        {"verb": "gather", "actionHook": expected},
        {"verb": "redirect", "actionHook": expected},
    ]


def test_every_hook_field_gets_the_prefix() -> None:
    response = (
        WebhookResponse()
        .play(url="u", action_hook="/played")
        .gather(action_hook=menu, partial_result_hook="/partial")
        .dial(
            target=[{"type": "sip", "sip_uri": "sip:a@b", "confirm_hook": "/confirm"}],
            action_hook={"url": menu, "method": "POST"},
            on_hold_hook="/hold",
            confirm_hook="/confirm-all",
            refer_hook="/refer",
            dtmf_hook="/dtmf",
            amd={"action_hook": "/amd"},
        )
        .redirect(action_hook="/next", status_hook="/status")
        .config(
            barge_in={"enable": True, "action_hook": menu},
            amd={"action_hook": "https://amd.example/h"},
            sip_request_within_dialog_hook="/sip",
            refer_hook="/cfg-refer",
        )
    )
    assert response.to_list(VOICE) == [
        {"verb": "play", "url": "u", "actionHook": "/voice/played"},
        {"verb": "gather", "actionHook": "/voice/menu", "partialResultHook": "/voice/partial"},
        {
            "verb": "dial",
            "target": [{"type": "sip", "sipUri": "sip:a@b", "confirmHook": "/voice/confirm"}],
            "actionHook": {"url": "/voice/menu", "method": "POST"},
            "onHoldHook": "/voice/hold",
            "confirmHook": "/voice/confirm-all",
            "referHook": "/voice/refer",
            "dtmfHook": "/voice/dtmf",
            "amd": {"actionHook": "/voice/amd"},
        },
        {"verb": "redirect", "actionHook": "/voice/next", "statusHook": "/voice/status"},
        {
            "verb": "config",
            "bargeIn": {"enable": True, "actionHook": "/voice/menu"},
            "amd": {"actionHook": "https://amd.example/h"},
            "sipRequestWithinDialogHook": "/voice/sip",
            "referHook": "/voice/cfg-refer",
        },
    ]


def test_the_same_response_written_under_two_prefixes() -> None:
    response = WebhookResponse().gather(action_hook=menu, say={"text": "hi"})
    assert response.to_json(VOICE) == b'[{"verb":"gather","actionHook":"/voice/menu","say":{"text":"hi"}}]'
    assert response.to_json(ROOT) == b'[{"verb":"gather","actionHook":"/menu","say":{"text":"hi"}}]'
    assert response.to_json(HookContext("/a/b", {menu: "/m/x"})) == (
        b'[{"verb":"gather","actionHook":"/a/b/m/x","say":{"text":"hi"}}]'
    )


def test_write_hook_writes_every_kind_of_hook() -> None:
    assert write_hook("/x", VOICE) == "/voice/x"
    assert write_hook("/x", NO_CONTEXT) == "/x"
    assert write_hook("https://a/b", VOICE) == "https://a/b"
    assert write_hook(menu, VOICE) == "/voice/menu"
    hook = HookObject(url=menu, method="get", username="u", password="p")
    assert write_hook(hook, VOICE) == {
        "url": "/voice/menu",
        "method": "GET",
        "username": "u",
        "password": "p",
    }
    with pytest.raises(UnroutedHandlerError, match="other"):
        write_hook(other, VOICE)
    with pytest.raises(UnroutedHandlerError, match="menu"):
        write_hook(menu, NO_CONTEXT)


def test_a_pending_hook_is_written_by_the_encoders_fallback_too() -> None:
    # pydantic-core writes a PendingHook with its own serializer; the fallback is the safety net.
    assert VOICE.write_pending(PendingHook(menu)) == "/voice/menu"
    assert VOICE.write_pending(PendingHook(HookObject(url="/m"))) == {"url": "/voice/m"}
    with pytest.raises(TypeError):
        VOICE.write_pending(object())


def test_a_response_built_at_module_level_is_written_for_each_mount() -> None:
    # As the app's fallback is: built once, outside any request, answered under any prefix.
    assert DEFAULT_FALLBACK.to_json(VOICE) == DEFAULT_FALLBACK.to_json(ROOT)
    answer = WebhookResponse().redirect(action_hook=menu)
    assert answer.to_list(VOICE) == [{"verb": "redirect", "actionHook": "/voice/menu"}]
    assert answer.to_list(HookContext("/other", {menu: "/m"})) == [
        {"verb": "redirect", "actionHook": "/other/m"}
    ]


def test_hook_context_resolve() -> None:
    assert VOICE.resolve("/x") == "/voice/x"
    assert VOICE.resolve("wss://x/y") == "wss://x/y"
    assert VOICE.resolve(menu) == "/voice/menu"
    with pytest.raises(UnroutedHandlerError):
        VOICE.resolve(other)


def test_unrouted_handler_raises_unrouted_handler_error() -> None:
    """The package exports UnroutedHandlerError for this case: it is what callers catch."""
    with pytest.raises(UnroutedHandlerError):
        WebhookResponse().redirect(action_hook=other).to_json(ROOT)
    with pytest.raises(UnroutedHandlerError):
        WebhookResponse().redirect(action_hook=menu).to_json()  # no context: no handler is routed


def test_unrouted_handler_fails_to_encode() -> None:
    with pytest.raises(Exception, match="no route of this app serves it"):
        WebhookResponse().gather(action_hook={"url": other}).to_json(VOICE)


def test_hook_object_rejects_unknown_keys_and_methods() -> None:
    with pytest.raises(ValidationError):
        HookObject.model_validate({"url": "/m", "user": "u"})
    with pytest.raises(ValidationError):
        HookObject.model_validate({"url": "/m", "method": "DELETE"})


def test_default_fallback() -> None:
    assert DEFAULT_FALLBACK.to_list() == [
        {"verb": "say", "text": "We are sorry, something went wrong. Please call again later."},
        {"verb": "hangup"},
    ]


def test_non_ascii_is_written_as_raw_utf8() -> None:
    response = WebhookResponse().say(text="Grüße ☎ 日本").tag(data={"name": "Zoë"})
    assert (
        response.to_json()
        == '[{"verb":"say","text":"Grüße ☎ 日本"},{"verb":"tag","data":{"name":"Zoë"}}]'.encode()
    )


# --- a builder method takes the verb's fields, its model, or its dict ---------------------------


def test_builder_method_takes_fields_model_or_dict_alike() -> None:
    by_fields = WebhookResponse().say(text="Hi", early_media=True)
    by_model = WebhookResponse().say(Say(text="Hi", early_media=True))
    by_dict = WebhookResponse().say({"text": "Hi", "earlyMedia": True})
    by_dict_with_verb = WebhookResponse().say({"verb": "say", "text": "Hi", "early_media": True})
    expected = [{"verb": "say", "text": "Hi", "earlyMedia": True}]
    assert (
        by_fields.to_list()
        == by_model.to_list()
        == by_dict.to_list()
        == by_dict_with_verb.to_list()
        == expected
    )


def test_builder_method_keeps_the_model_it_is_given() -> None:
    say = Say(text="Hi")
    assert WebhookResponse().say(say).verbs == [say]


def test_builder_method_refuses_another_verb_or_a_mix() -> None:
    with pytest.raises(TypeError, match="say\\(\\) takes a Say"):
        WebhookResponse().say(Play(url="https://example.com/a.mp3"))  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="not both"):
        WebhookResponse().say({"text": "a"}, text="b")  # type: ignore[call-overload]
    with pytest.raises(ValidationError):
        WebhookResponse().say({"verb": "play", "url": "x"})
    with pytest.raises(ValidationError):
        WebhookResponse().say({"txt": "typo"})


def test_unknown_verb_is_refused_when_the_answer_is_built() -> None:
    with pytest.raises(ValueError, match="unknown verb 'sya'"):
        WebhookResponse([{"verb": "sya", "text": "typo in the verb name"}])
    with pytest.raises(ValueError, match="unknown verb 'teleport'"):
        WebhookResponse().add({"teleport": {"to": "mars"}})


def test_server_synonyms_without_a_schema_pass_unchecked() -> None:
    answer = WebhookResponse([{"voiceagent_s2s": {"vendor": "voiceagent", "llmOptions": {"x": 1}}}])
    assert answer.to_list() == [{"verb": "voiceagent_s2s", "vendor": "voiceagent", "llmOptions": {"x": 1}}]


# --- built when first needed ---------------------------------------------------------------------


def _run(code: str) -> str:
    """Run ``code`` in a fresh interpreter (nothing built yet) and return what it prints."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout.strip()


@pytest.mark.slow
def test_importing_the_package_builds_no_verb_or_payload_model() -> None:
    built = _run(
        """
        import jambonz_webhooks
        from pydantic import BaseModel
        from jambonz_webhooks.response import _VALIDATORS

        def subclasses(cls):
            for sub in cls.__subclasses__():
                yield sub
                yield from subclasses(sub)

        ours = ("verbs", "events", "session", "payload", "hooks", "rest")
        models = sorted(
            m.__qualname__
            for m in set(subclasses(BaseModel))
            if m.__module__.split(".")[1:2] and m.__module__.split(".")[1] in ours and m.__pydantic_complete__
        )
        validators = sorted(name for name, v in _VALIDATORS.items() if v.built)
        print(models, validators)
        """
    )
    # The default fallback (say, hangup) is a WebhookResponse built when app.py is imported.
    assert built == "[] ['hangup', 'say']"


@pytest.mark.slow
def test_a_verb_validator_is_built_on_first_use_or_when_prepared() -> None:
    printed = _run(
        """
        from jambonz_webhooks import WebhookResponse
        from jambonz_webhooks.response import _VALIDATORS, prepare_verbs

        def built():
            return sorted(name for name, v in _VALIDATORS.items() if v.built)

        WebhookResponse().gather(input=["digits"])
        prepare_verbs("dial", "sip_decline")
        print(built())
        """
    )
    assert printed == "['dial', 'gather', 'hangup', 'say', 'sip:decline']"


def test_prepare_verbs_refuses_an_unknown_verb() -> None:
    with pytest.raises(ValueError, match="nope"):
        prepare_verbs("say", "nope")
    prepare_verbs("gather")
    validator = _VALIDATORS["gather"]
    built = validator.wire
    assert validator.built and validator.mirrored
    prepare_verbs("gather")
    assert validator.wire is built  # prepared once
    prepare_verbs("config")  # model rules of its own: validated by its model
    assert not _VALIDATORS["config"].mirrored
    with pytest.raises(ValidationError, match="Config"):
        WebhookResponse().config(synthesizer=1)  # type: ignore[call-overload]
