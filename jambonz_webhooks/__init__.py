"""jambonz-webhooks: typed jambonz voice applications on Starlette.

::

    from jambonz_webhooks import CallSession, JambonzApp, Response

    app = JambonzApp()

    @app.call_hook("/incoming")
    async def incoming(call: CallSession) -> Response:
        return Response().say(text="Hello from Python").hangup()
"""

from .app import DEFAULT_FALLBACK, HookRouter, JambonzApp
from .events import FINAL_CALL_STATUSES, CallStatus, DialResult, GatherResult, SpeechAlternative, SpeechResult
from .hooks import HookContext, HookObject, UnroutedHandlerError
from .injection import HookKind
from .payload import CallInfo, Payload
from .response import Response
from .session import CallSession, SessionDefaults, SipInvite
from .verbs import Config, Dial, Gather, Hangup, Pause, Play, Redirect, Say, Tag, Target

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_FALLBACK",
    "FINAL_CALL_STATUSES",
    "CallInfo",
    "CallSession",
    "CallStatus",
    "Config",
    "Dial",
    "DialResult",
    "Gather",
    "GatherResult",
    "Hangup",
    "HookContext",
    "HookKind",
    "HookObject",
    "HookRouter",
    "JambonzApp",
    "Pause",
    "Payload",
    "Play",
    "Redirect",
    "Response",
    "Say",
    "SessionDefaults",
    "SipInvite",
    "SpeechAlternative",
    "SpeechResult",
    "Tag",
    "Target",
    "UnroutedHandlerError",
    "__version__",
]
