"""The request and response bodies of jambonz's REST API, as its swagger.yaml defines them.

Field names are the API's own, which mix styles (``call_hook``, ``timeLimit``); the Python
names are snake_case and both spellings are accepted.

Hooks (a path, a URL, a handler, a :class:`~jambonz_webhooks.HookObject`) and verbs are
validated when a body is made and written out when it is encoded to be sent, by
:func:`~jambonz_webhooks.hooks.write_hook` as an answer's verbs are: with the mount prefix of the
app whose request is being answered, if any.

A request body's fields are also written as a ``TypedDict`` (:class:`CreateCallFields`, ...), what
the client's keyword arguments are checked against by a type checker; a test keeps each one's
keys equal to its model's fields.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, Required, Self, TypeAlias, TypedDict

import pydantic_core
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    model_validator,
)

from ..hooks import (
    NO_CONTEXT,
    HookContext,
    HookObject,
    UnroutedHandlerError,
    current_context,
    encoding_hook,
    keep_unrouted,
    validate_hook,
)
from ..response import WebhookResponse, collect_verbs, encode_verbs
from ..verbs import Amd, Target, Verb

__all__ = [
    "CallRecord",
    "ConferenceParticipantAction",
    "CreateCall",
    "CreateCallFields",
    "CreateMessage",
    "CreateMessageFields",
    "DtmfCommand",
    "Queue",
    "RecordCommand",
    "SentMessage",
    "SipRequestCommand",
    "UpdateCall",
    "UpdateCallFields",
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


def _api_hook(value: Any) -> HookObject:
    # A URL, a path or a handler alone is the url of a hook object.
    hook = validate_hook(value)
    hook = hook if isinstance(hook, HookObject) else HookObject(url=hook)
    if isinstance(hook.url, type):
        raise ValueError("a hook's url is a URL, a path or a handler of this app")
    if hook.basic_auth is not None:
        # The API's hook object has no basicAuth: its credentials are username and password.
        raise ValueError("a REST API hook takes username and password, not basic_auth")
    return hook


def _is_absolute(url: object) -> bool:
    return isinstance(url, str) and url.split("://", 1)[0].lower() in ("http", "https", "ws", "wss")


def _written_hook(hook: HookObject) -> dict[str, Any]:
    written = encoding_hook(hook, _sending_context())
    data = {"url": written} if isinstance(written, str) else written
    if "method" in data:
        data["method"] = data["method"].lower()  # the spec's enum is lower case
    return data


if TYPE_CHECKING:
    ApiHook: TypeAlias = str | HookObject | Mapping[str, Any] | Callable[..., Any]
else:
    ApiHook = Annotated[
        HookObject,
        PlainValidator(_api_hook, json_schema_input_type=str | HookObject),
        PlainSerializer(_written_hook, return_type=dict[str, Any]),
    ]
"""A hook the API server gives the call: a URL, a path or a handler of the app, or a
:class:`~jambonz_webhooks.HookObject` (or its dict) with a method or credentials.

