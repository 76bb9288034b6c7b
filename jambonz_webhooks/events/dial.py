"""Payloads of ``dial`` and ``transfer``: outcomes, digits and holds during the call, REFERs, AMD."""

from typing import ClassVar, Literal

from pydantic import Field

from ..payload import CallInfo
from ._base import Detail, Number

__all__ = [
    "AmdEvent",
    "AmdType",
    "DialCallStatus",
    "DialDtmf",
    "DialHold",
    "DialRefer",
    "DialResult",
    "HoldDetail",
    "ReferDetails",
    "TransferOutcome",
    "TransferReason",
    "TransferResult",
]

DialCallStatus = Literal[
    "completed", "failed", "busy", "no-answer", "trying", "ringing", "early-media", "in-progress"
]
AmdType = Literal[
    "amd_human_detected",
    "amd_machine_detected",
    "amd_no_speech_detected",
    "amd_decision_timeout",
    "amd_machine_stopped_speaking",
    "amd_tone_detected",
    "amd_tone_timeout",
    "amd_error",
    "amd_stopped",
]
TransferOutcome = Literal["bridged", "returned", "voicemail", "failed"]
TransferReason = Literal["completed", "no-answer", "busy", "declined", "caller-abandoned", "error"]


class DialResult(CallInfo):
    """The outcome of a ``dial``: how the dialed leg ended."""

    schema_id: ClassVar[str] = "callbacks/dial"

    dial_call_status: DialCallStatus | str | None = None
    dial_sip_status: int | None = None
    dial_call_sid: str | None = None
    dial_sbc_callid: str | None = None


class DialDtmf(CallInfo):
    """Digits matching the ``dtmfCapture`` pattern of a ``dial``, pressed during the bridged call."""

    schema_id: ClassVar[str] = "callbacks/dial-dtmf"

    dtmf: str


class HoldDetail(Detail):
    """The SIP parties of a hold."""

    from_: str | None = Field(default=None, alias="from")
    to: str | None = None


class DialHold(CallInfo):
    """The far end put the dialed call on hold; answer with what the caller hears meanwhile."""

    schema_id: ClassVar[str] = "callbacks/dial-hold"

    hold_detail: HoldDetail


class ReferDetails(Detail):
    """A SIP REFER received during a ``dial``; its X- headers come as extra snake_cased keys."""

    sip_refer_to: str | None = None
    refer_to_user: str | None = None
    sip_referred_by: str | None = None
    referred_by_user: str | None = None
    sip_user_agent: str | None = None
    referring_call_sid: str | None = None
    referred_call_sid: str | None = None


class DialRefer(CallInfo):
    """A SIP REFER arrived during a ``dial`` (its ``referHook``); answer with the verbs to run."""

    schema_id: ClassVar[str] = "callbacks/dial-refer"

    refer_details: ReferDetails


class AmdEvent(CallInfo):
    """An answering machine detection event; a call may get several (machine, then its beep)."""

    schema_id: ClassVar[str] = "callbacks/amd"

    type: AmdType | str
    reason: str | None = None
    """Why jambonz decided (a short greeting, a hint, ...), on human and machine events."""
    greeting: str | None = None
    hint: str | None = None
    language: str | None = None
    frequency: Number | None = None
    """Hz of the beep, on ``amd_tone_detected``."""
    variance: Number | None = None


class TransferResult(CallInfo):
    """The outcome of a ``transfer``: bridged, handed back, sent to voicemail or failed, and why."""

    schema_id: ClassVar[str] = "callbacks/transfer"

    transfer_result: TransferOutcome | str | None = None
    transfer_reason: TransferReason | str | None = None
    dial_call_sid: str | None = None
    sip_status: int | None = None
