"""The request and response bodies of jambonz's REST API, as its swagger.yaml defines them.

Field names are the API's own, which mix styles (``call_hook``, ``timeLimit``); the Python
names are snake_case and both spellings are accepted.

Hooks (a path, a URL, a handler) and verbs are validated when a body is made and written out
when it is encoded to be sent, by :func:`~jambonz_webhooks.hooks.write_hook` as an answer's
verbs are: with the mount prefix of the app whose request is being answered, if any.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, Self

import pydantic_core
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    field_validator,
    model_validator,
)

from ..hooks import (
    NO_CONTEXT,
    HookContext,
    UnroutedHandlerError,
    current_context,
    encoding_hook,
    keep_unrouted,
)
from ..response import WebhookResponse, collect_verbs, encode_verbs
from ..verbs import Target, Verb

__all__ = [
    "Call",
    "ConferenceParticipantAction",
    "CreateCall",
    "Dtmf",
    "Message",
    "MessageResult",
    "Queue",
    "Record",
    "SipRequest",
    "UpdateCall",
    "Webhook",
]


class _Body(BaseModel):
    """What the client sends: unknown fields refused, both spellings accepted."""

    model_config = ConfigDict(
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        defer_build=True,
    )


def _sending_context() -> HookContext:
    # A body is encoded as it is sent, from a handler while its request is answered: the route
    # has set that request's context (an app mounted under /voice writes /voice/menu).
    return current_context.get() or NO_CONTEXT


def _url_or_handler(value: Any) -> str | Callable[..., Any]:
    if isinstance(value, str) or (callable(value) and not isinstance(value, type)):
        hook: str | Callable[..., Any] = value
        return hook
    raise ValueError("a hook's url is a URL, a path or a handler of this app")


def _written_url(value: str | Callable[..., Any]) -> str:
    written = encoding_hook(value, _sending_context())
    assert isinstance(written, str)  # a path, a URL or a handler is written as a string
    return written


HookUrl = Annotated[
    str | Callable[..., Any],
    PlainValidator(_url_or_handler, json_schema_input_type=str),
    PlainSerializer(_written_url, return_type=str),
]
"""A URL, a path or a handler, written out when the body is encoded."""


class Webhook(_Body):
    """A hook the API server gives the call: ``{url, method, username, password}``.

    ``url`` is a URL, a path or a handler of the app. A path is resolved by jambonz against the
    call's application URL, so inside a request of an app mounted under a prefix, a path or a
    handler is written with that prefix, as the app's verbs are.
    """

    url: HookUrl
    method: Literal["get", "post"] | None = None
    username: str | None = None
    password: str | None = None

    @field_validator("method", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value  # the spec's enum is lower case


def _webhook(value: Any) -> Any:
    # A URL, a path or a handler alone is the url of a hook object.
    if isinstance(value, str) or (callable(value) and not isinstance(value, type)):
        return {"url": value}
    return value


def _verb_list(verbs: Any) -> list[Verb | dict[str, Any]]:
    """Verbs (a WebhookResponse, models or dicts) validated now by our models, not by the API server."""
    if isinstance(verbs, str | bytes):
        raise ValueError("verbs are a WebhookResponse or a list of verbs, not JSON text")
    try:
        return verbs.verbs if isinstance(verbs, WebhookResponse) else collect_verbs(verbs)
    except TypeError as exc:  # not verbs at all: a validation error like any other
        raise ValueError(str(exc)) from None


def _written_verbs(verbs: list[Verb | dict[str, Any]]) -> bytes:
    try:
        return encode_verbs(verbs, _sending_context())
    except UnroutedHandlerError as exc:
        keep_unrouted(exc)  # raised again as itself by whoever encodes the body
        raise


def _json_text(verbs: list[Verb | dict[str, Any]]) -> str:
    return _written_verbs(verbs).decode()


VerbList = Annotated[
    list[Verb | dict[str, Any]],
    PlainValidator(_verb_list, json_schema_input_type=list[dict[str, Any]]),
    PlainSerializer(_json_text, return_type=str),
]
"""Verbs to run, sent as the JSON text of their array (``app_json``)."""


class CreateCall(_Body):
    """``POST /Accounts/{AccountSid}/Calls``: an outbound call, run by a hook or by verbs given now."""

    from_: str = Field(alias="from")
    to: Target
    call_hook: Webhook | None = None
    call_status_hook: Webhook | None = None
    application_sid: str | None = None
    app_json: VerbList | None = None
    """Verbs to run instead of a call hook: a :class:`~jambonz_webhooks.Response` or a list of verbs."""
    answer_on_bridge: bool | None = Field(default=None, alias="answerOnBridge")
    from_host: str | None = Field(default=None, alias="fromHost")
    timeout: int | None = None
    time_limit: int | None = Field(default=None, alias="timeLimit")
    tag: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    sip_request_within_dialog_hook: str | None = Field(default=None, alias="sipRequestWithinDialogHook")

    @field_validator("call_hook", "call_status_hook", mode="before")
    @classmethod
    def _hooks(cls, value: Any) -> Any:
        return _webhook(value)

    @model_validator(mode="after")
    def _runnable(self) -> Self:
        if self.call_hook is None and self.application_sid is None and self.app_json is None:
            raise ValueError("a call needs call_hook, application_sid or app_json")
        return self


class SipRequest(_Body):
    """A SIP request to send within the call's dialog (INFO, NOTIFY, ...)."""

    method: str
    content_type: str | None = None
    content: str | None = None
    headers: dict[str, str] | None = None