Sent as the API's hook object ``{url, method, username, password}``. For a call in progress
jambonz resolves a path against the origin of the call's own hook, so inside a request of an
app mounted under a prefix, a path or a handler is written with that prefix, as the app's verbs
are; a new call's ``call_hook`` wants a URL (the feature server makes the call's HTTP client
from it: ``lib/http-routes/api/create-call.js``). A retry policy is written into the URL's
fragment, as in a verb.
"""


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


_CallStatus: TypeAlias = Literal["completed", "no-answer"]
_MuteStatus: TypeAlias = Literal["mute", "unmute"]
_HoldStatus: TypeAlias = Literal["hold", "unhold"]
_ListenStatus: TypeAlias = Literal["pause", "silence", "resume"]
_TranscribeStatus: TypeAlias = Literal["pause", "resume"]
_MediaPath: TypeAlias = Literal["no-media", "partial-media", "full-media"]
_Verbs: TypeAlias = WebhookResponse | Sequence[Verb | Mapping[str, Any]]


class CreateCall(_Body):
    """``POST /Accounts/{AccountSid}/Calls``: an outbound call, run by a hook or by verbs given now."""

    from_: str = Field(alias="from")
    to: Target
    call_hook: ApiHook | None = None
    call_status_hook: ApiHook | None = None
    application_sid: str | None = None
    app_json: VerbList | None = None
    """Verbs to run instead of a call hook: a :class:`~jambonz_webhooks.WebhookResponse` or a list."""
    answer_on_bridge: bool | None = Field(default=None, alias="answerOnBridge")
    from_host: str | None = Field(default=None, alias="fromHost")
    timeout: int | None = None
    time_limit: int | None = Field(default=None, alias="timeLimit")
    tag: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    sip_request_within_dialog_hook: str | None = Field(default=None, alias="sipRequestWithinDialogHook")
    # Beyond the published spec: the feature server reads these from the body it is given
    # (lib/tasks/rest_dial.js, lib/http-routes/api/create-call.js; schema verbs/rest_dial).
    amd: Amd | None = None
    """Answering-machine detection from the answer on; its events go to ``amd.action_hook``."""
    caller_name: str | None = Field(default=None, alias="callerName")
    """The caller's display name on the outbound INVITE."""
    refer_hook: ApiHook | None = Field(default=None, alias="referHook")
    """Where a REFER the called party sends goes."""
    dual_streams: bool | None = None
    """Record or stream each leg's audio apart."""

    @model_validator(mode="after")
    def _runnable(self) -> Self:
        if self.call_hook is None and self.application_sid is None and self.app_json is None:
            raise ValueError("a call needs call_hook, application_sid or app_json")
        for name in ("call_hook", "call_status_hook"):
            hook: HookObject | None = getattr(self, name)
            if hook is not None and not _is_absolute(hook.url):
                # The feature server makes the new call's HTTP client from this URL
                # (create-call.js); a path or a handler has no address to resolve against.
                raise ValueError(
                    f"{name}: a new call's hook is an absolute URL (https://... or wss://...), "
                    "not a path or a handler: jambonz has no call yet to resolve it against"
                )
        return self


class CreateCallFields(TypedDict, total=False):
    """:class:`CreateCall`'s fields as keyword arguments (``client.calls.create(...)``)."""

    from_: Required[str]
    to: Required[Target | Mapping[str, Any]]
    call_hook: ApiHook | None
    call_status_hook: ApiHook | None
    application_sid: str | None
    app_json: _Verbs | None
    answer_on_bridge: bool | None
    from_host: str | None
    timeout: int | None
    time_limit: int | None
    tag: Mapping[str, Any] | None
    headers: Mapping[str, str] | None
    sip_request_within_dialog_hook: str | None
    amd: Amd | Mapping[str, Any] | None
    caller_name: str | None
    refer_hook: ApiHook | None
    dual_streams: bool | None


class SipRequestCommand(_Body):
    """A SIP request to send within the call's dialog (INFO, NOTIFY, ...): ``UpdateCall.sip_request``."""

    method: str
    content_type: str | None = None
    content: str | None = None
    headers: dict[str, str] | None = None


class RecordCommand(_Body):
    """Start, stop, pause or resume recording the call: ``UpdateCall.record``."""

    action: Literal["startCallRecording", "stopCallRecording", "pauseCallRecording", "resumeCallRecording"]
    type: Literal["siprec", "cloud"] | None = None
    """SIPREC (jambonz's default) or the cloud recording a ``config`` verb set up."""
    recording_id: str | None = Field(default=None, alias="recordingID")
    siprec_server_url: str | None = Field(default=None, alias="siprecServerURL")
    headers: dict[str, str] | None = None


class DtmfCommand(_Body):
    """DTMF digits sent to the far end as SIP INFO: ``UpdateCall.dtmf``."""

    digit: str
    duration: int | None = None
    """Milliseconds per digit (jambonz's default: 250)."""


class ConferenceParticipantAction(_Body):
    """An action on the call as a conference participant."""

    action: Literal["tag", "untag", "coach", "uncoach", "mute", "unmute", "hold", "unhold"]
    tag: str | None = None


def _whisper(value: Any) -> HookObject | Verb | dict[str, Any]:
    # A verb (say or play) is what the API server plays into the call; a URL or a hook object
    # (what the spec describes) is a hook whose answer is played.
    if isinstance(value, HookObject | str) or (
        isinstance(value, Mapping) and "url" in value and "verb" not in value
    ):
        return _api_hook(value)
    (verb,) = _verb_list(value.verbs if isinstance(value, WebhookResponse) else [value])
    return verb


