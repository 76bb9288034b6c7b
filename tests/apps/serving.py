"""Hooks of every duration, served by ``jambonz-webhooks run`` for tests/test_serving.py.

The webhook secret comes from ``JAMBONZ_WEBHOOK_SECRET``; ``/health`` is the app's own.

- ``/incoming`` (call hook) answers at once;
- ``/slow`` (action hook) takes a second: it finishes within a drain;
- ``/stuck`` and ``/stuck-sync`` (action hooks, async and sync) take a minute, with a 30 s
  deadline: longer than any shutdown bound;
- ``/plain-stuck`` (a plain route, no deadline) takes a minute too;
- ``/blocking`` (action hook) blocks the event loop itself for 30 s (a bug: ``time.sleep`` in
  an async handler), so nothing of the server can run.
"""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import JSONResponse

from jambonz_webhooks import CallInfo, CallSession, JambonzApp, WebhookResponse

FALLBACK = WebhookResponse().say(text="sorry, we are closing").hangup()

app = JambonzApp(health_path="/health", fallback=FALLBACK)


@app.call_hook("/incoming")
async def incoming(call: CallSession) -> WebhookResponse:
    return WebhookResponse().say(text="hello").hangup()


@app.action_hook("/slow")
async def slow(call: CallInfo) -> WebhookResponse:
    await asyncio.sleep(1.0)
    return WebhookResponse().say(text="slow but done").hangup()


@app.action_hook("/stuck", deadline=30)
async def stuck(call: CallInfo) -> WebhookResponse:
    await asyncio.sleep(60)
    return WebhookResponse().say(text="never").hangup()


@app.action_hook("/stuck-sync", deadline=30)
def stuck_sync(call: CallInfo) -> WebhookResponse:
    time.sleep(60)
    return WebhookResponse().say(text="never").hangup()


@app.action_hook("/blocking")
async def blocking(call: CallInfo) -> WebhookResponse:
    time.sleep(30)  # blocks the event loop: what the shutdown watchdog is for
    return WebhookResponse().hangup()


async def plain_stuck(request: Request) -> JSONResponse:
    """A plain route that outlives any shutdown bound."""
    await asyncio.sleep(60)
    return JSONResponse({"never": True})


app.add_route("/plain-stuck", plain_stuck, methods=["GET"])
