"""The pieces of one /incoming request in process, each with the CPU caches flushed before it.

    python benchmarks/cold.py [--calls 4000] [--flush-mib 4]

``micro.py`` times the pieces in a loop, where their code and data stay in the core's caches: there
the framework's whole request is some 10-25% cheaper than bare's. Under uvicorn the two were at
parity, because between two requests of a loaded server the kernel, uvicorn and the event loop
have pushed most of a request's code and data out of the core's caches, and a piece then costs
what it touches (each cache line fetched again) more than what it executes. This benchmark puts
the pieces in that state without a server: before each call it writes every cache line of a
buffer larger than the core's L2 (``--flush-mib``), then times the call ("cold"), then times the
same call again at once ("warm"). The framework's and bare's pieces alternate call by call, so a
slow phase of a shared machine hits both; each figure is the median over ``--calls`` calls.

The whole request is signed (both apps with the same secret, the body signed once). "harness" is
an ASGI app that reads the body and answers a constant: the event loop's and the test driver's
part, which the "app's own" ratio takes out of both apps' figures. Prints a table; nothing is
written to RESULTS.md (copy what a decision rests on there).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SECRET = "the-cold-benchmark-secret"
os.environ["JAMBONZ_WEBHOOK_SECRET"] = SECRET  # read by both apps at import
os.environ["LOG_LEVEL"] = "WARNING"  # the framework with its access log off, as load.py's
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # example_app, from a checkout

from bare_app import app as bare  # noqa: E402 - after the environment both apps read
from bare_app import incoming_verbs as bare_verbs  # noqa: E402
from load import signature  # noqa: E402
from micro import BODY, SCOPE, asgi_call, run_handler  # noqa: E402

from example_app.app import app as framework  # noqa: E402
from jambonz_webhooks import CallSession  # noqa: E402
from jambonz_webhooks.response import encode_verbs  # noqa: E402

_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")],
}
_BODY = {"type": "http.response.body", "body": b"[]"}


async def harness(scope: dict[str, Any], receive: Callable[..., Any], send: Callable[..., Any]) -> None:
    """Read the body, answer a constant: what every request costs before either app's work."""
    await receive()
    await send(_START)
    await send(_BODY)


def cases() -> list[tuple[str, Callable[[], object], str, Callable[[], object]]]:
    """Pairs of pieces: (framework's name, call, bare's name, call)."""
    import json

    SCOPE["headers"] = [
        (b"host", b"127.0.0.1"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
        (b"jambonz-signature", signature(BODY, SECRET).encode()),
    ]
    call = CallSession.model_validate_json(BODY, strict=True)
    context = framework.hook_settings.context("")
    verbs = run_handler(call).verbs
    return [
        (
            "CallSession.model_validate_json",
            lambda: CallSession.model_validate_json(BODY, strict=True),
            "json.loads",
            lambda: json.loads(BODY),
        ),
        ("the handler builds its 4 verbs", lambda: run_handler(call), "the verb dicts", bare_verbs),
        (
            "encode_verbs",
            lambda: encode_verbs(verbs, context),
            "json.dumps as JSONResponse does",
            lambda: json.dumps(
                bare_verbs(), ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
            ).encode(),
        ),
        ("whole signed ASGI request", asgi_call(framework), "whole signed ASGI request", asgi_call(bare)),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description="the pieces of a request, with cold caches")
    parser.add_argument("--calls", type=int, default=4000, help="calls of each piece")
    parser.add_argument("--flush-mib", type=int, default=4, help="MiB written before each call")
    args = parser.parse_args()
    flush = bytearray(args.flush_mib << 20)
    lines = b"\x01" * (len(flush) // 64)

    timed: list[tuple[str, Callable[[], object]]] = [
        ("harness: body read, constant answer", asgi_call(harness))
    ]
    for ours, our_call, theirs, their_call in cases():
        timed += [(f"framework: {ours}", our_call), (f"bare: {theirs}", their_call)]
    for _, case in timed:
        for _ in range(200):
            case()  # validators built, caches of the interpreter specialized
    cold: dict[str, list[int]] = {name: [] for name, _ in timed}
    warm: dict[str, list[int]] = {name: [] for name, _ in timed}
    clock = time.perf_counter_ns
    for index in range(args.calls):
        # Alternate the order, so that neither side always runs right after the other.
        for name, case in timed if index % 2 else reversed(timed):
            flush[::64] = lines
            start = clock()
            case()
            middle = clock()
            case()
            cold[name].append(middle - start)
            warm[name].append(clock() - middle)
    median = {name: statistics.median(values) / 1000 for name, values in cold.items()}
    print(f"body: {len(BODY)} bytes; {args.calls} calls each, {args.flush_mib} MiB written before each")
    print(f"{'piece':58s} {'cold us':>9s} {'warm us':>9s}")
    for name, _ in timed:
        print(f"{name:58s} {median[name]:9.2f} {statistics.median(warm[name]) / 1000:9.2f}")
    names = [name for name, _ in timed]
    for ours, theirs in zip(names[1::2], names[2::2], strict=True):
        print(f"cold, framework / bare: {ours.split(': ', 1)[1]}: {median[ours] / median[theirs]:.3f}")
    floor = median[names[0]]
    whole_ours, whole_theirs = median[names[-2]] - floor, median[names[-1]] - floor
    print(
        f"cold, the app's own part of the whole request (less the harness): framework {whole_ours:.1f} us, "
        f"bare {whole_theirs:.1f} us, ratio {whole_ours / whole_theirs:.3f}"
    )


if __name__ == "__main__":
    main()
