"""What finding a hook costs: a POST to the last of 200 hooks against the same POST to an app with one.

In process, no server, no socket: each request is one ASGI call with a copy of a prebuilt scope,
a ``receive`` that gives the whole body at once and a ``send`` that drops the answer. Both apps
are ``JambonzApp()`` built with the public API only, so the script measures today's pipeline and
any rebuild of it alike:

- ``many``: 200 call hooks ``/hook0`` ... ``/hook199``, each its own trivial async handler that
  asks for the ``CallSession`` and answers ``WebhookResponse().hangup()``;
- ``one``: the same handler at ``/hook199`` alone.

The request is the same for both, ``POST /hook199`` with the 2.6 KB call hook of ``payload.py``,
so the difference is what the app does to reach the last of many hooks. Before timing, each app
runs its ASGI lifespan startup (an app may build its routing there) and must answer the request
200 with ``[{"verb":"hangup"}]``. The rounds alternate the apps (many one, one many, ...), each
``--number`` requests awaited back to back in one event loop, short so that the two apps of a
round see the same machine. The cost is the CPU time of the thread per request (the requests
never wait, and the wall clock also counts the time other work on a shared machine holds the
CPU); the wall-clock time is shown beside it. Every round is printed, and the ratio many/one
is the median of the per-round ratios. Target: at most 1.10.

No signature, credentials or Redis: the JAMBONZ_* variables are removed from this process's
environment before the apps are built (``JambonzApp(insecure=True)`` reads them), so the work outside the
routing stays small and the ratio shows the routing.

    python benchmarks/dispatch.py [--hooks 200] [--number 1000] [--rounds 21] [--write]

``--write`` rewrites the dispatch section of benchmarks/RESULTS.md. Exits 1 when an app does not
answer as it should.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from load import code_version, command_line, package_version, write_results
from payload import body as call_hook_body
from starlette.types import ASGIApp, Message, Scope

from jambonz_webhooks import CallSession, JambonzApp, WebhookResponse

TARGET = 1.10
BODY = call_hook_body()


class DispatchError(Exception):
    """An app does not answer as the benchmark needs."""


def make_handler() -> Callable[[CallSession], Awaitable[WebhookResponse]]:
    """A new trivial call-hook handler (a new function each time, as each hook of an app has its own)."""

    async def hook(call: CallSession) -> WebhookResponse:
        return WebhookResponse().hangup()

    return hook


def build_app(hooks: int, only_last: bool) -> JambonzApp:
    app = JambonzApp(insecure=True)  # opened: the routing is measured, not the signature
    numbers = [hooks - 1] if only_last else range(hooks)
    for number in numbers:
        app.call_hook(f"/hook{number}")(make_handler())
    return app


def request_scope(path: str, state: dict[str, Any]) -> Scope:
    """The scope uvicorn gives a POST of the call hook (a copy is made for each request)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BODY)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": state,
    }


async def receive() -> Message:
    return {"type": "http.request", "body": BODY, "more_body": False}


async def discard(message: Message) -> None:
    pass


@dataclass
class Running:
    """An app after its lifespan startup, with the state it gives each request."""

    name: str
    app: ASGIApp
    scope: Scope
    shutdown: Callable[[], Awaitable[None]]


async def start(name: str, app: ASGIApp, path: str) -> Running:
    """Run the app's lifespan startup; return it ready to take requests."""
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    outbox: asyncio.Queue[Message] = asyncio.Queue()
    state: dict[str, Any] = {}
    scope: Scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}, "state": state}

    async def serve() -> None:
        await app(scope, inbox.get, outbox.put)

    task = asyncio.create_task(serve())
    await inbox.put({"type": "lifespan.startup"})
    reply = await asyncio.wait_for(outbox.get(), 10)
    if reply["type"] != "lifespan.startup.complete":
        raise DispatchError(f"{name}: lifespan startup answered {reply}")

    async def shutdown() -> None:
        await inbox.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(outbox.get(), 10)
        await asyncio.wait_for(task, 10)

    return Running(name, app, request_scope(path, state), shutdown)


