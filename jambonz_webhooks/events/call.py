"""Payloads about the call itself: status changes, redirects and reconnects, verb lifecycle events."""

from typing import Any, ClassVar, Literal

from ..payload import CallInfo, CallStatusValue, Direction, sip_header
from ..session import CallSession
from ._base import Number, WithoutCallInfo

__all__ = [
    "FINAL_CALL_STATUSES",
    "CallStatus",
    "CallTerminationBy",
    "JambonzError",
    "SessionReconnect",
    "SessionRedirect",
    "VerbEvent",
    "VerbStatus",
]

CallTerminationBy = Literal["caller", "jambonz"]
VerbEvent = Literal[
    "starting",
    "finished",
    "start-playback",
    "stop-playback",
    "kill-playback",
    "dtmf-bargein-detected",
    "speech-bargein-detected",
    "synthesized-audio",
]

FINAL_CALL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "busy", "no-answer"})
"""Call statuses after which jambonz sends nothing more for the call."""


class CallStatus(CallInfo):
    """A change of call status, sent to the ``call_status_hook`` (for both legs of a dial).

    ``direction`` tells the legs apart: ``outbound`` is the leg a ``dial`` placed.
    """

    schema_id: ClassVar[str] = "callbacks/call-status"

    call_status: CallStatusValue | str | None = None
    direction: Direction | None = None
    call_termination_by: CallTerminationBy | str | None = None
    """Who ended the call; on the final status only."""
    duration: int | None = None
    """Seconds the call lasted; on the final status only."""
    headers: dict[str, str] | None = None
    """The SIP headers of the BYE that ended the call, but the routing ones (Via, From, To,
    Call-ID, CSeq, Contact, ...): ``X-`` headers, ``Reason``, ``User-Agent``, ... when the far end
    hung up. jambonz snake-cases their names (``X-Reason`` arrives as ``x_reason``): read one with
    :meth:`header`. No schema describes it (fs 0.9.8 ``call-session.js`` ``_extractCustomHeaders``,
    ``call-info.js`` ``toJSON``)."""

    @property
    def is_final(self) -> bool:
        """True when the call is over (completed, failed, busy or no-answer)."""
        return self.call_status in FINAL_CALL_STATUSES

    def header(self, name: str) -> str | None:
        """The BYE's header ``name`` (``"X-Reason"``), whatever case or snake-casing it came in."""
        return sip_header(self.headers, name)


class SessionRedirect(CallInfo):
    """The call as a ``redirect`` to another application describes it (no SIP INVITE, no defaults)."""

    schema_id: ClassVar[str] = "callbacks/session-redirect"

    caller_name: str | None = None
    caller_id: str | None = None
    parent_call_sid: str | None = None
    fs_sip_address: str | None = None
    fs_public_ip: str | None = None


class SessionReconnect(CallSession):
    """The call hook payload again, replayed when a websocket application reconnects."""

    schema_id: ClassVar[str] = "callbacks/session-reconnect"


class VerbStatus(WithoutCallInfo):
    """A verb's lifecycle event (started, finished, playback, barge-in, audio synthesized)."""

    schema_id: ClassVar[str] = "callbacks/verb-status"

    event: VerbEvent | str
    verb: str | None = None
    """The verb concerned, on playback, barge-in and synthesized-audio events."""
    name: str | None = None
    """The verb concerned, on ``starting`` and ``finished`` events."""
    id: str | None = None
    vendor: str | None = None
    language: str | None = None
    characters: int | None = None
    elapsed_time: Number | None = None
    """Milliseconds the speech synthesis took."""
    served_from_cache: bool | None = None


class JambonzError(WithoutCallInfo):
    """``jambonz:error`` over WebSocket: a verb failed, or jambonz refused a message of the app.

    No schema describes it; its fields are fs 0.9.8's (lib/tasks/task.js notifyError,
    lib/utils/ws-requestor.js): ``msg`` says what (``"ASR error"``, ``"InvalidMessage"``, ...).
    """

    msg: str | None = None
    details: Any = None
    verb: str | None = None
    """The verb that failed, when a verb did."""
    id: str | None = None
    """That verb's ``id``, when it had one."""
    content: str | None = None
    """The app's message jambonz refused, as text."""
