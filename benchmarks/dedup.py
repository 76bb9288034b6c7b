"""What deduplicating deliveries costs a request, in process (no server, no socket).

    python benchmarks/dedup.py [--number 3000] [--redis]

Each line is the best of 5 repeats, in microseconds per request: a whole signed ASGI request to
a small action hook, without ``deduplicate``, with it (every request a new delivery, the usual
case; then every request the same delivery, a repeat answered from the record), and with
``--redis`` the same on a RedisStore of a redis-server started here (two round trips a new
delivery: the claim, then the answer published). With ``--redis`` it also measures how soon a
worker waiting on another's claim gets the answer once published (it polls, backing off to
50 ms): the median and the worst over 50 waits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LOG_LEVEL", "WARNING")

from jambonz_webhooks import DeliveryCache, GatherResult, JambonzApp, RedisStore, WebhookResponse
from jambonz_webhooks.deliveries import RedisDeliveries
from jambonz_webhooks.testing import sign

SECRET = "wh_secret_bench"
SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/menu",
    "raw_path": b"/menu",
    "root_path": "",
    "query_string": b"",
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
}


def build(**options: Any) -> JambonzApp:
    app = JambonzApp(webhook_secret=SECRET, **options)

    @app.action_hook("/menu")
    async def menu(result: GatherResult) -> WebhookResponse:
        return WebhookResponse().say(text=f"you pressed {result.digits}")

    return app


def requests(count: int) -> list[tuple[bytes, list[tuple[bytes, bytes]]]]:
    """``count`` different deliveries, each signed now (a new call_sid each)."""
    made = []
    for i in range(count):
        body = json.dumps(
            {"call_sid": f"CA{i:032d}", "direction": "inbound", "reason": "dtmfDetected", "digits": "1"},
            separators=(",", ":"),
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"jambonz-signature", sign(body, SECRET).encode()),
        ]
        made.append((body, headers))
    return made


def asgi_calls(
    app: JambonzApp, loop: asyncio.AbstractEventLoop, made: list[tuple[bytes, list[tuple[bytes, bytes]]]]
) -> Callable[[], None]:
    position = [0]
    statuses: list[int] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    def call() -> None:
        body, headers = made[position[0] % len(made)]
        position[0] += 1

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": body, "more_body": False}

        loop.run_until_complete(app(dict(SCOPE, headers=headers, state={}), receive, send))
        if statuses[-1] != 200:
            raise RuntimeError(f"answered {statuses[-1]}")

    return call


def best(case: Callable[[], None], number: int) -> float:
    return min(timeit.repeat(case, number=number, repeat=5)) / number


async def waits(url: str, trials: int) -> list[float]:
    """Seconds between one worker publishing an answer and another, waiting, getting it."""
    stores = [RedisStore(url), RedisStore(url)]
    caches = [DeliveryCache(shared=RedisDeliveries(store)) for store in stores]
    found: list[float] = []

    class Reply:
        def __init__(self, status: int, headers: Any, body: bytes) -> None:
            self.status, self.headers, self.body = status, headers, body

    try:
        for trial in range(trials):
            key = b"wait-%d" % trial
            release = asyncio.Event()
            published: list[float] = []

            async def first(release: asyncio.Event = release, published: list[float] = published) -> Reply:
                await release.wait()
                published.append(time.perf_counter())
                return Reply(200, [], b"[]")

            async def second() -> Reply:
                raise AssertionError("the waiting worker computed its own answer")

            one = asyncio.create_task(caches[0].answer(key, first, rebuild=lambda a: Reply(*a)))
            await asyncio.sleep(0.01)
            two = asyncio.create_task(caches[1].answer(key, second, rebuild=lambda a: Reply(*a)))
            # Spread over the backoff: the answer comes 0 to 0.3 s into the wait.
            await asyncio.sleep(0.3 * trial / trials)
            release.set()
            await one
            await two
            found.append(time.perf_counter() - published[0])
    finally:
        for store in stores:
            await store.aclose()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description="the cost of deduplicate per request, in process")
    parser.add_argument("--number", type=int, default=3000, help="requests per repeat (5 of them)")
    parser.add_argument("--redis", action="store_true", help="also on a redis-server started here")
    args = parser.parse_args()

    fresh = requests(20_000)  # more than max_entries: each request in the loop a new delivery
    loop = asyncio.new_event_loop()
    cases: dict[str, Callable[[], None]] = {
        "signed, no deduplicate": asgi_calls(build(), loop, fresh),
        "deduplicate, in memory: new deliveries": asgi_calls(build(deduplicate=True), loop, fresh),
        "deduplicate, in memory: the same delivery": asgi_calls(build(deduplicate=True), loop, fresh[:1]),
    }
    server = None
    if args.redis:
        from tests.redis_server import RedisServer

        server = RedisServer(Path(tempfile.mkdtemp()))
        server.start()
        shared = build(deduplicate=True, state=RedisStore(server.url))
        cases["deduplicate, Redis: new deliveries"] = asgi_calls(shared, loop, fresh)
        repeated = build(deduplicate=True, state=RedisStore(server.url))
        cases["deduplicate, Redis: the same delivery"] = asgi_calls(repeated, loop, fresh[:1])
    try:
        for name, case in cases.items():
            case()  # warm: the first request builds what is built once
            print(f"{best(case, args.number) * 1e6:8.2f} us  {name}")
        if server is not None:
            found = loop.run_until_complete(waits(server.url, 50))
            print(
                f"a waiting worker got a published answer after {statistics.median(found) * 1e3:.1f} ms "
                f"(median), {max(found) * 1e3:.1f} ms (worst) of 50"
            )
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
