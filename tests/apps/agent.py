"""Slow, LLM-like hooks that continue in the background, for tests/test_background.py.

``state=None``: a RedisStore on ``JAMBONZ_REDIS_URL`` when it is set, so that two processes
share the work's outcome; the memory store otherwise.

- ``/ask`` (background=True) sleeps ``delay`` seconds (from the payload, default 1) and says
  which process answered;
- ``/maybe`` asks to continue (with its own filler) only when the caller pressed 1;
- ``/fail`` (background=True) raises after 0.6 s.
"""

from __future__ import annotations

import asyncio
import os

from jambonz_webhooks import Background, Continuation, GatherResult, JambonzApp, WebhookResponse

app = JambonzApp(state=None, webhook_secret=[], insecure=True, background=Background(after=0.3, limit=10))


@app.action_hook("/ask", background=True)
async def ask(result: GatherResult) -> WebhookResponse:
    await asyncio.sleep(float(result.get("delay", 1.0)))
    return WebhookResponse().say(text=f"answer from pid={os.getpid()}").hangup()


@app.action_hook("/maybe")
async def maybe(result: GatherResult, later: Continuation) -> WebhookResponse:
    if result.digits == "1":
        later.allow(filler=WebhookResponse().say(text="Let me check."))
    await asyncio.sleep(1.0)
    return WebhookResponse().say(text="done").hangup()


@app.action_hook("/fail", background=True)
async def fail(result: GatherResult) -> WebhookResponse:
    await asyncio.sleep(0.6)
    raise RuntimeError("the model is down")
