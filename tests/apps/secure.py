"""A test app with every protection configured in code: two secrets (rotation), a short
tolerance, GET hooks let through unsigned by choice, and repeated deliveries answered once.

- ``/incoming`` (call hook) counts its runs per call_sid and says the count;
- ``/slow`` (action hook) takes half a second, so a retry can arrive while it still runs;
- ``/flaky`` (action hook) answers 503 the first time for a call_sid, then hangs up;
- ``/runs/{call_sid}`` (a plain route) tells how many times the handlers ran for that call.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse

from jambonz_webhooks import CallInfo, CallSession, JambonzApp, WebhookResponse

SECRETS = ["wh_secret_new", "wh_secret_old"]
TOLERANCE = 60

runs: Counter[str] = Counter()

app = JambonzApp(
    webhook_secret=SECRETS,
    signature_tolerance=TOLERANCE,
    allow_unsigned_get=True,
    deduplicate=True,
    basic_auth=None,
)


@app.call_hook("/incoming")
async def incoming(call: CallSession) -> WebhookResponse:
    runs[call.call_sid] += 1
    return WebhookResponse().say(text=f"run {runs[call.call_sid]}").hangup()


@app.action_hook("/slow")
async def slow(call: CallInfo) -> WebhookResponse:
    runs[call.call_sid] += 1
    await asyncio.sleep(0.5)
    return WebhookResponse().say(text=f"slow run {runs[call.call_sid]}")


# A handler may choose a server error (an HTTPException): the way to see one not repeated.
@app.action_hook("/flaky")
async def flaky(call: CallInfo) -> WebhookResponse:
    runs[call.call_sid] += 1
    if runs[call.call_sid] == 1:
        raise HTTPException(503, "try again")
    return WebhookResponse().hangup()


async def count(request: Request) -> JSONResponse:
    """How many times the hooks ran for a call_sid."""
    return JSONResponse({"runs": runs[request.path_params["call_sid"]]})


app.add_route("/runs/{call_sid}", count, methods=["GET"])
