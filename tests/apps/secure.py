"""A test app with every protection configured in code: two secrets (rotation), a short
tolerance, GET hooks let through unsigned by choice, and repeated deliveries answered once.

- ``/incoming`` (call hook) counts its runs per call_sid and says the count;
- ``/slow`` (action hook) takes half a second, so a retry can arrive while it still runs;
- ``/flaky`` (status hook) fails (a 500) the first time for a call_sid;
- ``/runs/{call_sid}`` (a plain route) tells how many times the handlers ran for that call.
"""

from __future__ import annotations

import asyncio
from collections import Counter

from starlette.requests import Request
from starlette.responses import JSONResponse

from jambonz_webhooks import CallInfo, CallSession, JambonzApp, Response

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
async def incoming(call: CallSession) -> Response:
    runs[call.call_sid] += 1
    return Response().say(text=f"run {runs[call.call_sid]}").hangup()


@app.action_hook("/slow")
async def slow(call: CallInfo) -> Response:
    runs[call.call_sid] += 1
    await asyncio.sleep(0.5)
    return Response().say(text=f"slow run {runs[call.call_sid]}")


# A status hook answers 500 when its handler raises: the way to see a server error not repeated.
@app.status_hook("/flaky")
async def flaky(call: CallInfo) -> None:
    runs[call.call_sid] += 1
    if runs[call.call_sid] == 1:
        raise RuntimeError("the first delivery fails on purpose")


async def count(request: Request) -> JSONResponse:
    """How many times the hooks ran for a call_sid."""
    return JSONResponse({"runs": runs[request.path_params["call_sid"]]})


app.add_route("/runs/{call_sid}", count, methods=["GET"])
