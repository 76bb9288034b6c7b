"""What jambonz sends after the call hook: verb results, call status changes and other events.

Each model carries the call information too (:class:`~jambonz_webhooks.payload.CallInfo`), so a
handler can read ``call_sid``, ``from_``, ... from it, and keeps the keys it does not name. Enum
fields accept values beyond the documented ones (jambonz adds some over time); the ``Literal``
aliases here list the documented ones.

:data:`CALLBACK_MODELS` maps each of jambonz's callback schemas to its model.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ..payload import CallInfo
from ..session import CallSession
from ._base import Detail
from .ai import (
    AgentEventType,
    AgentLatency,
    AgentPreflight,
    AgentTurn,
    LlmCompletionReason,
    LlmEvent,
    LlmResult,
    LlmToolCall,
    PreflightResult,
    TokensResult,
    ToolFunctionCall,
    TtsStreamingEvent,
    TtsStreamingEventType,
    forwarded_tool_output,
)
from .call import (
    FINAL_CALL_STATUSES,
    CallStatus,
    CallTerminationBy,
    JambonzError,
    SessionReconnect,
    SessionRedirect,
    VerbEvent,
    VerbStatus,
)
from .dial import (
    AmdEvent,
    AmdType,
    DialCallStatus,
    DialDtmf,
    DialHold,
    DialRefer,
    DialResult,
    HoldDetail,
    ReferDetails,
    TransferOutcome,
    TransferReason,
    TransferResult,
)
from .media import ListenResult, MessageResult, MessageStatus, PlayReason, PlayResult
from .rooms import (
    ConferenceEventName,
    ConferenceResult,
    ConferenceStatus,
    ConferenceWait,
    DequeueOutcome,
    DequeueResult,
    EnqueueResult,
    EnqueueWait,
    QueueOutcome,
)
from .sip import (
    HoldEvent,
    SipReferEvent,
    SipReferResult,
    SipRequestOutcome,
    SipRequestResult,
    SipRequestWithinDialog,
)
from .speech import (
    GatherPartial,
    GatherReason,
    GatherResult,
    SpeechAlternative,
    SpeechEvent,
    SpeechResult,
    SpeechVendor,
    TranscribeResult,
    TranscribeTranslation,
    Translation,
)

__all__ = [
    "CALLBACK_MODELS",
    "FINAL_CALL_STATUSES",
    "SOCKET_EVENT_MODELS",
    "AgentEventType",
    "AgentLatency",
    "AgentPreflight",
    "AgentTurn",
    "AmdEvent",
    "AmdType",
    "CallStatus",
    "CallTerminationBy",
    "ConferenceEventName",
    "ConferenceResult",
    "ConferenceStatus",
    "ConferenceWait",
    "DequeueOutcome",
    "DequeueResult",
    "Detail",
    "DialCallStatus",
    "DialDtmf",
    "DialHold",
    "DialRefer",
    "DialResult",
    "EnqueueResult",
    "EnqueueWait",
    "GatherPartial",
    "GatherReason",
    "GatherResult",
    "HoldDetail",
    "HoldEvent",
    "JambonzError",
    "ListenResult",
    "LlmCompletionReason",
    "LlmEvent",
    "LlmResult",
    "LlmToolCall",
    "MessageResult",
    "MessageStatus",
    "PlayReason",
    "PlayResult",
    "PreflightResult",
    "QueueOutcome",
    "ReferDetails",
    "SessionReconnect",
    "SessionRedirect",
    "SipReferEvent",
    "SipReferResult",
    "SipRequestOutcome",
    "SipRequestResult",
    "SipRequestWithinDialog",
    "SpeechAlternative",
    "SpeechEvent",
    "SpeechResult",
    "SpeechVendor",
    "TokensResult",
    "ToolFunctionCall",
    "TranscribeResult",
    "TranscribeTranslation",
    "TransferOutcome",
    "TransferReason",
    "TransferResult",
    "Translation",
    "TtsStreamingEvent",
    "TtsStreamingEventType",
    "VerbEvent",
    "VerbStatus",
    "forwarded_tool_output",
]

CALLBACK_MODELS: Mapping[str, type[CallInfo]] = MappingProxyType(
    {
        model.schema_id: model
        for model in (
            CallInfo,
            CallSession,
            SessionReconnect,
            SessionRedirect,
            CallStatus,
            VerbStatus,
            GatherResult,
            GatherPartial,
            TranscribeResult,
            TranscribeTranslation,
            DialResult,
            DialDtmf,
            DialHold,
            DialRefer,
            AmdEvent,
            TransferResult,
            SipReferResult,
            SipReferEvent,
            SipRequestResult,
            EnqueueResult,
            EnqueueWait,
            DequeueResult,
            ConferenceResult,
            ConferenceWait,
            ConferenceStatus,
            PlayResult,
            ListenResult,
            MessageResult,
            LlmResult,
            AgentTurn,
            TtsStreamingEvent,
        )
    }
)
"""The model of each of jambonz's callback schemas, by schema id (``"callbacks/gather"``)."""

SOCKET_EVENT_MODELS: Mapping[str, type[CallInfo]] = MappingProxyType(
    {
        "verb:status": VerbStatus,
        "jambonz:error": JambonzError,
        "llm:event": LlmEvent,
        "llm:tool-call": LlmToolCall,
        "tts:streaming-event": TtsStreamingEvent,
        "tts:tokens-result": TokensResult,
    }
)
"""The notifications jambonz sends over a call's socket (no ack), by message type, and their models."""
