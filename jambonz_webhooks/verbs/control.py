"""Verbs that steer the call: ``hangup``, ``redirect``, ``tag``, ``config``."""

from typing import ClassVar, Literal, Self

from pydantic import ConfigDict, model_validator

from ..hooks import HookRef
from ._base import Component, JsonObject, Part, Verb
from .audio import ListenOptions, TranscribeNested
from .components import ActionHookDelayAction, Amd, FillerNoise, Number, Recognizer, Synthesizer, Vad

__all__ = [
    "BargeIn",
    "Config",
    "Hangup",
    "NoiseIsolation",
    "NoiseIsolationAuth",
    "Redirect",
    "Tag",
    "TtsStream",
    "TurnTaking",
]


class Hangup(Verb):
    """End the call, optionally with extra SIP headers on the BYE."""

    schema_id: ClassVar[str] = "verbs/hangup"

    verb_name: ClassVar[str] = "hangup"
    verb: Literal["hangup"] = "hangup"
    id: str | None = None
    headers: dict[str, str | Number] | None = None


class Redirect(Verb):
    """Leave the current verb list and fetch a new one from ``action_hook``."""

    schema_id: ClassVar[str] = "verbs/redirect"

    verb_name: ClassVar[str] = "redirect"
    verb: Literal["redirect"] = "redirect"
    id: str | None = None
    action_hook: HookRef
    status_hook: HookRef | None = None


class Tag(Verb):
    """Replace the call's customerData; every later hook carries it."""

    schema_id: ClassVar[str] = "verbs/tag"

    verb_name: ClassVar[str] = "tag"
    verb: Literal["tag"] = "tag"
    id: str | None = None
    data: JsonObject


class BargeIn(Component):
    """Background listening that lets the caller interrupt any verb."""

    enable: bool | None = None
    sticky: bool | None = None
    action_hook: HookRef | None = None
    input: list[Literal["speech", "digits"]] | None = None
    min_bargein_word_count: Number | None = None


class TtsStream(Component):
    """Streaming text-to-speech for the session."""

    enable: bool | None = None
    synthesizer: Part[Synthesizer] | None = None


class NoiseIsolationAuth(Component):
    """Inline vendor credentials for noise isolation; vendor-specific keys beyond these are passed on."""

    # The schema leaves this object open (additionalProperties: true).
    model_config = ConfigDict(extra="allow")

    api_key: str | None = None
    api_uri: str | None = None


class NoiseIsolation(Component):
    """Noise isolation on the call's audio (inbound by default)."""

    enable: bool | None = None
    vendor: str | None = None
    level: Number | None = None
    model: str | None = None
    label: str | None = None
    auth: Part[NoiseIsolationAuth] | None = None


class TurnTaking(Component):
    """Turn-taking detection for conversational apps."""

    enable: bool | None = None
    vendor: str | None = None
    threshold: Number | None = None
    model: str | None = None


class Config(Verb):
    """Change session-wide defaults: speech vendors, barge-in, recording, and more."""

    schema_id: ClassVar[str] = "verbs/config"

    verb_name: ClassVar[str] = "config"
    verb: Literal["config"] = "config"
    id: str | None = None
    synthesizer: Part[Synthesizer] | None = None
    recognizer: Part[Recognizer] | None = None
    barge_in: Part[BargeIn] | None = None
    tts_stream: Part[TtsStream] | None = None
    record: JsonObject | None = None
    listen: Part[ListenOptions] | None = None
    stream: Part[ListenOptions] | None = None
    transcribe: Part[TranscribeNested] | None = None
    amd: Part[Amd] | None = None
    filler_noise: Part[FillerNoise] | None = None
    vad: Part[Vad] | None = None
    notify_events: bool | None = None
    notify_stt_latency: bool | None = None
    reset: str | list[str] | None = None
    on_hold_music: str | None = None
    action_hook_delay_action: Part[ActionHookDelayAction] | None = None
    sip_request_within_dialog_hook: HookRef | None = None
    boost_audio_signal: Number | str | None = None
    refer_hook: HookRef | None = None
    early_media: bool | None = None
    auto_stream_tts: bool | None = None
    disable_tts_cache: bool | None = None
    track_tts_playout: bool | None = None
    noise_isolation: Part[NoiseIsolation] | None = None
    turn_taking: Part[TurnTaking] | None = None

    @model_validator(mode="after")
    def _transcribe_says_enable(self) -> Self:
        # jambonz reads config.transcribe as "start" or "stop" by its enable flag, and its
        # validator refuses the object without one.
        if isinstance(self.transcribe, TranscribeNested) and self.transcribe.enable is None:
            raise ValueError("config: transcribe needs enable (true starts it, false stops it)")
        return self
