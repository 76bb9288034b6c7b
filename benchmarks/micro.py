"""Micro-timings of the pieces of one /incoming request, in process (no server, no socket).

    python benchmarks/micro.py [--number 20000]

Each line is the best of 5 repeats, in microseconds per call: what the framework does (validate
the body into a CallSession, build the WebhookResponse, encode it, the whole ASGI call) next to what the
bare app does (``json.loads``, build dicts, ``json.dumps``, the whole ASGI call). Under load the
pieces cost more (colder caches), but their proportions hold; see RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bare_app import app as bare
from bare_app import incoming_verbs as bare_verbs
from payload import body as make_body

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # example_app, from a checkout
# The framework with its access log off, as load.py's "framework" (the example logs at INFO).
os.environ.setdefault("LOG_LEVEL", "WARNING")
# No secret here, as in bare: opened explicitly (apps fail closed), so both do the same work.
os.environ.setdefault("JAMBONZ_WEBHOOK_INSECURE", "1")

from example_app.app import app as framework
from example_app.app import incoming
from jambonz_webhooks import CallSession, WebhookResponse
from jambonz_webhooks.response import encode_verbs

BODY = make_body()
SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/incoming",
    "raw_path": b"/incoming",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}


def run_handler(call: CallSession) -> WebhookResponse:
    """Run the example's async handler to its end without an event loop (it never awaits)."""
    coroutine = incoming(call)
    try:
        coroutine.send(None)
    except StopIteration as stop:
        result: WebhookResponse = stop.value
        return result
    raise RuntimeError("the handler awaited something")


def asgi_call(app: Any) -> Callable[[], None]:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": BODY, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        pass

    loop = asyncio.new_event_loop()

    def call() -> None:
        loop.run_until_complete(app(dict(SCOPE, state={}), receive, send))

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description="micro-timings of one /incoming request")
    parser.add_argument("--number", type=int, default=20000, help="calls per repeat")
    args = parser.parse_args()

    call = CallSession.model_validate_json(BODY, strict=True)
    context = framework.hook_settings.context("")
    # The route encodes what the handler built with the request's hook context.
    verbs = run_handler(call).verbs
    cases: dict[str, Callable[[], object]] = {
        "framework: CallSession.model_validate_json(body, strict=True)": lambda: (
            CallSession.model_validate_json(BODY, strict=True)
        ),
        "framework: handler builds its WebhookResponse (4 verbs)": lambda: run_handler(call),
        "framework: encode_verbs": lambda: encode_verbs(verbs, context),
        "framework: whole ASGI request (in process)": asgi_call(framework),
        "bare: json.loads(body)": lambda: json.loads(BODY),
        "bare: build the verb dicts": bare_verbs,
        "bare: json.dumps as JSONResponse does": lambda: json.dumps(
            bare_verbs(), ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
        ).encode(),
        "bare: whole ASGI request (in process)": asgi_call(bare),
    }
    print(f"body: {len(BODY)} bytes")
    for name, case in cases.items():
        best = min(timeit.repeat(case, number=args.number, repeat=5)) / args.number
        print(f"{best * 1e6:8.2f} us  {name}")


if __name__ == "__main__":
    main()
