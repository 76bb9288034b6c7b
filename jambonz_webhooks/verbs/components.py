"""The parts verbs are built from: synthesizer, recognizer, target, and their kin.

Field names and rules follow jambonz's schemas (``components/*.schema.json``). The recognizer
and its vendor option blocks live in :mod:`.recognizer` and are re-exported here.
"""

from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Self, TypeAlias

from pydantic import Field, SerializeAsAny, StrictFloat, StrictInt, WithJsonSchema, model_validator

from ..hooks import HookRef
from ._base import Component, JsonObject, Part, Verb

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

# Strict: lax int | float would take True as 1 and "10" as 10, neither a JSON number for jambonz.
Number = StrictInt | StrictFloat
"""A JSON number; ints stay ints on the wire."""


class Auth(Component):
    """A username and password: SIP digest auth of a dial target, basic auth of a websocket."""

    schema_id: ClassVar[str] = "components/auth"

    username: str
    password: str


class Synthesizer(Component):
    """Text-to-speech settings: vendor, voice, language and fallbacks."""

    schema_id: ClassVar[str] = "components/synthesizer"

    vendor: str
    label: str | None = None
    language: str | None = None
    voice: str | JsonObject | None = None
    fallback_vendor: str | None = None
    fallback_label: str | None = None
    fallback_language: str | None = None
    fallback_voice: str | JsonObject | None = None
    engine: Literal["standard", "neural", "generative", "long-form"] | None = None
    gender: Literal["MALE", "FEMALE", "NEUTRAL"] | None = None
    options: JsonObject | None = None


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


# Here rather than at the top: the recognizer module needs Number and Vad from this one.
from .recognizer import Recognizer, RecognizerHint  # noqa: E402


class TargetFrom(Component):
    """The user and host to put in the From header of a SIP dial."""

    user: str | None = None
    host: str | None = None


# The field that holds the address of each type of target (the server asserts it when dialing).
_TARGET_ADDRESS = {"phone": "number", "sip": "sip_uri", "user": "name", "teams": "number"}


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

    @model_validator(mode="after")
    def _check_address(self) -> Self:
        needed = _TARGET_ADDRESS[self.type]
        if getattr(self, needed) is None:
            raise ValueError(f"target: a {self.type!r} target needs {needed}")
        return self


class FillerNoise(Component):
    """Background noise played while the app thinks."""

    schema_id: ClassVar[str] = "components/fillerNoise"

    enable: bool
    url: str | None = None
    start_delay_secs: Number | None = None


if TYPE_CHECKING:
    AnyVerb: TypeAlias = Verb | Mapping[str, Any]
else:
    # Written as the verb's own model (with its "verb" key), whatever Verb subclass it is.
    AnyVerb = Annotated[SerializeAsAny[Verb] | JsonObject, WithJsonSchema({"type": "object"})]
"""A whole verb, with its ``verb`` key: a verb model (``Say(...)``) or a dict."""


class ActionHookDelayAction(Component):
    """What to play while an action hook is slow to answer."""

    schema_id: ClassVar[str] = "components/actionHookDelayAction"

    enabled: bool | None = None
    no_response_timeout: Number | None = None
    no_response_give_up_timeout: Number | None = None
    retries: Number | None = None
    actions: list[AnyVerb] | None = None
    give_up_actions: list[AnyVerb] | None = None


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
