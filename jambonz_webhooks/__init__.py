"""jambonz-webhooks: typed jambonz voice applications on Starlette.

::

    from jambonz_webhooks import CallSession, JambonzApp, WebhookResponse

    app = JambonzApp()

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().say(text="Hello from Python").hangup()
"""

from .app import DEFAULT_FALLBACK, HookRouter, InsecureAppError, JambonzApp
from .background import Background, Continuation
from .control import CallControl
from .deliveries import DeliveryCache
from .env import EnvVar, EnvVarError, EnvVars
from .errors import CallEndedError, CommandUnavailable, TokensRefused
from .events import (
    FINAL_CALL_STATUSES,
    AgentLatency,
    AgentPreflight,
    AgentTurn,
    AmdEvent,
    CallStatus,
    ConferenceResult,
    ConferenceStatus,
    ConferenceWait,
    DequeueResult,
    Detail,
    DialDtmf,
    DialHold,
    DialRefer,
    DialResult,
    EnqueueResult,
    EnqueueWait,
    GatherPartial,
    GatherResult,
    HoldDetail,
    JambonzError,
    ListenResult,
    LlmEvent,
    LlmResult,
    LlmToolCall,
    MessageResult,
    PlayResult,
    ReferDetails,
    SessionReconnect,
    SessionRedirect,
    SipReferEvent,
    SipReferResult,
    SipRequestResult,
    SipRequestWithinDialog,
    SpeechAlternative,
    SpeechEvent,
    SpeechResult,
    SpeechVendor,
    TokensResult,
    TranscribeResult,
    TranscribeTranslation,
    TransferResult,
    Translation,
    TtsStreamingEvent,
    VerbStatus,
)
from .hooks import HookContext, HookObject, RetryPolicy, RetryPolicyWarning, UnroutedHandlerError, hook
from .injection import HookKind
from .payload import CallInfo, Payload, SipReason
from .response import Response, WebhookResponse, prepare_verbs
from .security import SignatureError, compute_signature, verify_signature
from .session import CallSession, SessionDefaults, SipInvite
from .state import CallState, MemoryStore, RedisStore, StateStore, StateStoreError
from .targets import Release, ReleaseError
from .tools import Toolbox, ToolCall, ToolError
from .verbs import VERB_MODELS, Config, Dial, Gather, Hangup, Pause, Play, Redirect, Say, Tag, Target

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_FALLBACK",
    "FINAL_CALL_STATUSES",
    "VERB_MODELS",
    "AgentLatency",
    "AgentPreflight",
    "AgentTurn",
    "AmdEvent",
    "Background",
    "CallControl",
    "CallEndedError",
    "CallInfo",
    "CallSession",
    "CallState",
    "CallStatus",
    "CommandUnavailable",
    "ConferenceResult",
    "ConferenceStatus",
    "ConferenceWait",
    "Config",
    "Continuation",
    "DeliveryCache",
    "DequeueResult",
    "Detail",
    "Dial",
    "DialDtmf",
    "DialHold",
    "DialRefer",
    "DialResult",
    "EnqueueResult",
    "EnqueueWait",
    "EnvVar",
    "EnvVarError",
    "EnvVars",
    "Gather",
    "GatherPartial",
    "GatherResult",
    "Hangup",
    "HoldDetail",
    "HookContext",
    "HookKind",
    "HookObject",
    "HookRouter",
    "InsecureAppError",
    "JambonzApp",
    "JambonzError",
    "ListenResult",
    "LlmEvent",
    "LlmResult",
    "LlmToolCall",
    "MemoryStore",
    "MessageResult",
    "Pause",
    "Payload",
    "Play",
    "PlayResult",
    "Redirect",
    "RedisStore",
    "ReferDetails",
    "Release",
    "ReleaseError",
    "Response",
    "RetryPolicy",
    "RetryPolicyWarning",
    "Say",
    "SessionDefaults",
    "SessionReconnect",
    "SessionRedirect",
    "SignatureError",
    "SipInvite",
    "SipReason",
    "SipReferEvent",
    "SipReferResult",
    "SipRequestResult",
    "SipRequestWithinDialog",
    "SpeechAlternative",
    "SpeechEvent",
    "SpeechResult",
    "SpeechVendor",
    "StateStore",
    "StateStoreError",
    "Tag",
    "Target",
    "TokensRefused",
    "TokensResult",
    "ToolCall",
    "ToolError",
    "Toolbox",
    "TranscribeResult",
    "TranscribeTranslation",
    "TransferResult",
    "Translation",
    "TtsStreamingEvent",
    "UnroutedHandlerError",
    "VerbStatus",
    "WebhookResponse",
    "__version__",
    "compute_signature",
    "hook",
    "prepare_verbs",
    "verify_signature",
]