def _written_whisper(value: HookObject | Verb | dict[str, Any]) -> Any:
    if isinstance(value, HookObject):
        return _written_hook(value)
    (written,) = pydantic_core.from_json(_written_verbs([value]))
    return written


Whisper = Annotated[
    HookObject | Verb | dict[str, Any],
    PlainValidator(_whisper, json_schema_input_type=HookObject | dict[str, Any]),
    PlainSerializer(_written_whisper, return_type=Any),
]
"""A verb played into the call, or a hook whose answer is played."""


class UpdateCall(_Body):
    """``POST /Accounts/{AccountSid}/Calls/{CallSid}``: change a call in progress."""

    call_hook: ApiHook | None = None
    """Redirect: the call's verbs are replaced by what this hook answers."""
    child_call_hook: ApiHook | None = None
    call_status: _CallStatus | None = None
    conf_mute_status: _MuteStatus | None = None
    conf_hold_status: _HoldStatus | None = None
    listen_status: _ListenStatus | None = None
    mute_status: _MuteStatus | None = None
    whisper: Whisper | None = None
    """A verb to play into the call (``Say(text=...)``, a dict), or a hook whose answer is played."""
    sip_request: SipRequestCommand | None = None
    record: RecordCommand | None = None
    conference_participant_action: ConferenceParticipantAction | None = Field(
        default=None, alias="conferenceParticipantAction"
    )
    # Beyond the published spec: what jambonz-api-server's validateUpdateCall also passes on to
    # the feature server, which acts on it (fs 0.9.8 CallSession.updateCall).
    transcribe_status: _TranscribeStatus | None = None
    dtmf: DtmfCommand | None = None
    tag: dict[str, Any] | None = None
    """Data attached to the call (its ``customerData`` in later hooks)."""
    dub: dict[str, Any] | None = None
    """A ``dub`` verb's properties, run at once."""
    boost_audio_signal: int | str | None = Field(default=None, alias="boostAudioSignal")
    media_path: _MediaPath | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if not any(getattr(self, name) is not None for name in type(self).model_fields):
            raise ValueError("an update needs at least one field")
        return self


class UpdateCallFields(TypedDict, total=False):
    """:class:`UpdateCall`'s fields as keyword arguments (``client.calls.update(sid, ...)``)."""

    call_hook: ApiHook | None
    child_call_hook: ApiHook | None
    call_status: _CallStatus | None
    conf_mute_status: _MuteStatus | None
    conf_hold_status: _HoldStatus | None
    listen_status: _ListenStatus | None
    mute_status: _MuteStatus | None
    whisper: Verb | ApiHook | WebhookResponse | None
    sip_request: SipRequestCommand | Mapping[str, Any] | None
    record: RecordCommand | Mapping[str, Any] | None
    conference_participant_action: ConferenceParticipantAction | Mapping[str, Any] | None
    transcribe_status: _TranscribeStatus | None
    dtmf: DtmfCommand | Mapping[str, Any] | None
    tag: Mapping[str, Any] | None
    dub: Mapping[str, Any] | None
    boost_audio_signal: int | str | None
    media_path: _MediaPath | None


class CreateMessage(_Body):
    """``POST /Accounts/{AccountSid}/Messages``: an SMS."""

    from_: str = Field(alias="from")
    to: str
    text: str | None = None
    media: str | None = None
    provider: str | None = None


class CreateMessageFields(TypedDict, total=False):
    """:class:`CreateMessage`'s fields as keyword arguments (``client.messages.create(...)``)."""

    from_: Required[str]
    to: Required[str]
    text: str | None
    media: str | None
    provider: str | None


class _Answer(BaseModel):
    """What the API answers: unknown fields kept (the server adds fields over time)."""

    model_config = ConfigDict(extra="allow", validate_by_name=True, validate_by_alias=True, defer_build=True)


class CallRecord(_Answer):
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


class SentMessage(_Answer):
    """The answer to a new message."""

    sid: str
    provider_response: str | None = Field(default=None, alias="providerResponse")


class Queue(_Answer):
    """An active queue of the account."""

    name: str | None = None
    length: int | None = None
