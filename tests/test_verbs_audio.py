"""listen, stream, transcribe, dub (top level and nested), and gather/dial/config with their nested verbs."""

from __future__ import annotations

from typing import Any

import pydantic_core
import pytest
from pydantic import BaseModel, ValidationError

from jambonz_webhooks.hooks import HookContext
from jambonz_webhooks.response import encode_verbs
from jambonz_webhooks.verbs._base import Verb, jambonz_name
from jambonz_webhooks.verbs.audio import (
    BidirectionalAudio,
    Dub,
    DubNested,
    Listen,
    ListenNested,
    ListenOptions,
    Stream,
    StreamNested,
    Transcribe,
    TranscribeNested,
)
from jambonz_webhooks.verbs.control import (
    BargeIn,
    Config,
    NoiseIsolation,
    NoiseIsolationAuth,
    TtsStream,
    TurnTaking,
)
from jambonz_webhooks.verbs.dial import Dial
from jambonz_webhooks.verbs.gather import Gather
from tests.schemas import errors, schemas


def wire(verb: Verb, context: HookContext | None = None) -> dict[str, Any]:
    """The JSON object jambonz receives for ``verb``, through the real encoder."""
    data: list[dict[str, Any]] = pydantic_core.from_json(encode_verbs([verb], context))
    assert len(data) == 1
    return data[0]


def dump(model: BaseModel) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return data


