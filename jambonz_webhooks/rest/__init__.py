"""A typed client of jambonz's REST API, sync and async, for live call control.

- :class:`JambonzClient` and :class:`AsyncJambonzClient`: ``client.calls``, ``client.conferences``,
  ``client.queues``, ``client.messages``;
- ``call.client`` inside a hook (a :class:`CallControl` for the call being answered), through
  the app's own client (:class:`ApiAccess`: where the API key may be sent);
- the request and answer models of ``models``; the exceptions of ``errors``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .access import ApiAccess, UntrustedAddressError
    from .call import CallControl
    from .client import AsyncJambonzClient, JambonzClient
    from .errors import (
        APIConnectionError,
        APIError,
        APIStatusError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        NotFoundError,
        ServerError,
        UnprocessableEntityError,
    )
    from .models import (
        CallRecord,
        ConferenceParticipantAction,
        CreateCall,
        CreateCallFields,
        CreateMessage,
        CreateMessageFields,
        DtmfCommand,
        Queue,
        RecordCommand,
        SentMessage,
        SipRequestCommand,
        UpdateCall,
        UpdateCallFields,
    )
    from .settings import api_base

# Each name is loaded from its module when first used: an app imports this package when it
# starts (to know where the API key may go), and the client (httpx2, the models) costs a few MB
# that an app which never calls the API should not pay.
_WHERE: dict[str, str] = {
    "APIConnectionError": "errors",
    "APIError": "errors",
    "APIStatusError": "errors",
    "APITimeoutError": "errors",
    "ApiAccess": "access",
    "AsyncJambonzClient": "client",
    "AuthenticationError": "errors",
    "BadRequestError": "errors",
    "CallControl": "call",
    "CallRecord": "models",
    "ConferenceParticipantAction": "models",
    "CreateCall": "models",
    "CreateCallFields": "models",
    "CreateMessage": "models",
    "CreateMessageFields": "models",
    "DtmfCommand": "models",
    "JambonzClient": "client",
    "NotFoundError": "errors",
    "Queue": "models",
    "RecordCommand": "models",
    "SentMessage": "models",
    "ServerError": "errors",
    "SipRequestCommand": "models",
    "UnprocessableEntityError": "errors",
    "UntrustedAddressError": "access",
    "UpdateCall": "models",
    "UpdateCallFields": "models",
    "api_base": "settings",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "ApiAccess",
    "AsyncJambonzClient",
    "AuthenticationError",
    "BadRequestError",
    "CallControl",
    "CallRecord",
    "ConferenceParticipantAction",
    "CreateCall",
    "CreateCallFields",
    "CreateMessage",
    "CreateMessageFields",
    "DtmfCommand",
    "JambonzClient",
    "NotFoundError",
    "Queue",
    "RecordCommand",
    "SentMessage",
    "ServerError",
    "SipRequestCommand",
    "UnprocessableEntityError",
    "UntrustedAddressError",
    "UpdateCall",
    "UpdateCallFields",
    "api_base",
]
