"""Single-purpose verbs: ``message``, ``alert``, ``answer``, ``dtmf``, ``transfer``, ``rest:dial``.

Also :class:`TransferOptions`, the transfer settings ``transfer`` shares with the ``handoff``
component of conversational verbs.
"""

from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, WithJsonSchema, model_validator

from ..hooks import HookObject, HookRef
from ._base import Component, JsonObject, Part, Verb, json_names
from .components import Amd, Number, Synthesizer, Target

__all__ = [
    "Alert",
    "Answer",
    "Dtmf",
    "Message",
    "RestDial",
    "Transfer",
    "TransferBrief",
    "TransferConfirm",
    "TransferDisposition",
    "TransferOptions",
]

# message and rest:dial spell these in snake_case on the wire.
json_names(
    account_sid="account_sid",
    application_sid="application_sid",
    message_sid="message_sid",
    call_hook="call_hook",
    call_status_hook="call_status_hook",
    speech_synthesis_vendor="speech_synthesis_vendor",
    speech_synthesis_voice="speech_synthesis_voice",
    speech_synthesis_language="speech_synthesis_language",
    speech_recognizer_vendor="speech_recognizer_vendor",
    speech_recognizer_language="speech_recognizer_language",
    dual_streams="dual_streams",
)


class Message(Verb):
    """Send an SMS, or an MMS when ``media`` is given, from a number provisioned on jambonz."""

    schema_id: ClassVar[str] = "verbs/message"

    verb_name: ClassVar[str] = "message"
    verb: Literal["message"] = "message"
    id: str | None = None
    to: str
    from_: str
    text: str | None = None
    media: str | list[str] | None = None
    carrier: str | None = None
    account_sid: str | None = None
    message_sid: str | None = None
    action_hook: HookRef | None = None


class Alert(Verb):
    """Send a 180 Ringing whose Alert-Info header carries ``message`` (a ring tone hint)."""

    schema_id: ClassVar[str] = "verbs/alert"

    verb_name: ClassVar[str] = "alert"
    verb: Literal["alert"] = "alert"
    id: str | None = None
    message: str


class Answer(Verb):
    """Answer the incoming call now (200 OK); most verbs would answer it implicitly."""

    schema_id: ClassVar[str] = "verbs/answer"

    verb_name: ClassVar[str] = "answer"
    verb: Literal["answer"] = "answer"
    id: str | None = None


class Dtmf(Verb):
    """Send DTMF digits on the call (``w`` waits half a second), ``duration`` ms per tone."""

    schema_id: ClassVar[str] = "verbs/dtmf"

    verb_name: ClassVar[str] = "dtmf"
    verb: Literal["dtmf"] = "dtmf"
    id: str | None = None
    dtmf: str
    duration: Number | None = None


class TransferConfirm(Component):
    """A gate on a transfer: the destination hears ``prompt`` and must press ``digit`` to accept."""

    prompt: str
    digit: str


Disposition = Literal["return", "voicemail", "hangup"]


class TransferDisposition(Component):
    """What to do with the caller when a transfer is not answered, busy, declined or fails."""

    on_no_answer: Disposition | None = None
    on_busy: Disposition | None = None
    on_decline: Disposition | None = None
    on_failure: Disposition | None = None
    voicemail_url: str | None = None

    @model_validator(mode="after")
    def _voicemail_needs_url(self) -> Self:
        if self.voicemail_url is None:
            wanted = [
                name
                for name in ("on_no_answer", "on_busy", "on_decline", "on_failure")
                if getattr(self, name) == "voicemail"
            ]
            if wanted:
                raise ValueError(f"transfer disposition: {', '.join(wanted)}='voicemail' needs voicemail_url")
        return self


class TransferOptions(Component):
    """How a call is transferred (blind or warm), where to, and what happens when it fails."""

    schema_id: ClassVar[str] = "components/transferOptions"

    mode: Literal["blind", "warm"]
    blind_method: Literal["refer", "dial"] | None = None
    caller_present: bool | None = None
    target: list[Part[Target]] = Field(min_length=1)
    caller_id: str | None = None
    on_hold_hook: HookRef | None = None
    timeout: Number | None = None
    confirm: Part[TransferConfirm] | None = None
    amd: Part[Amd] | None = None
    disposition: Part[TransferDisposition] | None = None
    action_hook: HookRef | None = None
    event_hook: HookRef | None = None


class TransferBrief(Component):
    """What a warm transfer says to the destination before the caller is connected."""

    text: str
    synthesizer: Part[Synthesizer] | None = None


class _TransferHead(Verb):
    """The verb key and id of ``transfer``, in a base of their own so that they are written first."""

    # pydantic orders fields by the reversed MRO: this base comes before TransferOptions.
    verb: Literal["transfer"] = "transfer"
    id: str | None = None


class Transfer(TransferOptions, _TransferHead):
    """Transfer the caller, blind or warm, with fallbacks for no answer, busy, decline and failure.

    jambonz posts the outcome to ``action_hook``.
    """

    schema_id: ClassVar[str] = "verbs/transfer"

    verb_name: ClassVar[str] = "transfer"
    brief: Part[TransferBrief] | None = None


class RestDial(Verb):
    """The outbound call the REST API creates; jambonz uses it internally, apps seldom write it."""

    schema_id: ClassVar[str] = "verbs/rest_dial"

    verb_name: ClassVar[str] = "rest:dial"
    verb: Literal["rest:dial"] = "rest:dial"
    id: str | None = None
    account_sid: str | None = None
    application_sid: str | None = None
    call_hook: HookRef
    call_status_hook: HookRef | None = None
    from_: str
    caller_name: str | None = None
    from_host: str | None = None
    speech_synthesis_vendor: str | None = None
    speech_synthesis_voice: str | None = None
    speech_synthesis_language: str | None = None
    speech_recognizer_vendor: str | None = None
    speech_recognizer_language: str | None = None
    tag: JsonObject | None = None
    to: Part[Target]
    headers: dict[str, str | Number] | None = None
    timeout: Number | None = None
    amd: Part[Amd] | None = None
    dual_streams: bool | None = None
    # The schema allows only a string here, not a hook object (checked below).
    sip_request_within_dialog_hook: Annotated[HookRef, WithJsonSchema({"type": "string"})] | None = None
    refer_hook: HookRef | None = None
    time_limit: Number | None = None
    codecs: list[str] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _dialog_hook_is_a_string(self) -> Self:
        if isinstance(self.sip_request_within_dialog_hook, HookObject):
            raise ValueError(
                "rest:dial: sip_request_within_dialog_hook must be a URL, path or handler, not a hook object"
            )
        return self