async def check(running: Running) -> None:
    """The app answers the request 200 with one hangup."""
    sent: list[Message] = []

    async def keep(message: Message) -> None:
        sent.append(message)

    await running.app(copy_scope(running.scope), receive, keep)
    status = next((m["status"] for m in sent if m["type"] == "http.response.start"), None)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    if status != 200 or json.loads(body or b"null") != [{"verb": "hangup"}]:
        raise DispatchError(f"{running.name}: answered {status}: {body[:300]!r}")


def copy_scope(scope: Scope) -> Scope:
    # As uvicorn does: a fresh scope per request, with a shallow copy of the lifespan state.
    return {**scope, "state": dict(scope["state"])}


@dataclass(frozen=True)
class Timing:
    """µs per request: CPU time of this thread, and wall-clock time."""

    cpu_us: float
    wall_us: float


async def time_requests(running: Running, number: int) -> Timing:
    """The cost per request of ``number`` requests awaited one after the other.

    The requests never wait for anything, so their cost is CPU time: the thread's CPU clock
    leaves out the time this process waits while other work on a shared machine holds the CPU,
    which the wall clock counts (and which made rounds of the same code differ 2x).
    """
    app, scope = running.app, running.scope
    wall, cpu = time.perf_counter(), time.thread_time()
    for _ in range(number):
        await app(copy_scope(scope), receive, discard)
    return Timing((time.thread_time() - cpu) / number * 1e6, (time.perf_counter() - wall) / number * 1e6)


@dataclass(frozen=True)
class Round:
    number: int
    order: tuple[str, ...]
    timings: dict[str, Timing]  # by app

    @property
    def ratio(self) -> float:
        return self.timings["many"].cpu_us / self.timings["one"].cpu_us

    @property
    def wall_ratio(self) -> float:
        return self.timings["many"].wall_us / self.timings["one"].wall_us


async def run(args: argparse.Namespace) -> list[Round]:
    path = f"/hook{args.hooks - 1}"
    apps = {
        "many": await start("many", build_app(args.hooks, only_last=False), path),
        "one": await start("one", build_app(args.hooks, only_last=True), path),
    }
    try:
        for running in apps.values():
            await check(running)
        # Warm-up, not a round: first calls fill caches (the body's parse, pydantic's, the hooks').
        warmup = {name: await time_requests(running, args.warmup) for name, running in apps.items()}
        print(
            f"warm-up ({args.warmup:,} requests each, not counted): "
            + ", ".join(f"{name} {t.cpu_us:.2f} us CPU ({t.wall_us:.2f} wall)" for name, t in warmup.items()),
            flush=True,
        )
        rounds = []
        for number in range(1, args.rounds + 1):
            order = ("many", "one") if number % 2 else ("one", "many")
            timings = {name: await time_requests(apps[name], args.number) for name in order}
            rounds.append(Round(number, order, timings))
            many, one = timings["many"], timings["one"]
            print(
                f"round {number:2}: {order[0]:4} first; CPU many {many.cpu_us:7.2f} us, one "
                f"{one.cpu_us:6.2f} us, ratio {rounds[-1].ratio:.3f}; wall many {many.wall_us:7.2f} us, "
                f"one {one.wall_us:6.2f} us, ratio {rounds[-1].wall_ratio:.3f}",
                flush=True,
            )
    finally:
        for running in apps.values():
            await running.shutdown()
    return rounds


