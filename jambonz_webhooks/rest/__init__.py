"""A typed client of jambonz's REST API, sync and async, for live call control.

- :class:`JambonzClient` and :class:`AsyncJambonzClient`: ``client.calls``, ``client.conferences``,
  ``client.queues``, ``client.messages``;
- ``call.client`` inside a hook (a :class:`CallControl` for the call being answered), through
  the app's own client (:class:`ApiAccess`: where the API key may be sent);
- the request and answer models of ``models``; the exceptions of ``errors``.
"""

from __future__ import annotations

from .access import ApiAccess, UntrustedAddressError
from .call import CallControl
from .client import AsyncJambonzClient, JambonzClient, api_base
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
    Call,
    ConferenceParticipantAction,
    CreateCall,
    Message,
    MessageResult,
    Queue,
    Record,
    SipRequest,
    UpdateCall,
    Webhook,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "ApiAccess",
    "AsyncJambonzClient",
    "AuthenticationError",
    "BadRequestError",
    "Call",
    "CallControl",
    "ConferenceParticipantAction",
    "CreateCall",
    "JambonzClient",
    "Message",
    "MessageResult",
    "NotFoundError",
    "Queue",
    "Record",
    "ServerError",
    "SipRequest",
    "UnprocessableEntityError",
    "UntrustedAddressError",
    "UpdateCall",
    "Webhook",
    "api_base",
]
