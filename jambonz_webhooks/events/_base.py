"""What the event models share: the base of their nested objects, and of payloads without call info."""

from __future__ import annotations

from pydantic import BaseModel

from ..payload import PAYLOAD_CONFIG, CallInfo

__all__ = ["Detail", "Number", "WithoutCallInfo"]

# Lax, unlike the verbs' Number: a query string carries numbers as text. JSON bodies are
# validated strictly anyway, so "10" is still refused there.
Number = int | float


class Detail(BaseModel):
    """A nested object of a payload; like the payloads, it keeps the keys it does not name."""

    # Built when first used (or by payload.prepare): an app reads few of the events.
    model_config = PAYLOAD_CONFIG


class WithoutCallInfo(CallInfo):
    """A payload jambonz sends without the call information, so ``call_sid`` may be missing."""

    # jambonz sends these (sip:refer eventHook, verb status, websocket events) as bare objects.
    call_sid: str | None = None  # type: ignore[assignment]
