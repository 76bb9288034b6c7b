"""Verbs that speak SIP directly: ``sip:decline``, ``sip:refer``, ``sip:request``."""

from typing import ClassVar, Literal

from ..hooks import HookRef
from ._base import Verb
from .components import Number

__all__ = ["SipDecline", "SipRefer", "SipRequest"]


class SipDecline(Verb):
    """Refuse an incoming call with a SIP error status (486, 603, ...) and an optional reason phrase."""

    schema_id: ClassVar[str] = "verbs/sip-decline"

    verb_name: ClassVar[str] = "sip:decline"
    verb: Literal["sip:decline"] = "sip:decline"
    id: str | None = None
    status: Number
    reason: str | None = None
    headers: dict[str, str | Number] | None = None


class SipRefer(Verb):
    """Transfer the call away by sending the far end a SIP REFER to ``refer_to``.

    ``event_hook`` receives the NOTIFY progress; ``action_hook`` the final outcome.
    """

    schema_id: ClassVar[str] = "verbs/sip-refer"

    verb_name: ClassVar[str] = "sip:refer"
    verb: Literal["sip:refer"] = "sip:refer"
    id: str | None = None
    refer_to: str
    referred_by: str | None = None
    referred_by_display_name: str | None = None
    headers: dict[str, str | Number] | None = None
    action_hook: HookRef | None = None
    event_hook: HookRef | None = None


class SipRequest(Verb):
    """Send an in-dialog SIP request (INFO, NOTIFY, MESSAGE, ...) on the current call."""

    schema_id: ClassVar[str] = "verbs/sip-request"

    verb_name: ClassVar[str] = "sip:request"
    verb: Literal["sip:request"] = "sip:request"
    id: str | None = None
    method: str
    body: str | None = None
    headers: dict[str, str | Number] | None = None
    action_hook: HookRef | None = None
