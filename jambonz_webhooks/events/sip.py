"""Payloads of the SIP verbs: ``sip:refer`` outcome and progress, ``sip:request`` outcome."""

from typing import ClassVar, Literal

from ..payload import CallInfo
from ._base import WithoutCallInfo

__all__ = ["SipReferEvent", "SipReferResult", "SipRequestOutcome", "SipRequestResult"]

SipRequestOutcome = Literal["success", "failed"]


class SipReferResult(CallInfo):
    """The outcome of a ``sip:refer``: the REFER's answer, then the referred call's final status."""

    schema_id: ClassVar[str] = "callbacks/sip-refer"

    refer_status: int
    final_referred_call_status: int | None = None


class SipReferEvent(WithoutCallInfo):
    """Progress of a ``sip:refer`` (its ``eventHook``), from the NOTIFYs of the far end.

    jambonz sends it without the call information, and ``call_status`` here is a SIP status
    code (180, 200, ...), not the call's status.
    """

    schema_id: ClassVar[str] = "callbacks/sip-refer-event"

    event: Literal["transfer-status"] | str
    call_status: int  # type: ignore[assignment]


class SipRequestResult(CallInfo):
    """The outcome of a ``sip:request``: the far end's SIP status, or the error."""

    schema_id: ClassVar[str] = "callbacks/sip-request"

    result: SipRequestOutcome | str
    sip_status: int | None = None
    err: str | None = None
