"""The baseline of the load benchmark: the example app's /incoming written by hand on bare Starlette.

No jambonz_webhooks here: the handler does what untyped code does (``json.loads`` of the body,
``dict.get`` for the one field it checks, a list of dicts built per request, Starlette's
``JSONResponse``) and answers the same verbs as ``example_app.app``'s ``incoming``.

Run it with ``uvicorn --app-dir benchmarks bare_app:app``.
"""

from __future__ import annotations

import json

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def incoming(request: Request) -> JSONResponse:
    data = json.loads(await request.body())
    if data.get("call_sid") is None:  # the least check untyped code makes
        return JSONResponse({"error": "not a call hook"}, status_code=422)
    company = (data.get("env_vars") or {}).get("COMPANY_NAME") or "our company"
    return JSONResponse(
        [
            {"verb": "say", "text": f"Hello, and thank you for calling {company}."},
            {
                "verb": "gather",
                "actionHook": "/menu",
                "input": ["digits", "speech"],
                "numDigits": 1,
                "timeout": 10,
                "say": {"text": "Press 1 for sales or 2 for support"},
            },
            {"verb": "say", "text": "We did not receive any input."},
            {"verb": "hangup"},
        ]
    )


app = Starlette(routes=[Route("/incoming", incoming, methods=["POST"])])
