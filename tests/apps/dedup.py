"""A test app deduplicating deliveries across processes: run it twice on one Redis.

``state=None`` with ``JAMBONZ_REDIS_URL`` set: the state store is a RedisStore, and the record of
deliveries is shared through it. Every handler counts its runs per call_sid in that Redis
(``test:runs:<call_sid>``), so a test sees them whichever process ran, and says the count and
its process id: ``run <n> pid <pid>``.

- ``/menu`` (action hook) answers at once;
- ``/slow`` (action hook) takes half a second, so that a retry can reach the other process while
  it still runs;
- ``/stall`` (action hook), the first time for a call_sid, writes its pid at
  ``test:stalled:<call_sid>`` and sleeps past its deadline (the test kills the process meanwhile);
  later runs answer at once.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from jambonz_webhooks import CallInfo, JambonzApp, RedisStore, WebhookResponse

SECRET = "wh_secret_dedup_0123456789"
DEADLINE = 3.0

app = JambonzApp(webhook_secret=SECRET, deduplicate=True, deadline=DEADLINE, state=None)


def _redis() -> Any:
    store = app.hook_settings.state
    assert isinstance(store, RedisStore), "run this app with JAMBONZ_REDIS_URL set"
    return store.redis


async def _count(call: CallInfo) -> str:
    runs = await _redis().incr(f"test:runs:{call.call_sid}")
    return f"run {runs} pid {os.getpid()}"


@app.action_hook("/menu")
async def menu(call: CallInfo) -> WebhookResponse:
    return WebhookResponse().say(text=await _count(call))


@app.action_hook("/slow")
async def slow(call: CallInfo) -> WebhookResponse:
    said = await _count(call)
    await asyncio.sleep(0.5)
    return WebhookResponse().say(text=said)


@app.action_hook("/stall")
async def stall(call: CallInfo) -> WebhookResponse:
    said = await _count(call)
    if said.startswith("run 1 "):
        await _redis().set(f"test:stalled:{call.call_sid}", os.getpid())
        await asyncio.sleep(DEADLINE * 10)
    return WebhookResponse().say(text=said)
