"""jambonz-webhooks: typed jambonz voice applications on Starlette.

::

    from jambonz_webhooks import CallSession, JambonzApp, WebhookResponse

    app = JambonzApp()

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> WebhookResponse:
        return WebhookResponse().say(text="Hello from Python").hangup()

The top level holds what a handler module imports: the app and its router, the verb list
(:class:`WebhookResponse`, also ``Response``), the call and every hook payload a handler may ask
for, what else can be injected (state, control, continuation, env vars), the stores, hook
objects, tools, and the errors and warnings a user may see. The rest has a module of its own:
verbs as models in ``jambonz_webhooks.verbs`` (``from jambonz_webhooks.verbs import Say, Dial``),
the parts of payloads in ``jambonz_webhooks.events`` and ``jambonz_webhooks.session``, the REST
client in ``jambonz_webhooks.rest``, signing in ``jambonz_webhooks.security``, the simulator in
``jambonz_webhooks.testing`` (docs/names.md).
"""

from .app import HookRouter, InsecureAppError, JambonzApp
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
    DialDtmf,
    DialHold,
    DialRefer,
    DialResult,
    EnqueueResult,
    EnqueueWait,
    GatherPartial,
    GatherResult,
    JambonzError,
    ListenResult,
    LlmEvent,
    LlmResult,
    LlmToolCall,
    MessageResult,
    PlayResult,
    SessionReconnect,
    SessionRedirect,
    SipReferEvent,
    SipReferResult,
    SipRequestResult,
    SipRequestWithinDialog,
    SpeechEvent,
    SpeechResult,
    TokensResult,
    TranscribeResult,
    TranscribeTranslation,
    TransferResult,
    TtsStreamingEvent,
    VerbStatus,
)
from .hooks import HookContext, HookObject, RetryPolicy, RetryPolicyWarning, UnroutedHandlerError, hook
from .injection import HandlerWarning
from .payload import CallInfo
from .response import Response, WebhookResponse, prepare_verbs
from .session import CallSession
from .state import CallState, MemoryStore, RedisStore, StateStore, StateStoreError
from .targets import Release, ReleaseError
from .tools import Toolbox, ToolCall, ToolError

__version__ = "0.1.0"

__all__ = [
    "FINAL_CALL_STATUSES",
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
    "Continuation",
    "DeliveryCache",
    "DequeueResult",
    "DialDtmf",
    "DialHold",
    "DialRefer",
    "DialResult",
    "EnqueueResult",
    "EnqueueWait",
    "EnvVar",
    "EnvVarError",
    "EnvVars",
    "GatherPartial",
    "GatherResult",
    "HandlerWarning",
    "HookContext",
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
    "PlayResult",
    "RedisStore",
    "Release",
    "ReleaseError",
    "Response",
    "RetryPolicy",
    "RetryPolicyWarning",
    "SessionReconnect",
    "SessionRedirect",
    "SipReferEvent",
    "SipReferResult",
    "SipRequestResult",
    "SipRequestWithinDialog",
    "SpeechEvent",
    "SpeechResult",
    "StateStore",
    "StateStoreError",
    "TokensRefused",
    "TokensResult",
    "ToolCall",
    "ToolError",
    "Toolbox",
    "TranscribeResult",
    "TranscribeTranslation",
    "TransferResult",
    "TtsStreamingEvent",
    "UnroutedHandlerError",
    "VerbStatus",
    "WebhookResponse",
    "__version__",
    "hook",
    "prepare_verbs",
]
