"""A voice app that controls its calls live: commands from its handlers and from a task it started.

Served by uvicorn in tests/test_control.py, over jambonz's WebSocket API.
"""

from __future__ import annotations

import asyncio

from jambonz_webhooks import CallControl, CallSession, GatherResult, JambonzApp, WebhookResponse
from jambonz_webhooks.verbs import Say

app = JambonzApp(insecure=True)
_released: dict[str, asyncio.Event] = {}


async def _agent_ready(control: CallControl, released: asyncio.Event) -> None:
    """Wait for the caller's menu choice, then whisper and stream a sentence."""
    await released.wait()
    await control.whisper(Say(text="An agent is ready"))
    await control.stream_tokens(["Thank you ", "for waiting."])


@app.call_hook("/incoming")
async def incoming(call: CallSession, control: CallControl) -> WebhookResponse:
    """Mute at once (a command from the handler), and start the call's background task."""
    await control.mute()
    released = _released[call.call_sid] = asyncio.Event()
    control.start(_agent_ready(control, released))
    return WebhookResponse().say(text="Please hold").gather(input=["digits"], action_hook=menu)


@app.action_hook("/menu")
async def menu(result: GatherResult, control: CallControl) -> WebhookResponse:
    """Unmute (a command from an action hook) and let the background task go on."""
    await control.unmute()
    _released.pop(result.call_sid, asyncio.Event()).set()
    return WebhookResponse().say(stream=True)