def report(rounds: list[Round], hooks: int) -> str:
    lines = [
        f"| round | order | {hooks} hooks, POST to the last: CPU (µs) | one hook: CPU (µs) | ratio "
        f"| wall: {hooks} hooks (µs) | wall: one hook (µs) | wall ratio |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rounds:
        many, one = r.timings["many"], r.timings["one"]
        lines.append(
            f"| {r.number} | {' '.join(r.order)} | {many.cpu_us:.2f} | {one.cpu_us:.2f} | {r.ratio:.3f} "
            f"| {many.wall_us:.2f} | {one.wall_us:.2f} | {r.wall_ratio:.3f} |"
        )

    def median(app: str, wall: bool = False) -> float:
        return statistics.median(r.timings[app].wall_us if wall else r.timings[app].cpu_us for r in rounds)

    ratio = statistics.median(r.ratio for r in rounds)
    wall_ratio = statistics.median(r.wall_ratio for r in rounds)
    lines.append(
        f"| median | | **{median('many'):.2f}** | **{median('one'):.2f}** | **{ratio:.3f}** "
        f"| {median('many', wall=True):.2f} | {median('one', wall=True):.2f} | {wall_ratio:.3f} |"
    )
    met = "met" if ratio <= TARGET else "NOT met"
    lines += [
        "",
        f"{hooks} hooks / one hook, CPU time per request (median of per-round ratios): **{ratio:.3f}x**, "
        f"{median('many') - median('one'):+.2f} µs per request (medians); target <= {TARGET:.2f}x: "
        f"**{met}** (wall-clock ratio {wall_ratio:.3f}x)",
    ]
    return "\n".join(lines)


def results_section(args: argparse.Namespace, started: datetime.datetime, table: str) -> str:
    lines = [
        f"## Dispatch: a POST to the last of {args.hooks} hooks against the same POST to an app with one",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        f"- Code: {code_version('jambonz_webhooks', 'benchmarks/dispatch.py')}",
        f"- Python {sys.version.split()[0]}, starlette {package_version('starlette')}, pydantic "
        f"{package_version('pydantic')} (pydantic-core {package_version('pydantic-core')}); "
        f"`nproc` = {os.cpu_count()}",
        f"- Command (from the repository's root): `{command_line('dispatch.py')}`",
        f"- In process: `JambonzApp(insecure=True)` (no secret, credentials, Redis), hooks `/hook0` ... "
        f"`/hook{args.hooks - 1}` (each its own `async def hook(call: CallSession) -> WebhookResponse: "
        f"return WebhookResponse().hangup()`) against the same handler at `/hook{args.hooks - 1}` alone; "
        f"the request `POST /hook{args.hooks - 1}` with the {len(BODY):,}-byte call hook of "
        "`benchmarks/payload.py`, one ASGI call each (a copy of a prebuilt scope, a receive that gives "
        "the body, a send that drops the answer), after the lifespan startup",
        f"- {args.rounds} rounds of {args.number:,} requests per app, awaited back to back in one asyncio "
        f"loop, the order alternating; {args.warmup:,} requests of warm-up per app first; the cost is the "
        "thread's CPU time per request (`time.thread_time`), the wall-clock time beside it",
        "",
        table,
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--hooks", type=int, default=200, help="hooks of the big app")
    parser.add_argument("--number", type=int, default=1000, help="requests per app per round")
    parser.add_argument("--rounds", type=int, default=21, help="rounds, the order alternating")
    parser.add_argument("--warmup", type=int, default=2000, help="requests per app before the rounds")
    parser.add_argument("--write", action="store_true", help="rewrite the dispatch section of RESULTS.md")
    args = parser.parse_args(argv)
    if min(args.hooks, args.number, args.rounds, args.warmup) < 1:
        parser.error("--hooks, --number, --rounds and --warmup must be at least 1")

    for name in [name for name in os.environ if name.startswith("JAMBONZ_")]:
        del os.environ[name]
    started = datetime.datetime.now(datetime.UTC)
    try:
        rounds = asyncio.run(run(args))
    except DispatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    table = report(rounds, args.hooks)
    print()
    print(table)
    if args.write:
        write_results(results_section(args, started, table), "dispatch")
        print("\nwrote benchmarks/RESULTS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
