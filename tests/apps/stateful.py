"""A test app whose hooks share a call's state, served by several uvicorn workers.

``state=None``: the store is a RedisStore on ``JAMBONZ_REDIS_URL`` (a MemoryStore without it),
as a deployment would configure it.

- ``/incoming`` (call hook) stores ``{"secret": "<the X-Secret SIP header>"}`` and says
  ``pid=<its process id>``;
- ``/next`` (action hook) says, as JSON, its process id, the value the call hook stored and the
  ``COMPANY_NAME`` env var (which jambonz sent with the call hook only).
"""

from __future__ import annotations

import json
import os

from jambonz_webhooks import CallInfo, CallSession, CallState, JambonzApp, WebhookResponse

app = JambonzApp(state=None, insecure=True)


@app.call_hook("/incoming")
async def incoming(call: CallSession, state: CallState) -> WebhookResponse:
    headers = call.sip.headers if call.sip is not None else {}
    await state.set("stored", {"secret": headers.get("X-Secret"), "by_pid": os.getpid()})
    return WebhookResponse().say(text=f"pid={os.getpid()}")


@app.action_hook("/next")
async def next_step(call: CallInfo, state: CallState) -> WebhookResponse:
    seen = {
        "pid": os.getpid(),
        "stored": await state.get("stored"),
        "company": (await state.env_vars()).get("COMPANY_NAME"),
    }
    return WebhookResponse().say(text=json.dumps(seen, sort_keys=True)).hangup()