class Record(_Body):
    """Start, stop, pause or resume SIPREC recording of the call."""

    action: Literal["startCallRecording", "stopCallRecording", "pauseCallRecording", "resumeCallRecording"]
    type: Literal["siprec", "cloud"] | None = None
    """SIPREC (jambonz's default) or the cloud recording a ``config`` verb set up."""
    recording_id: str | None = Field(default=None, alias="recordingID")
    siprec_server_url: str | None = Field(default=None, alias="siprecServerURL")
    headers: dict[str, str] | None = None


class Dtmf(_Body):
    """DTMF digits sent to the far end as SIP INFO."""

    digit: str
    duration: int | None = None
    """Milliseconds per digit (jambonz's default: 250)."""


class ConferenceParticipantAction(_Body):
    """An action on the call as a conference participant."""

    action: Literal["tag", "untag", "coach", "uncoach", "mute", "unmute", "hold", "unhold"]
    tag: str | None = None


def _whisper(value: Any) -> Webhook | Verb | dict[str, Any]:
    # A verb (say or play) is what the API server plays into the call; a URL or a hook object
    # (what the spec describes) is a hook whose answer is played.
    if isinstance(value, Webhook):
        return value
    if isinstance(value, str):
        return Webhook(url=value)
    if isinstance(value, Mapping) and "url" in value and "verb" not in value:
        return Webhook.model_validate(value)
    (verb,) = _verb_list(value.verbs if isinstance(value, WebhookResponse) else [value])
    return verb


def _written_whisper(value: Webhook | Verb | dict[str, Any]) -> Any:
    if isinstance(value, Webhook):
        return value  # written by its own serializer
    (written,) = pydantic_core.from_json(_written_verbs([value]))
    return written


Whisper = Annotated[
    Webhook | Verb | dict[str, Any],
    PlainValidator(_whisper, json_schema_input_type=Webhook | dict[str, Any]),
    PlainSerializer(_written_whisper, return_type=Any),
]
"""A verb played into the call, or a hook whose answer is played."""


class UpdateCall(_Body):
    """``POST /Accounts/{AccountSid}/Calls/{CallSid}``: change a call in progress."""

    call_hook: Webhook | None = None
    """Redirect: the call's verbs are replaced by what this hook answers."""
    child_call_hook: Webhook | None = None
    call_status: Literal["completed", "no-answer"] | None = None
    conf_mute_status: Literal["mute", "unmute"] | None = None
    conf_hold_status: Literal["hold", "unhold"] | None = None
    listen_status: Literal["pause", "silence", "resume"] | None = None
    mute_status: Literal["mute", "unmute"] | None = None
    whisper: Whisper | None = None
    """A verb to play into the call (``Say(text=...)``, a dict), or a hook whose answer is played."""
    sip_request: SipRequest | None = None
    record: Record | None = None
    conference_participant_action: ConferenceParticipantAction | None = Field(
        default=None, alias="conferenceParticipantAction"
    )
    # Beyond the published spec: what jambonz-api-server's validateUpdateCall also passes on to
    # the feature server, which acts on it (fs 0.9.8 CallSession.updateCall).
    transcribe_status: Literal["pause", "resume"] | None = None
    dtmf: Dtmf | None = None
    tag: dict[str, Any] | None = None
    """Data attached to the call (its ``customerData`` in later hooks)."""
    dub: dict[str, Any] | None = None
    """A ``dub`` verb's properties, run at once."""
    boost_audio_signal: int | str | None = Field(default=None, alias="boostAudioSignal")
    media_path: Literal["no-media", "partial-media", "full-media"] | None = None

    @field_validator("call_hook", "child_call_hook", mode="before")
    @classmethod
    def _hooks(cls, value: Any) -> Any:
        return _webhook(value)

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if not any(getattr(self, name) is not None for name in type(self).model_fields):
            raise ValueError("an update needs at least one field")
        return self


class Message(_Body):
    """``POST /Accounts/{AccountSid}/Messages``: an SMS."""

    from_: str = Field(alias="from")
    to: str
    text: str | None = None
    media: str | None = None
    provider: str | None = None


class _Answer(BaseModel):
    """What the API answers: unknown fields kept (the server adds fields over time)."""

    model_config = ConfigDict(extra="allow", validate_by_name=True, validate_by_alias=True, defer_build=True)


class Call(_Answer):
    """A call as ``GET /Accounts/{AccountSid}/Calls[/{CallSid}]`` describes it."""

    call_sid: str
    account_sid: str | None = None
    application_sid: str | None = None
    call_id: str | None = None
    call_status: str | None = None
    caller_name: str | None = None
    direction: str | None = None
    duration: int | None = None
    from_: str | None = Field(default=None, alias="from")
    to: str | None = None
    originating_sip_trunk_name: str | None = None
    parent_call_sid: str | None = None
    service_url: str | None = None
    sip_status: int | None = None


class MessageResult(_Answer):
    """The answer to a new message."""

    sid: str
    provider_response: str | None = Field(default=None, alias="providerResponse")


class Queue(_Answer):
    """An active queue of the account."""

    name: str | None = None
    length: int | None = None
