"""The request and response bodies of jambonz's REST API, as its swagger.yaml defines them.

Field names are the API's own, which mix styles (``call_hook``, ``timeLimit``); the Python
names are snake_case and both spellings are accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Self

import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator, model_validator

from ..hooks import current_context
from ..response import Response, collect_verbs
from ..verbs import Target

__all__ = [
    "Call",
    "ConferenceParticipantAction",
    "CreateCall",
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
        extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )


class Webhook(_Body):
    """A hook the API server gives the call: ``{url, method, username, password}``.

    A relative path (``/menu``) is resolved by jambonz against the call's application URL.
    """

    url: str
    method: Literal["get", "post"] | None = None
    username: str | None = None
    password: str | None = None

    @field_validator("method", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value  # the spec's enum is lower case


def _webhook(value: Any) -> Any:
    # A URL, a path or a handler, alone or as a hook object's url. Inside a request, a path or a
    # handler is written as verbs write it: with the mount prefix (jambonz resolves a relative
    # hook against the host only).
    if isinstance(value, Mapping) and "url" in value:
        return {**value, "url": _url(value["url"])}
    if isinstance(value, str) or (callable(value) and not isinstance(value, type)):
        return {"url": _url(value)}
    return value


def _url(hook: Any) -> Any:
    context = current_context.get()
    if context is not None and (isinstance(hook, str) or callable(hook)):
        return context.resolve(hook)
    if callable(hook) and not isinstance(hook, str):
        raise ValueError("a handler names a hook only inside a request of its app: give its URL")
    return hook


def _verb_dicts(verbs: Any) -> list[dict[str, Any]]:
    """Verbs (a Response, models or dicts) validated and written as jambonz reads them."""
    if isinstance(verbs, str | bytes):
        raise ValueError("verbs are a Response or a list of verbs, not JSON text")
    try:
        response = verbs if isinstance(verbs, Response) else Response(collect_verbs(verbs))
    except TypeError as exc:  # not verbs at all: a validation error like any other
        raise ValueError(str(exc)) from None
    return response.to_list(current_context.get())


def _json_text(verbs: list[dict[str, Any]]) -> str:
    return pydantic_core.to_json(verbs).decode()


class CreateCall(_Body):
    """``POST /Accounts/{AccountSid}/Calls``: an outbound call, run by a hook or by verbs given now."""

    from_: str = Field(alias="from")
    to: Target
    call_hook: Webhook | None = None
    call_status_hook: Webhook | None = None
    application_sid: str | None = None
    app_json: Annotated[list[dict[str, Any]], PlainSerializer(_json_text, return_type=str)] | None = None
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

    @field_validator("app_json", mode="before")
    @classmethod
    def _verbs(cls, value: Any) -> Any:
        # Each verb validated now, by our models, rather than by the API server later.
        return None if value is None else _verb_dicts(value)

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
    recording_id: str | None = Field(default=None, alias="recordingID")
    siprec_server_url: str | None = Field(default=None, alias="siprecServerURL")


class ConferenceParticipantAction(_Body):
    """An action on the call as a conference participant."""

    action: Literal["tag", "untag", "coach", "uncoach", "mute", "unmute", "hold", "unhold"]
    tag: str | None = None


def _whisper(value: Any) -> Any:
    # A verb (say or play) is what the API server plays into the call; a URL or a hook object
    # (what the spec describes) is a hook whose answer is played.
    if isinstance(value, str):
        return Webhook(url=value)
    if isinstance(value, Mapping) and "url" in value and "verb" not in value:
        return Webhook.model_validate(value)
    if value is None or isinstance(value, Webhook):
        return value
    (verb,) = _verb_dicts([value] if not isinstance(value, Response) else value)
    return verb


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
    whisper: Webhook | dict[str, Any] | None = None
    """A verb to play into the call (``Say(text=...)``, a dict), or a hook whose answer is played."""
    sip_request: SipRequest | None = None
    record: Record | None = None
    conference_participant_action: ConferenceParticipantAction | None = Field(
        default=None, alias="conferenceParticipantAction"
    )

    @field_validator("call_hook", "child_call_hook", mode="before")
    @classmethod
    def _hooks(cls, value: Any) -> Any:
        return _webhook(value)

    @field_validator("whisper", mode="before")
    @classmethod
    def _whispers(cls, value: Any) -> Any:
        return _whisper(value)

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

    model_config = ConfigDict(extra="allow", validate_by_name=True, validate_by_alias=True)


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
