"""The parts verbs are built from: synthesizer, recognizer, target, and their kin.

Field names and rules follow jambonz's schemas (``components/*.schema.json``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from ..hooks import HookRef
from ._base import Component, Part

__all__ = [
    "ActionHookDelayAction",
    "Amd",
    "AmdTimers",
    "Auth",
    "FillerNoise",
    "Number",
    "Recognizer",
    "RecognizerHint",
    "Synthesizer",
    "Target",
    "TargetFrom",
    "Vad",
]

Number = int | float
"""A JSON number; ints stay ints on the wire."""


class Auth(Component):
    """SIP digest credentials for a dial target."""

    schema_id: ClassVar[str] = "components/auth"

    username: str
    password: str


class Synthesizer(Component):
    """Text-to-speech settings: vendor, voice, language and fallbacks."""

    schema_id: ClassVar[str] = "components/synthesizer"

    vendor: str
    label: str | None = None
    language: str | None = None
    voice: str | dict[str, Any] | None = None
    fallback_vendor: str | None = None
    fallback_label: str | None = None
    fallback_language: str | None = None
    fallback_voice: str | dict[str, Any] | None = None
    engine: Literal["standard", "neural", "generative", "long-form"] | None = None
    gender: Literal["MALE", "FEMALE", "NEUTRAL"] | None = None
    options: dict[str, Any] | None = None


class Vad(Component):
    """Voice activity detection settings."""

    schema_id: ClassVar[str] = "components/vad"

    enable: bool | None = None
    voice_ms: Number | None = None
    silence_ms: Number | None = None
    strategy: str | None = None
    mode: Number | None = Field(default=None, ge=0, le=3)
    vendor: Literal["webrtc", "silero"] | None = None
    threshold: Number | None = Field(default=None, ge=0, le=1)
    speech_pad_ms: Number | None = None


class RecognizerHint(Component):
    """A phrase hint with its own boost."""

    phrase: str
    boost: Number | None = None


class Recognizer(Component):
    """Speech-to-text settings. Vendor option blocks are passed through as objects."""

    schema_id: ClassVar[str] = "components/recognizer"

    vendor: str
    label: str | None = None
    language: str | None = None
    fallback_vendor: str | None = None
    fallback_label: str | None = None
    fallback_language: str | None = None
    vad: Part[Vad] | None = None
    autogenerate_prompt: bool | None = None
    hints: list[str | Part[RecognizerHint]] | None = None
    hints_boost: Number | None = None
    alt_languages: list[str] | None = None
    profanity_filter: bool | None = None
    interim: bool | None = None
    single_utterance: bool | None = None
    dual_channel: bool | None = None
    separate_recognition_per_channel: bool | None = None
    punctuation: bool | None = None
    enhanced_model: bool | None = None
    words: bool | None = None
    diarization: bool | None = None
    diarization_min_speakers: Number | None = None
    diarization_max_speakers: Number | None = None
    interaction_type: (
        Literal[
            "unspecified",
            "discussion",
            "presentation",
            "phone_call",
            "voicemail",
            "voice_search",
            "voice_command",
            "dictation",
        ]
        | None
    ) = None
    naics_code: Number | None = None
    identify_channels: bool | None = None
    vocabulary_name: str | None = None
    vocabulary_filter_name: str | None = None
    filter_method: Literal["remove", "mask", "tag"] | None = None
    model: str | None = None
    output_format: Literal["simple", "detailed"] | None = None
    profanity_option: Literal["masked", "removed", "raw"] | None = None
    request_snr: bool | None = None
    initial_speech_timeout_ms: Number | None = None
    azure_service_endpoint: str | None = None
    azure_stt_endpoint_id: str | None = None
    asr_dtmf_termination_digit: str | None = None
    asr_timeout: Number | None = None
    fast_recognition_timeout: Number | None = None
    min_confidence: Number | None = Field(default=None, ge=0, le=1)
    deepgram_options: dict[str, Any] | None = None
    google_options: dict[str, Any] | None = None
    aws_options: dict[str, Any] | None = None
    azure_options: dict[str, Any] | None = None
    ibm_options: dict[str, Any] | None = None
    nvidia_options: dict[str, Any] | None = None
    soniox_options: dict[str, Any] | None = None
    xai_options: dict[str, Any] | None = None
    modulate_options: dict[str, Any] | None = None
    assembly_ai_options: dict[str, Any] | None = None
    speechmatics_options: dict[str, Any] | None = None
    openai_options: dict[str, Any] | None = None
    houndify_options: dict[str, Any] | None = None
    gladia_options: dict[str, Any] | None = None
    elevenlabs_options: dict[str, Any] | None = None
    custom_options: dict[str, Any] | None = None


class TargetFrom(Component):
    """The user and host to put in the From header of a SIP dial."""

    user: str | None = None
    host: str | None = None


class Target(Component):
    """Who a ``dial`` calls: a phone number, a SIP URI, a registered user, or a Teams user."""

    schema_id: ClassVar[str] = "components/target"

    type: Literal["phone", "sip", "user", "teams"]
    number: str | None = None
    sip_uri: str | None = None
    name: str | None = None
    tenant: str | None = None
    trunk: str | None = None
    confirm_hook: HookRef | None = None
    method: Literal["GET", "POST"] | None = None
    headers: dict[str, str] | None = None
    from_: Part[TargetFrom] | None = None
    auth: Part[Auth] | None = None
    vmail: bool | None = None
    override_to: str | None = None
    proxy: str | None = None


class FillerNoise(Component):
    """Background noise played while the app thinks."""

    schema_id: ClassVar[str] = "components/fillerNoise"

    enable: bool
    url: str | None = None
    start_delay_secs: Number | None = None


class ActionHookDelayAction(Component):
    """What to play while an action hook is slow to answer."""

    schema_id: ClassVar[str] = "components/actionHookDelayAction"

    enabled: bool | None = None
    no_response_timeout: Number | None = None
    no_response_give_up_timeout: Number | None = None
    retries: Number | None = None
    actions: list[dict[str, Any]] | None = None
    give_up_actions: list[dict[str, Any]] | None = None


class AmdTimers(Component):
    """Timers of answering-machine detection, in milliseconds."""

    no_speech_timeout_ms: Number | None = None
    decision_timeout_ms: Number | None = None
    tone_timeout_ms: Number | None = None
    greeting_completion_timeout_ms: Number | None = None


class Amd(Component):
    """Answering-machine detection on a dialed or configured call."""

    schema_id: ClassVar[str] = "components/amd"

    action_hook: HookRef
    threshold_word_count: Number | None = None
    digit_count: Number | None = None
    timers: Part[AmdTimers] | None = None
    recognizer: Part[Recognizer] | None = None
