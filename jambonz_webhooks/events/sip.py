"""Payloads of the SIP verbs and of the SIP requests the far end sends within the call.

``sip:refer`` outcome and progress, ``sip:request`` outcome, in-dialog INFO, MESSAGE and hold events.
"""

from typing import ClassVar, Literal

from ..payload import CallInfo, sip_header
from ._base import WithoutCallInfo

__all__ = [
    "HoldEvent",
    "SipReferEvent",
    "SipReferResult",
    "SipRequestOutcome",
    "SipRequestResult",
    "SipRequestWithinDialog",
]

SipRequestOutcome = Literal["success", "failed"]
HoldEvent = Literal["hold", "unhold", "reinvite"]


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


class SipRequestWithinDialog(CallInfo):
    """A SIP request the far end sent within the call, to the ``sipRequestWithinDialogHook``.

    No schema describes it; its fields are jambonz-feature-server 0.9.8's:

    - an ``INFO`` or ``MESSAGE`` (answered 200/202 by jambonz first): ``sip_method``,
      ``sip_body`` and ``sip_headers`` (``lib/session/call-session.js`` ``_onRequestWithinDialog``);
    - a re-``INVITE`` that puts the call on hold or takes it off, when jambonz runs with
      ``JAMBONES_HOLD_UNHOLD_EVENTS``: ``sip_method`` ``INVITE``, ``event`` (``hold`` or
      ``unhold``) and ``on_hold`` (``_notifyHoldState``, from the SDP's ``a=sendonly`` or
      ``a=inactive``); on a SIPREC call also ``reinvite`` events and ``siprec`` true
      (``siprec-call-session.js``), ``sip_body`` then the whole multipart body.

    The header names in ``sip_headers`` arrive snake-cased and mostly lower case (``call_id``,
    ``content_type``, ``x_foo``): read one with :meth:`header`. Verbs answered to it replace the
    call's current ones, as an action hook's do.
    """

    sip_method: Literal["INFO", "MESSAGE", "INVITE"] | str
    sip_body: str | None = None
    """The request's body (an INFO's DTMF relay or JSON, a MESSAGE's text, an INVITE's SDP)."""
    sip_headers: dict[str, str] | None = None
    event: HoldEvent | str | None = None
    """On a re-INVITE only: ``hold``, ``unhold`` (or ``reinvite`` on a SIPREC call)."""
    on_hold: bool | None = None
    """On a re-INVITE only: whether the call is now on hold."""
    siprec: bool | None = None
    """True on the re-INVITE events of a SIPREC call."""

    def header(self, name: str) -> str | None:
        """The request's header ``name`` (``"Content-Type"``), whatever case or snake-casing it came in."""
        return sip_header(self.sip_headers, name)
