"""The baseline of the load benchmark: the example app's /incoming written by hand on bare Starlette.

No jambonz_webhooks here. The handler does what careful untyped code does for a signed hook:

- it checks the ``Jambonz-Signature`` header (``t=<unix seconds>,v1=<hex>``) over the raw bytes
  of the body: HMAC-SHA256 of ``"<t>." + body`` with the account's webhook secret, the timestamp
  within 300 s of the clock either way, each comparison constant-time; 401 when it fails;
- it parses the body with ``json.loads`` and checks that it carries a call_sid (the least check
  untyped code makes);
- it answers the same verbs as ``example_app.app``'s ``incoming``: a list of dicts built per
  request, written by Starlette's ``JSONResponse``.

The secret comes from ``JAMBONZ_WEBHOOK_SECRET`` (several separated by commas while one is
rotated out), read once at import, as ``JambonzApp()`` reads it. Without it the check is off, as
it is in the framework: both apps then do the same work, which keeps in-process comparisons
(``micro.py``) like for like. ``load.py`` sets the secret for every server and makes sure an
unsigned request gets 401 from each before any load, so no run measures an unchecked baseline.

Run it with ``uvicorn --app-dir benchmarks bare_app:app``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

SECRETS: tuple[bytes, ...] = tuple(
    part.strip().encode() for part in os.environ.get("JAMBONZ_WEBHOOK_SECRET", "").split(",") if part.strip()
)
TOLERANCE = 300  # seconds, jambonz's and the framework's default


def signature_ok(header: str | None, body: bytes) -> bool:
    """Whether ``header`` signs ``body`` with one of SECRETS, at a time within the tolerance."""
    if header is None:
        return False
    timestamp = ""
    signatures: list[bytes] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            timestamp = value
        elif key == "v1":
            # Bytes: compare_digest refuses non-ASCII str, and a header may hold any latin-1 text.
            signatures.append(value.lower().encode("latin-1"))
    # isascii too: str.isdigit accepts digits such as "²" that int() refuses.
    if not (timestamp.isascii() and timestamp.isdigit() and 0 < len(timestamp) <= 15) or not signatures:
        return False
    if abs(time.time() - int(timestamp)) > TOLERANCE:
        return False
    message = timestamp.encode() + b"." + body
    matched = False
    for secret in SECRETS:
        expected = hmac.new(secret, message, hashlib.sha256).hexdigest().encode()
        for signature in signatures:
            # No early exit: every pair is compared, each in constant time.
            matched |= hmac.compare_digest(expected, signature)
    return matched


async def incoming(request: Request) -> JSONResponse:
    body = await request.body()
    if SECRETS and not signature_ok(request.headers.get("jambonz-signature"), body):
        return JSONResponse({"error": "invalid signature"}, status_code=401)
    try:
        data = json.loads(body)
    except ValueError:
        return JSONResponse({"error": "invalid JSON"}, status_code=400)
    if not isinstance(data, dict) or not isinstance(data.get("call_sid"), str):
        return JSONResponse({"error": "not a call hook"}, status_code=422)
    company = (data.get("env_vars") or {}).get("COMPANY_NAME") or "our company"
    return JSONResponse(incoming_verbs(company))


def incoming_verbs(company: str = "Acme") -> list[dict[str, Any]]:
    """The verbs ``example_app``'s ``incoming`` answers, as dicts built per call (by the tests too).

    The default is the company the benchmarks' and the tests' call hook names in its env_vars.
    """
    return [
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


app = Starlette(routes=[Route("/incoming", incoming, methods=["POST"])])