def examples(schema_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = schemas()[schema_id]["examples"]
    assert found
    return found


def json_fields(model: type[BaseModel]) -> set[str]:
    return {jambonz_name(name) for name in model.model_fields}


def required_json_fields(model: type[BaseModel]) -> set[str]:
    return {jambonz_name(name) for name, field in model.model_fields.items() if field.is_required()}


# --- every property and required field of each schema is modelled --------------------------------


def _properties(schema: dict[str, Any]) -> set[str]:
    return set(schema["properties"])


@pytest.mark.parametrize(
    ("model", "schema_id"),
    [
        (Listen, "verbs/listen"),
        (Stream, "verbs/stream"),
        (Transcribe, "verbs/transcribe"),
        (Dub, "verbs/dub"),
        (BidirectionalAudio, "components/bidirectionalAudio"),
        (Gather, "verbs/gather"),
        (Dial, "verbs/dial"),
        (Config, "verbs/config"),
    ],
)
def test_model_has_exactly_the_schema_properties(model: type[BaseModel], schema_id: str) -> None:
    schema = schemas()[schema_id]
    assert getattr(model, "schema_id", None) == schema_id
    assert json_fields(model) == _properties(schema)
    assert required_json_fields(model) == set(schema.get("required", []))


@pytest.mark.parametrize(
    ("model", "key"),
    [
        (BargeIn, "bargeIn"),
        (TtsStream, "ttsStream"),
        (NoiseIsolation, "noiseIsolation"),
        (TurnTaking, "turnTaking"),
    ],
)
def test_config_parts_have_exactly_the_schema_properties(model: type[BaseModel], key: str) -> None:
    assert json_fields(model) == _properties(schemas()["verbs/config"]["properties"][key])


def test_noise_isolation_auth_has_the_schema_properties() -> None:
    auth = schemas()["verbs/config"]["properties"]["noiseIsolation"]["properties"]["auth"]
    assert json_fields(NoiseIsolationAuth) == _properties(auth)


def test_nested_forms_have_the_same_fields_as_their_verbs() -> None:
    for nested, verb in [
        (ListenNested, Listen),
        (StreamNested, Stream),
        (TranscribeNested, Transcribe),
        (DubNested, Dub),
    ]:
        assert issubclass(verb, nested)
        assert json_fields(nested) == json_fields(verb)
        assert nested.verb_name == verb.verb_name
    # config's listen: the listen fields minus the verb key, plus enable; nothing required but enable
    assert json_fields(ListenOptions) == json_fields(Listen) - {"verb"} | {"enable"}
    assert required_json_fields(ListenOptions) == {"enable"}


# --- bidirectionalAudio ---------------------------------------------------------------------------


def test_bidirectional_audio() -> None:
    part = BidirectionalAudio(enabled=True, streaming=False, sample_rate=24000)
    data = dump(part)
    assert data == {"enabled": True, "streaming": False, "sampleRate": 24000}
    assert errors("components/bidirectionalAudio", data) == []
    assert BidirectionalAudio.model_validate(data) == part
    with pytest.raises(ValidationError):
        BidirectionalAudio.model_validate({"enable": True})  # typo of "enabled"
    with pytest.raises(ValidationError):
        BidirectionalAudio.model_validate({"sampleRate": "high"})


# --- listen and stream ----------------------------------------------------------------------------


LISTEN_KWARGS: dict[str, Any] = {
    "id": "fork-1",
    "url": "wss://audio.example.com/fork",
    "action_hook": "/listen-done",
    "ws_auth": {"username": "bot", "password": "s3cret"},
    "mix_type": "stereo",
    "metadata": {"callType": "support", "priority": 2},
    "sample_rate": 16000,
    "finish_on_key": "#",
    "max_length": 3600,
    "pass_dtmf": True,
    "play_beep": False,
    "disable_bidirectional_audio": False,
    "bidirectional_audio": BidirectionalAudio(enabled=True, streaming=True, sample_rate=24000),
    "timeout": 20,
    "transcribe": Transcribe(transcription_hook="/transcripts", recognizer={"vendor": "deepgram"}),
    "early_media": True,
    "channel": 1,
}

LISTEN_BODY: dict[str, Any] = {
    "id": "fork-1",
    "url": "wss://audio.example.com/fork",
    "actionHook": "/listen-done",
    "wsAuth": {"username": "bot", "password": "s3cret"},
    "mixType": "stereo",
    "metadata": {"callType": "support", "priority": 2},
    "sampleRate": 16000,
    "finishOnKey": "#",
    "maxLength": 3600,
    "passDtmf": True,
    "playBeep": False,
    "disableBidirectionalAudio": False,
    "bidirectionalAudio": {"enabled": True, "streaming": True, "sampleRate": 24000},
    "timeout": 20,
    # the nested transcribe is written without its verb key
    "transcribe": {"transcriptionHook": "/transcripts", "recognizer": {"vendor": "deepgram"}},
    "earlyMedia": True,
    "channel": 1,
}

FORKS = pytest.mark.parametrize(("model", "name"), [(Listen, "listen"), (Stream, "stream")])


@FORKS
def test_fork_exact_json(model: type[Listen] | type[Stream], name: str) -> None:
    data = wire(model(**LISTEN_KWARGS))
    assert data == {"verb": name, **LISTEN_BODY}
    assert next(iter(data)) == "verb"
    assert errors(f"verbs/{name}", data) == []


@FORKS
def test_fork_accepts_camel_case(model: type[Listen] | type[Stream], name: str) -> None:
    parsed = model.model_validate({"verb": name, **LISTEN_BODY})
    assert parsed.mix_type == "stereo"
    assert isinstance(parsed.transcribe, TranscribeNested)
    assert parsed.transcribe.transcription_hook == "/transcripts"
    assert wire(parsed) == {"verb": name, **LISTEN_BODY}


@FORKS
def test_fork_rejects_bad_input(model: type[Listen] | type[Stream], name: str) -> None:
    with pytest.raises(ValidationError):
        model.model_validate({"url": "wss://a.example/x", "mixtype": "mono"})  # typo
    with pytest.raises(ValidationError):
        model.model_validate({"url": "wss://a.example/x", "mixType": "quad"})  # not in the enum
    with pytest.raises(ValidationError):
        model.model_validate({"url": "wss://a.example/x", "sampleRate": "fast"})
    with pytest.raises(ValidationError):
        model.model_validate({"url": "wss://a.example/x", "wsAuth": {"username": "only"}})
    with pytest.raises(ValidationError):
        model.model_validate({"url": "wss://a.example/x", "transcribe": {"channel": 3}})
    with pytest.raises(ValidationError, match="url"):
        model.model_validate({"mixType": "mono"})  # url is required
    other = "stream" if name == "listen" else "listen"
    with pytest.raises(ValidationError):
        model.model_validate({"verb": other, "url": "wss://a.example/x"})


@pytest.mark.parametrize(("model", "schema_id"), [(Listen, "verbs/listen"), (Stream, "verbs/stream")])
def test_fork_schema_examples_round_trip(model: type[Listen] | type[Stream], schema_id: str) -> None:
    for example in examples(schema_id):
        assert wire(model.model_validate(example)) == example


def test_listen_relative_hooks_get_the_mount_prefix() -> None:
    data = wire(
        Listen(url="wss://a.example/x", action_hook="/done", transcribe={"transcription_hook": "/t"}),
        HookContext(prefix="/voice"),
    )
    assert data["actionHook"] == "/voice/done"
    assert data["transcribe"] == {"transcriptionHook": "/voice/t"}


# --- transcribe -----------------------------------------------------------------------------------


def test_transcribe_exact_json() -> None:
    verb = Transcribe(
        id="t1",
        enable=True,
        transcription_hook="https://app.example.com/transcription",
        translation_hook="/translation",
        recognizer={"vendor": "google", "language": "en-US", "interim": True},
        early_media=False,
        channel=2,
    )
    data = wire(verb)
    assert data == {
        "verb": "transcribe",
        "id": "t1",
        "enable": True,
        "transcriptionHook": "https://app.example.com/transcription",
        "translationHook": "/translation",
        "recognizer": {"vendor": "google", "language": "en-US", "interim": True},
        "earlyMedia": False,
        "channel": 2,
    }
    assert errors("verbs/transcribe", data) == []
    assert Transcribe.model_validate(data) == verb
    assert wire(Transcribe()) == {"verb": "transcribe"}  # nothing is required


def test_transcribe_rejects_bad_input() -> None:
    with pytest.raises(ValidationError):
        Transcribe.model_validate({"transcriptionHooks": "/t"})  # typo
    with pytest.raises(ValidationError):
        Transcribe.model_validate({"channel": 3})  # only 1 or 2
    with pytest.raises(ValidationError):
        Transcribe.model_validate({"enable": {"on": 1}})
    with pytest.raises(ValidationError):
        Transcribe.model_validate({"recognizer": {"language": "en-US"}})  # recognizer needs a vendor


def test_transcribe_hooks_must_be_urls_not_hook_objects() -> None:
    # The schema types transcriptionHook/translationHook as strings.
    with pytest.raises(ValidationError, match=r"transcriptionHook.*not hook objects"):
        Transcribe.model_validate({"transcriptionHook": {"url": "/t", "method": "GET"}})
    with pytest.raises(ValidationError, match=r"translation_?[hH]ook"):
        TranscribeNested.model_validate({"translationHook": {"url": "/t"}})
    with pytest.raises(ValidationError):
        Transcribe.model_validate({"transcriptionHook": 42})
    assert Transcribe(transcription_hook="/t").transcription_hook == "/t"


def test_transcribe_schema_examples_round_trip() -> None:
    for example in examples("verbs/transcribe"):
        assert wire(Transcribe.model_validate(example)) == example


# --- dub ------------------------------------------------------------------------------------------


def test_dub_exact_json() -> None:
    verb = Dub(
        id="d1", action="playOnTrack", track="bgm", play="https://example.com/m.mp3", loop=True, gain=-12
    )
    data = wire(verb)
    assert data == {
        "verb": "dub",
        "id": "d1",
        "action": "playOnTrack",
        "track": "bgm",
        "play": "https://example.com/m.mp3",
        "loop": True,
        "gain": -12,
    }
    assert errors("verbs/dub", data) == []
    say = Dub(
        action="sayOnTrack", track="coach", say={"text": "Ask", "synthesizer": {"vendor": "x"}}, gain="-3 dB"
    )
    data = wire(say)
    assert data["say"] == {"text": "Ask", "synthesizer": {"vendor": "x"}}
    assert data["gain"] == "-3 dB"
    assert errors("verbs/dub", data) == []


def test_dub_rejects_bad_input() -> None:
    with pytest.raises(ValidationError):
        Dub.model_validate({"action": "addTrack", "track": "a", "gian": 3})  # typo
    with pytest.raises(ValidationError):
        Dub.model_validate({"action": "muteTrack", "track": "a"})  # not in the enum
    with pytest.raises(ValidationError):
        Dub.model_validate({"action": "addTrack", "track": "a", "gain": [1]})
    with pytest.raises(ValidationError, match="track"):
        Dub.model_validate({"action": "addTrack"})
    with pytest.raises(ValidationError, match="action"):
        Dub.model_validate({"track": "a"})


def test_dub_schema_examples_round_trip() -> None:
    for example in examples("verbs/dub"):
        assert wire(Dub.model_validate(example)) == example


# --- dial with its nested verbs -------------------------------------------------------------------


def test_dial_with_nested_verbs_has_no_inner_verb_keys() -> None:
    dial = Dial(
        target=[{"type": "phone", "number": "+15085551212"}],
        answer_on_bridge=True,
        codecs=["G722", "PCMU"],
        listen=Listen(url="wss://audio.example.com/leg", mix_type="stereo", channel=2),
        transcribe=Transcribe(transcription_hook="/dial-transcripts", channel=2),
        dub=[
            Dub(action="addTrack", track="whisper"),
            {"action": "sayOnTrack", "track": "whisper", "say": "Customer is VIP"},
        ],
    )
    data = wire(dial)
    assert data == {
        "verb": "dial",
        "target": [{"type": "phone", "number": "+15085551212"}],
        "answerOnBridge": True,
        "codecs": ["G722", "PCMU"],
        "listen": {"url": "wss://audio.example.com/leg", "mixType": "stereo", "channel": 2},
        "transcribe": {"transcriptionHook": "/dial-transcripts", "channel": 2},
        "dub": [
            {"action": "addTrack", "track": "whisper"},
            {"action": "sayOnTrack", "track": "whisper", "say": "Customer is VIP"},
        ],
    }
    assert errors("verbs/dial", data) == []


def test_dial_stream_nested_from_dict_and_instance() -> None:
    from_dict = Dial(target=[{"type": "user", "name": "bob"}], stream={"url": "wss://a.example/s"})
    from_instance = Dial(target=[{"type": "user", "name": "bob"}], stream=Stream(url="wss://a.example/s"))
    for dial in (from_dict, from_instance):
        data = wire(dial)
        assert data["stream"] == {"url": "wss://a.example/s"}
        assert errors("verbs/dial", data) == []
    # a nested dict that carries its own (right) verb key is accepted, and the key is dropped
    keyed = Dial.model_validate(
        {
            "target": [{"type": "user", "name": "bob"}],
            "listen": {"verb": "listen", "url": "wss://a.example/l"},
        }
    )
    assert wire(keyed)["listen"] == {"url": "wss://a.example/l"}


def test_dial_nested_verbs_are_validated() -> None:
    target = [{"type": "phone", "number": "+1"}]
    with pytest.raises(ValidationError):
        Dial.model_validate({"target": target, "listen": {"mixType": "mono"}})  # no url
    with pytest.raises(ValidationError):
        Dial.model_validate({"target": target, "listen": {"verb": "stream", "url": "wss://a/b"}})
    with pytest.raises(ValidationError):
        Dial.model_validate({"target": target, "stream": {"url": "wss://a/b", "mixType": "5.1"}})
    with pytest.raises(ValidationError):
        Dial.model_validate({"target": target, "transcribe": {"channel": 0}})
    with pytest.raises(ValidationError):
        Dial.model_validate({"target": target, "dub": [{"action": "addTrack"}]})  # no track
    with pytest.raises(ValidationError):
        Dial.model_validate({"target": target, "dub": {"action": "addTrack", "track": "a"}})  # not a list


def test_dial_codecs() -> None:
    target = [{"type": "phone", "number": "+1"}]
    assert wire(Dial.model_validate({"target": target, "codecs": ["PCMA"]}))["codecs"] == ["PCMA"]
    with pytest.raises(ValidationError):
        Dial.model_validate({"target": target, "codecs": []})  # minItems 1
    with pytest.raises(ValidationError):
        Dial.model_validate({"target": target, "codecs": "PCMU"})
    with pytest.raises(ValidationError):
        Dial.model_validate({"target": target, "codec": ["PCMU"]})  # typo


def test_dial_camel_case_and_requirements() -> None:
    data = {
        "verb": "dial",
        "target": [{"type": "sip", "sipUri": "sip:alice@example.com"}],
        "callerId": "+15085551212",
        "forwardPAI": True,
        "srtpEncryption": "dtls",
        "dtmfCapture": {"childCall": ["*1"], "parentCall": ["*2"]},
        "headers": {"X-Account": "42", "X-Priority": 1},
    }
    dial = Dial.model_validate(data)
    assert dial.forward_pai is True
    assert wire(dial) == data
    assert errors("verbs/dial", data) == []
    with pytest.raises(ValidationError):
        Dial.model_validate({"callerId": "+1"})  # target is required
    with pytest.raises(ValidationError):
        Dial.model_validate({"target": []})  # minItems 1
    with pytest.raises(ValidationError):
        Dial.model_validate({"target": [{"type": "phone", "number": "+1"}], "srtpEncryption": "zrtp"})


def test_dial_schema_examples_round_trip() -> None:
    for example in examples("verbs/dial"):
        assert wire(Dial.model_validate(example)) == example


# --- config with its nested verbs -----------------------------------------------------------------


def test_config_starts_background_listen_and_transcribe() -> None:
    config = Config(
        listen=ListenOptions(
            enable=True,
            url="wss://audio.example.com/session",
            mix_type="mono",
            bidirectional_audio={"enabled": False},
        ),
        transcribe=Transcribe(
            enable=True, transcription_hook="/transcripts", recognizer={"vendor": "deepgram"}
        ),
        record={"action": "startCallRecording", "siprecServerURL": "sip:rec@example.com"},
        noise_isolation=NoiseIsolation(
            enable=True,
            vendor="kugelaudio",
            label="eu",
            level=50,
            auth=NoiseIsolationAuth(api_key="k-123", api_uri="api.eu.kugelaudio.com"),
        ),
    )
    data = wire(config)
    assert data == {
        "verb": "config",
        "record": {"action": "startCallRecording", "siprecServerURL": "sip:rec@example.com"},
        "listen": {
            "enable": True,
            "url": "wss://audio.example.com/session",
            "mixType": "mono",
            "bidirectionalAudio": {"enabled": False},
        },
        "transcribe": {
            "enable": True,
            "transcriptionHook": "/transcripts",
            "recognizer": {"vendor": "deepgram"},
        },
        "noiseIsolation": {
            "enable": True,
            "vendor": "kugelaudio",
            "level": 50,
            "label": "eu",
            "auth": {"apiKey": "k-123", "apiUri": "api.eu.kugelaudio.com"},
        },
    }
    assert errors("verbs/config", data) == []


def test_config_stops_background_listen_via_stream_key() -> None:
    data = wire(Config(stream={"enable": False}, listen=ListenOptions(enable=False)))
    assert data == {"verb": "config", "listen": {"enable": False}, "stream": {"enable": False}}
    assert errors("verbs/config", data) == []


def test_config_nested_listen_needs_enable_and_valid_fields() -> None:
    with pytest.raises(ValidationError, match="enable"):
        Config.model_validate({"listen": {"url": "wss://a.example/x"}})
    with pytest.raises(ValidationError):
        Config.model_validate({"listen": {"enable": True, "mixtype": "mono"}})  # typo
    with pytest.raises(ValidationError):
        Config.model_validate({"stream": {"enable": True, "sampleRate": "hi"}})


def test_config_transcribe_needs_enable() -> None:
    with pytest.raises(ValidationError, match="config: transcribe needs enable"):
        Config.model_validate({"transcribe": {"transcriptionHook": "/t"}})
    with pytest.raises(ValidationError, match="config: transcribe needs enable"):
        Config(transcribe=Transcribe(transcription_hook="/t"))
    stop = wire(Config(transcribe={"enable": False}))
    assert stop == {"verb": "config", "transcribe": {"enable": False}}
    assert errors("verbs/config", stop) == []


def test_noise_isolation_auth_passes_vendor_keys_on_but_parts_stay_strict() -> None:
    config = Config.model_validate(
        {"noiseIsolation": {"enable": True, "auth": {"apiKey": "k", "region": "eu-1"}}}
    )
    data = wire(config)
    assert data["noiseIsolation"] == {"enable": True, "auth": {"apiKey": "k", "region": "eu-1"}}
    assert errors("verbs/config", data) == []
    with pytest.raises(ValidationError):
        Config.model_validate({"noiseIsolation": {"enable": True, "lable": "eu"}})  # typo
    with pytest.raises(ValidationError):
        Config.model_validate({"noiseIsolation": {"auth": {"apiKey": 42}}})
    with pytest.raises(ValidationError):
        Config.model_validate({"bargeIn": {"enable": True, "input": ["speech", "touch"]}})


def test_config_schema_examples_round_trip() -> None:
    for example in examples("verbs/config"):
        assert wire(Config.model_validate(example)) == example


# --- gather (no nested audio verbs; checked against the SDK schema) --------------------------------


def test_gather_exact_json_and_examples() -> None:
    gather = Gather(
        action_hook="/menu",
        input=["speech", "digits"],
        finish_on_key="#",
        num_digits=4,
        speech_timeout=2,
        timeout=15,
        partial_result_hook="/partial",
        bargein=True,
        min_bargein_word_count=2,
        recognizer={"vendor": "deepgram", "language": "en-US"},
        say={"text": "Enter or say your PIN."},
        filler_noise={"enable": True, "url": "https://example.com/typing.wav"},
    )
    data = wire(gather, HookContext(prefix="/ivr"))
    assert data == {
        "verb": "gather",
        "actionHook": "/ivr/menu",
        "input": ["speech", "digits"],
        "finishOnKey": "#",
        "numDigits": 4,
        "speechTimeout": 2,
        "timeout": 15,
        "partialResultHook": "/ivr/partial",
        "bargein": True,
        "minBargeinWordCount": 2,
        "recognizer": {"vendor": "deepgram", "language": "en-US"},
        "say": {"text": "Enter or say your PIN."},
        "fillerNoise": {"enable": True, "url": "https://example.com/typing.wav"},
    }
    assert errors("verbs/gather", data) == []
    for example in examples("verbs/gather"):
        assert wire(Gather.model_validate(example)) == example
    with pytest.raises(ValidationError):
        Gather.model_validate({"input": ["voice"]})
    with pytest.raises(ValidationError):
        Gather.model_validate({"numDigit": 1})
