"""What jambonz sends after the call hook: verb results and call status changes.

Each model carries the call information too (:class:`~jambonz_webhooks.payload.CallInfo`)
and keeps keys it does not name.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from .payload import CallInfo, CallStatusValue, Direction

__all__ = [
    "FINAL_CALL_STATUSES",
    "CallStatus",
    "DialCallStatus",
    "DialResult",
    "GatherReason",
    "GatherResult",
    "SpeechAlternative",
    "SpeechResult",
    "SpeechVendor",
]

GatherReason = Literal["speechDetected", "dtmfDetected", "timeout", "error", "stt-low-confidence"]
DialCallStatus = Literal[
    "completed", "failed", "busy", "no-answer", "trying", "ringing", "early-media", "in-progress"
]

FINAL_CALL_STATUSES: frozenset[str] = frozenset({"completed", "failed", "busy", "no-answer"})
"""Call statuses after which jambonz sends nothing more for the call."""


class _Part(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class SpeechAlternative(_Part):
    """One reading of what the caller said."""

    transcript: str | None = None
    confidence: float | None = None


class SpeechVendor(_Part):
    """The speech vendor's own data about a result."""

    name: str | None = None
    evt: dict[str, Any] | list[dict[str, Any]] | None = None


class SpeechResult(_Part):
    """A speech recognition result."""

    is_final: bool | None = None
    alternatives: list[SpeechAlternative] = []
    language_code: str | None = None
    channel_tag: int | None = None
    vendor: SpeechVendor | None = None

    @property
    def transcript(self) -> str | None:
        """The most likely transcript, or None when there is none."""
        return self.alternatives[0].transcript if self.alternatives else None


class GatherResult(CallInfo):
    """The outcome of a ``gather``: digits pressed, speech heard, a timeout or an error."""

    schema_id: ClassVar[str] = "callbacks/gather"

    # Open enums: jambonz adds values over time, and a 422 would leave the caller in silence.
    reason: GatherReason | str | None = None
    digits: str | None = None
    speech: SpeechResult | None = None
    details: dict[str, Any] | None = None

    @property
    def transcript(self) -> str | None:
        """The most likely transcript of the caller's speech, if any."""
        return self.speech.transcript if self.speech is not None else None


class DialResult(CallInfo):
    """The outcome of a ``dial``: how the dialed leg ended."""

    schema_id: ClassVar[str] = "callbacks/dial"

    dial_call_status: DialCallStatus | str | None = None
    dial_sip_status: int | None = None
    dial_call_sid: str | None = None
    dial_sbc_callid: str | None = None


class CallStatus(CallInfo):
    """A change of call status, sent to the ``call_status_hook``."""

    schema_id: ClassVar[str] = "callbacks/call-status"

    call_status: CallStatusValue | str | None = None
    direction: Direction | None = None
    call_termination_by: Literal["caller", "jambonz"] | str | None = None
    duration: int | None = None

    @property
    def is_final(self) -> bool:
        """True when the call is over (completed, failed, busy or no-answer)."""
        return self.call_status in FINAL_CALL_STATUSES
