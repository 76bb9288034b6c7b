"""A test app for WebSocket reconnects across workers: its hooks count and share a call's state.

``state=None``: a RedisStore on ``JAMBONZ_REDIS_URL``, as a deployment configures it.

- ``/incoming`` (call hook) counts its runs for the call (``runs``), stores the process id that
  ran it last (``by_pid``), then waits the seconds of the ``X-Delay`` SIP header (if any) and
  says ``pid=<its process id>``;
- ``/next`` (action hook) says, as JSON, its process id and what the call hook stored;
- ``/wait`` (action hook) waits two seconds and says ``waited``.
"""

from __future__ import annotations

import asyncio
import json
import os

from jambonz_webhooks import CallInfo, CallSession, CallState, JambonzApp, WebhookResponse

app = JambonzApp(state=None, insecure=True)


@app.call_hook("/incoming")
async def incoming(call: CallSession, state: CallState) -> WebhookResponse:
    runs = await state.get("runs", 0)
    await state.set("runs", runs + 1)
    await state.set("by_pid", os.getpid())
    headers = call.sip.headers if call.sip is not None else {}
    delay = headers.get("X-Delay")
    if isinstance(delay, str):
        await asyncio.sleep(float(delay))
    return WebhookResponse().say(text=f"pid={os.getpid()}")


@app.action_hook("/next")
async def next_step(call: CallInfo, state: CallState) -> WebhookResponse:
    seen = {"pid": os.getpid(), "runs": await state.get("runs"), "by_pid": await state.get("by_pid")}
    return WebhookResponse().say(text=json.dumps(seen, sort_keys=True)).hangup()


@app.action_hook("/wait")
async def wait(call: CallInfo) -> WebhookResponse:
    await asyncio.sleep(2.0)
    return WebhookResponse().say(text="waited")
