"""CallSession: the call as jambonz describes it in the call hook, field for field.

It mirrors the ``CallSession`` interface of jambonz's own SDK, with one field less required:
``application_sid``, which a call created through the REST API without an application does not
carry. ``env_vars`` and ``sip`` come with the first hook of a call only (@jambonz/schema
``callbacks/session-new.schema.json``; npm @jambonz/sdk ``AGENTS.md`` on env vars).
"""

from typing import Any, ClassVar

from pydantic import BaseModel, Field

from .payload import PAYLOAD_CONFIG, CallInfo, Direction

__all__ = [
    "CallSession",
    "LaterCallSession",
    "RecognizerDefaults",
    "SessionDefaults",
    "SipInvite",
    "SynthesizerDefaults",
]


class _Part(BaseModel):
    model_config = PAYLOAD_CONFIG


class SipInvite(_Part):
    """The SIP INVITE that started the call (keys kept as jambonz sends them, not snake_cased)."""

    headers: dict[str, str]
    body: str | None = None
    method: str | None = None
    uri: str | None = None
    called_number: str | None = Field(default=None, alias="calledNumber")
    calling_number: str | None = Field(default=None, alias="callingNumber")
    protocol: str | None = None
    source_address: str | None = None
    source_port: str | int | None = None


class SynthesizerDefaults(_Part):
    """The account's default text-to-speech settings."""

    vendor: str | None = None
    language: str | None = None
    voice: str | None = None


class RecognizerDefaults(_Part):
    """The account's default speech-to-text settings."""

    vendor: str | None = None
    language: str | None = None


class SessionDefaults(_Part):
    """Default speech settings of the account."""

    synthesizer: SynthesizerDefaults | None = None
    recognizer: RecognizerDefaults | None = None


class CallSession(CallInfo):
    """A call, as the call hook describes it.

    Required are the fields jambonz always sends: ``call_sid``, ``account_sid``, ``direction``,
    ``from_`` (JSON ``from``), ``to``, ``call_id`` and ``sip_status`` (jambonz-feature-server
    0.9.8 ``lib/session/call-info.js``: every kind of call sets them; ``from_`` and ``to`` may be
    empty text). ``application_sid`` is None for a call created through the REST API with an
    inline ``call_hook`` and no application (``lib/http-routes/api/create-call.js``), and for the
    dialed legs of such a call. Any other key jambonz sends is kept (see :meth:`get`).

    On a hook after the call hook (an action or status hook), a ``CallSession`` parameter gets
    the session kept from the call hook (its SIP INVITE and env vars included), updated with the
    fields of the hook's own payload: see ``docs/hooks-and-injection.md``.

    Ask for it in a handler by annotation::

        @app.call_hook("/incoming")
        async def incoming(call: CallSession) -> WebhookResponse:
            return WebhookResponse().say(text=f"You called {call.to}")
    """

    schema_id: ClassVar[str] = "callbacks/session-new"

    call_sid: str
    account_sid: str
    application_sid: str | None = None
    direction: Direction
    from_: str = Field(alias="from")
    to: str
    call_id: str
    sip_status: int
    caller_name: str | None = None
    caller_id: str | None = None
    service_provider_sid: str | None = None
    parent_call_sid: str | None = None
    fs_sip_address: str | None = None
    fs_public_ip: str | None = None
    sip: SipInvite | None = None
    env_vars: dict[str, Any] | None = None
    defaults: SessionDefaults | None = None


class LaterCallSession(CallSession):
    """A :class:`CallSession` as a hook after the call hook reads it: only ``call_sid`` required.

    Such a hook (an enqueue ``waitHook``, a ``sip:refer`` event, ...) may carry little of the
    call: what it lacks comes from the session kept from the call hook
    (:func:`~jambonz_webhooks.injection.kept_session`), so the payload is not refused for it.
    """

    account_sid: str | None = None  # type: ignore[assignment]
    direction: Direction | None = None  # type: ignore[assignment]
    from_: str | None = Field(default=None, alias="from")  # type: ignore[assignment]
    to: str | None = None  # type: ignore[assignment]
    call_id: str | None = None  # type: ignore[assignment]
    sip_status: int | None = None  # type: ignore[assignment]
