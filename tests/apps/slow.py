"""Handlers that overrun their deadline, served by uvicorn for tests/test_pipeline.py.

Every hook has a 0.5 s deadline; ``/finished/{call_sid}`` tells which handlers ran to their end
(an overrun async handler is cancelled: it never gets there; a sync one is abandoned: it does).
"""

from __future__ import annotations

import asyncio
import time

from starlette.requests import Request
from starlette.responses import JSONResponse

from jambonz_webhooks import CallInfo, CallSession, GatherResult, JambonzApp, WebhookResponse

DEADLINE = 0.5

app = JambonzApp(webhook_secret=[], insecure=True, deadline=DEADLINE)
finished: dict[str, list[str]] = {}


def _done(call_sid: str, name: str) -> None:
    finished.setdefault(call_sid, []).append(name)


@app.call_hook("/slow-call")
async def slow_call(call: CallSession) -> WebhookResponse:
    await asyncio.sleep(5)
    _done(call.call_sid, "slow_call")
    return WebhookResponse().say(text="too late")


@app.action_hook("/slow-action")
async def slow_action(result: GatherResult) -> WebhookResponse:
    await asyncio.sleep(5)
    _done(result.call_sid, "slow_action")
    return WebhookResponse().say(text="too late")


@app.action_hook("/slow-sync")
def slow_sync(result: GatherResult) -> WebhookResponse:
    time.sleep(1.5)
    _done(result.call_sid, "slow_sync")
    return WebhookResponse().say(text="too late")


@app.action_hook(
    "/own-fallback", deadline=0.2, fallback=WebhookResponse().say(text="still thinking").hangup()
)
async def own_fallback(call: CallInfo) -> WebhookResponse:
    await asyncio.sleep(5)
    return WebhookResponse().hangup()


@app.action_hook("/quick")
async def quick(call: CallInfo) -> WebhookResponse:
    await asyncio.sleep(0.05)
    return WebhookResponse().say(text="in time")


@app.status_hook("/status")
async def status(call: CallInfo) -> None:
    await asyncio.sleep(0.3)
    _done(call.call_sid, "status")


@app.status_hook("/status-stuck")
async def status_stuck(call: CallInfo) -> None:
    await asyncio.sleep(30)
    _done(call.call_sid, "status_stuck")


async def finished_for(request: Request) -> JSONResponse:
    """Which handlers ran to their end for a call_sid."""
    return JSONResponse(finished.get(request.path_params["call_sid"], []))


app.add_route("/finished/{call_sid}", finished_for, methods=["GET"])
