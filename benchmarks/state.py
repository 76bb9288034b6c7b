"""Per-hook cost of per-call state (``CallState``) with each store, in process (no server, no socket).

    python benchmarks/state.py [--number 5000] [--repeat 7] [--write]

Each app is a ``JambonzApp`` with a call hook ``/incoming`` and an action hook ``/menu``, driven
by ASGI calls as ``benchmarks/micro.py`` does (one ``run_until_complete`` per request). The
stores: ``NullStore`` (keeps nothing: the framework with no store work), ``MemoryStore`` and
``RedisStore`` on a ``redis-server`` this script starts on a free 127.0.0.1 port (no persistence)
and stops at the end. The requests:

- ``/incoming`` with the 2.6 KB call hook of ``benchmarks/payload.py``: the framework keeps the
  raw payload in the call's state before the handler runs (one write);
- ``/menu`` with a gather result, three handlers: one that does not use state (the baseline),
  one that reads one value and writes one (``state.get`` + ``state.set``), one that reads
  ``await state.env_vars()`` (the session kept by ``/incoming``, validated again).

Each figure is the best of ``--repeat`` rounds of ``--number`` requests, in microseconds per
whole ASGI request; the rounds interleave the cases, so drift on a shared machine hits them
alike. For context it also times, awaited in a loop, one HGET with ``redis.asyncio`` alone,
one ``RedisStore.get`` and one ``RedisStore.set`` of the call hook's payload. ``--write``
rewrites the state section of benchmarks/RESULTS.md (appended at its end the first time).
Exits 2 when redis-server is missing, 1 when an answer is not what it should be.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import platform
import shlex
import shutil
import socket
import subprocess
import sys
import time
import timeit
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from load import code_version, command_line, write_results
from load import package_version as version
from payload import body as call_hook_body
from payload import session_new

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout's package first

from redis import asyncio as aioredis
from starlette.types import Message

from jambonz_webhooks import (
    CallSession,
    CallState,
    GatherResult,
    JambonzApp,
    MemoryStore,
    RedisStore,
    WebhookResponse,
)
from jambonz_webhooks.state import SESSION_KEY, StateStore

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "RESULTS.md"

INCOMING_BODY = call_hook_body()
CALL_SID: str = session_new()["call_sid"]
ENV_VARS: dict[str, Any] = session_new()["env_vars"]

# The call fields every hook carries, taken from the call hook so both hooks are of one call.
_CALL_FIELDS = (
    "call_sid",
    "account_sid",
    "application_sid",
    "direction",
    "from",
    "to",
    "call_id",
    "sbc_callid",
    "trace_id",
    "originating_sip_ip",
    "originating_sip_trunk_name",
    "api_base_url",
)


def gather_payload() -> dict[str, Any]:
    """The gather's action hook payload: the call's fields and the digit pressed."""
    call = session_new()
    data = {field: call[field] for field in _CALL_FIELDS}
    data.update(
        {"call_status": "in-progress", "sip_status": 200, "sip_reason": "OK", "reason": "dtmfDetected"}
    )
    data["digits"] = "1"
    return data


MENU_BODY = json.dumps(gather_payload(), separators=(",", ":"), ensure_ascii=False).encode()


class NullStore:
    """A store that keeps nothing: the framework's request with no store work at all."""

    async def get(self, call_sid: str, key: str) -> bytes | None:
        """Nothing is ever there."""
        return None

    async def get_all(self, call_sid: str) -> dict[str, bytes]:
        """Nothing is ever there."""
        return {}

    async def set(self, call_sid: str, values: Mapping[str, bytes]) -> None:
        """Forget the values at once."""

    async def delete(self, call_sid: str, *keys: str) -> None:
        """Nothing to delete."""

    async def drop(self, call_sid: str) -> None:
        """Nothing to drop."""

    async def aclose(self) -> None:
        """Nothing to release."""


# --- the apps -------------------------------------------------------------------------------

# The three /menu handlers answer the same verbs, so only their use of state differs.
MENU_VARIANTS = ("none", "get+set", "env_vars")


async def incoming(call: CallSession) -> WebhookResponse:
    """The call hook: a prompt and a gather (the framework has kept the payload by now)."""
    return (
        WebhookResponse()
        .say(text="Hello, and thank you for calling.")
        .gather(input=["digits"], num_digits=1, timeout=10, action_hook="/menu")
        .hangup()
    )


async def menu_without_state(result: GatherResult) -> WebhookResponse:
    """The baseline: no state asked for."""
    company = "Acme"
    return WebhookResponse().say(text=f"{company}: you pressed {result.digits}.").hangup()


async def menu_get_set(result: GatherResult, state: CallState) -> WebhookResponse:
    """Read one value and write one."""
    await state.get("choice")
    await state.set("choice", result.digits)
    company = "Acme"
    return WebhookResponse().say(text=f"{company}: you pressed {result.digits}.").hangup()


async def menu_env_vars(result: GatherResult, state: CallState) -> WebhookResponse:
    """Read the application's env_vars, kept with the call hook's payload."""
    company = (await state.env_vars()).get("COMPANY_NAME", "none")
    return WebhookResponse().say(text=f"{company}: you pressed {result.digits}.").hangup()


MENU_HANDLERS: dict[str, Callable[..., Awaitable[WebhookResponse]]] = {
    "none": menu_without_state,
    "get+set": menu_get_set,
    "env_vars": menu_env_vars,
}


def make_app(store: StateStore, menu_variant: str) -> JambonzApp:
    """An app on ``store`` with /incoming and the /menu handler of ``menu_variant``."""
    # No signature or credentials, whatever the environment says: the checks are not measured here.
    app = JambonzApp(webhook_secret=[], insecure=True, state=store)
    app.call_hook("/incoming")(incoming)
    app.action_hook("/menu")(MENU_HANDLERS[menu_variant])
    return app


# --- ASGI calls -----------------------------------------------------------------------------


def scope_for(path: str) -> dict[str, Any]:
    """An HTTP scope as uvicorn gives it for a JSON POST to ``path``."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


def asgi_call(app: JambonzApp, path: str, body: bytes, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """One whole ASGI request per call, its answer discarded (as micro.asgi_call, for any path)."""
    scope = scope_for(path)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        pass

    def call() -> None:
        loop.run_until_complete(app(dict(scope, state={}), receive, send))

    return call


def asgi_answer(
    app: JambonzApp, path: str, body: bytes, loop: asyncio.AbstractEventLoop
) -> tuple[int, bytes]:
    """One ASGI request whose status and body are kept, to check the answer."""
    scope = scope_for(path)
    sent: list[Message] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    loop.run_until_complete(app(dict(scope, state={}), receive, send))
    status = next(int(message["status"]) for message in sent if message["type"] == "http.response.start")
    return status, b"".join(
        message.get("body", b"") for message in sent if message["type"] == "http.response.body"
    )


class CheckError(Exception):
    """An answer or a stored value is not what the benchmark expects."""


def check_answers(
    store_name: str, store: StateStore, apps: Mapping[str, JambonzApp], loop: asyncio.AbstractEventLoop
) -> None:
    """Each request answers 200 with the expected verbs, and the state holds what it should."""
    status, answer = asgi_answer(apps["none"], "/incoming", INCOMING_BODY, loop)
    verbs = [verb["verb"] for verb in json.loads(answer)] if status == 200 else []
    if verbs != ["say", "gather", "hangup"]:
        raise CheckError(f"{store_name}: /incoming answered {status} {answer[:200]!r}")
    kept = loop.run_until_complete(CallState(store, CALL_SID).env_vars())
    expected = {} if isinstance(store, NullStore) else ENV_VARS
    if kept != expected:
        raise CheckError(f"{store_name}: env_vars kept by /incoming are {kept!r}, not {expected!r}")
    for variant, app in apps.items():
        company = "none" if variant == "env_vars" and isinstance(store, NullStore) else "Acme"
        status, answer = asgi_answer(app, "/menu", MENU_BODY, loop)
        said = json.loads(answer)[0].get("text") if status == 200 else None
        if said != f"{company}: you pressed 1.":
            raise CheckError(f"{store_name}: /menu ({variant}) answered {status} {answer[:200]!r}")
    choice = loop.run_until_complete(CallState(store, CALL_SID).get("choice"))
    if choice != (None if isinstance(store, NullStore) else "1"):
        raise CheckError(f"{store_name}: /menu (get+set) left choice={choice!r}")


# --- redis-server ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A throwaway redis-server on a free loopback port, without persistence."""

    def __init__(self, executable: str) -> None:
        self.executable = executable
        self.port = _free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def command(self) -> list[str]:
        return [
            self.executable,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]

    def start(self, timeout: float = 10.0) -> None:
        self.process = subprocess.Popen(self.command(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                raise RuntimeError(f"redis-server exited with {self.process.returncode}: {error.strip()}")
            if _ping(self.port):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server did not answer PING on port {self.port} within {timeout} s")

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None


def redis_server_version(executable: str) -> str:
    out = subprocess.run([executable, "--version"], capture_output=True, text=True, check=False).stdout
    version = next((part[2:] for part in out.split() if part.startswith("v=")), "unknown")
    return version


# --- measuring ------------------------------------------------------------------------------


@dataclass
class Case:
    """Something timed: ``run`` does ``per_run`` operations, and is called ``number`` times per round."""

    run: Callable[[], None]
    per_run: int
    number: int
    best: float = float("inf")  # seconds per operation, the best round so far

    def round(self) -> None:
        elapsed = timeit.Timer(self.run).timeit(number=self.number)  # gc off meanwhile, as timeit does
        self.best = min(self.best, elapsed / (self.number * self.per_run))


def loop_of(operation: Callable[[], Awaitable[object]], count: int, loop: asyncio.AbstractEventLoop) -> Case:
    """A case that awaits ``operation`` ``count`` times in one coroutine: the bare cost of each."""

    async def many() -> None:
        for _ in range(count):
            await operation()

    return Case(lambda: loop.run_until_complete(many()), per_run=count, number=1)


STORES = ("NullStore", "MemoryStore", "RedisStore")
REQUESTS = (
    ("incoming", "`/incoming`: call hook, the framework keeps the 2.6 KB payload"),
    ("menu:none", "`/menu`: handler without state (baseline)"),
    ("menu:get+set", "`/menu`: `await state.get(...)` + `await state.set(...)`"),
    ("menu:env_vars", "`/menu`: `await state.env_vars()`"),
)


@dataclass
class Results:
    """µs per whole request, by request and store; and the raw Redis timings."""

    requests: dict[tuple[str, str], float]
    raw_hget: float
    store_get: float
    store_set: float


def measure(args: argparse.Namespace, redis_url: str) -> Results:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    redis_store = RedisStore(redis_url, timeout=2.0)
    stores: dict[str, StateStore] = {
        "NullStore": NullStore(),
        "MemoryStore": MemoryStore(),
        "RedisStore": redis_store,
    }
    raw = aioredis.Redis.from_url(redis_url, decode_responses=False)
    try:
        cases: dict[tuple[str, str], Case] = {}
        for store_name, store in stores.items():
            apps = {variant: make_app(store, variant) for variant in MENU_VARIANTS}
            check_answers(store_name, store, apps, loop)
            cases["incoming", store_name] = Case(
                asgi_call(apps["none"], "/incoming", INCOMING_BODY, loop), per_run=1, number=args.number
            )
            for variant, app in apps.items():
                cases[f"menu:{variant}", store_name] = Case(
                    asgi_call(app, "/menu", MENU_BODY, loop), per_run=1, number=args.number
                )
        hash_name = redis_store.prefix + CALL_SID
        hget = loop_of(lambda: raw.hget(hash_name, "choice"), args.number, loop)
        store_get = loop_of(lambda: redis_store.get(CALL_SID, "choice"), args.number, loop)
        # What the framework writes for a call hook, to a call of its own.
        session = {SESSION_KEY: INCOMING_BODY}
        store_set = loop_of(lambda: redis_store.set("set-only", session), args.number, loop)
        if loop.run_until_complete(raw.hget(hash_name, "choice")) != b'"1"':
            raise CheckError("the raw HGET does not read what /menu stored")
        timed = [*cases.values(), hget, store_get, store_set]
        for case in timed:  # warm-up: connections open, caches filled
            case.run()
        for _ in range(args.repeat):
            for case in timed:
                case.round()
        return Results(
            requests={key: case.best * 1e6 for key, case in cases.items()},
            raw_hget=hget.best * 1e6,
            store_get=store_get.best * 1e6,
            store_set=store_set.best * 1e6,
        )
    finally:
        loop.run_until_complete(raw.aclose())
        for store in stores.values():
            loop.run_until_complete(store.aclose())
        loop.close()


# --- reporting ------------------------------------------------------------------------------


def request_table(results: Results) -> str:
    lines = [
        "| request | NullStore | MemoryStore | RedisStore |",
        "| --- | ---: | ---: | ---: |",
    ]
    for key, label in REQUESTS:
        cells = " | ".join(f"{results.requests[key, store]:.1f}" for store in STORES)
        lines.append(f"| {label} | {cells} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Cost:
    label: str
    memory: float
    redis: float
    round_trips: int


def costs(results: Results) -> list[Cost]:
    """The per-hook cost of state: each request less the same request without state."""
    r = results.requests

    def menu(variant: str, store: str) -> float:
        return r[f"menu:{variant}", store] - r["menu:none", store]

    return [
        Cost(
            "call hook: keeping the session (`/incoming` less the same with NullStore)",
            r["incoming", "MemoryStore"] - r["incoming", "NullStore"],
            r["incoming", "RedisStore"] - r["incoming", "NullStore"],
            1,
        ),
        Cost(
            "action hook: `get` + `set` (less `/menu` without state, same store)",
            menu("get+set", "MemoryStore"),
            menu("get+set", "RedisStore"),
            2,
        ),
        Cost(
            "action hook: `env_vars()` (less `/menu` without state, same store)",
            menu("env_vars", "MemoryStore"),
            menu("env_vars", "RedisStore"),
            1,
        ),
    ]


def cost_table(results: Results) -> str:
    lines = [
        "| per-hook cost of state | MemoryStore | RedisStore | Redis round trips |",
        "| --- | ---: | ---: | ---: |",
    ]
    for cost in costs(results):
        lines.append(f"| {cost.label} | {cost.memory:+.1f} | {cost.redis:+.1f} | {cost.round_trips} |")
    lines += [
        f"| for context: one HGET with `redis.asyncio` alone | | {results.raw_hget:.1f} | 1 |",
        f"| for context: one `RedisStore.get` (HGET, socket timeouts, `asyncio.wait_for`) | "
        f"| {results.store_get:.1f} | 1 |",
        f"| for context: one `RedisStore.set` of the 2.6 KB payload (MULTI/HSET/PEXPIRE/EXEC) | "
        f"| {results.store_set:.1f} | 1 |",
    ]
    return "\n".join(lines)


def reading(results: Results) -> str:
    """One paragraph on what the numbers say, from the numbers."""
    keep, get_set, env = costs(results)
    r = results.requests
    baselines = [r["menu:none", store] for store in STORES]
    return (
        f"With MemoryStore, keeping the call hook's payload costs {keep.memory:.1f} µs and a `get` "
        f"and a `set` {get_set.memory:.1f} µs (JSON in and out of a dict); `env_vars()` costs "
        f"{env.memory:.1f} µs, nearly all of it validating the kept 2.6 KB payload into a "
        f"`CallSession` again (the whole `/menu` request without state: {min(baselines):.1f}-"
        f"{max(baselines):.1f} µs whatever the store, since an unused store is not touched). With "
        f"RedisStore every store operation is a round trip to redis-server over loopback, and the "
        f"round trips are nearly all of the cost: {keep.redis:.1f} µs to keep the payload, "
        f"{get_set.redis:.1f} µs for a `get` and a `set`, {env.redis:.1f} µs for `env_vars()`. A write "
        f"is a MULTI/HSET/PEXPIRE/EXEC pipeline, {results.store_set:.1f} µs alone through "
        f"`RedisStore.set`, against {results.store_get:.1f} µs for a `RedisStore.get`; a bare HGET "
        f"with `redis.asyncio` takes {results.raw_hget:.1f} µs, so the store's socket timeouts and "
        "`asyncio.wait_for` (which keep a hook from hanging on a dead Redis) add "
        f"{results.store_get - results.raw_hget:.1f} µs. Within a request an operation takes longer "
        f"than back to back in a loop ({keep.redis:.1f} µs to keep the payload against "
        f"{results.store_set:.1f} µs for the same `RedisStore.set` alone), so the loop's figures are a "
        "floor, not a prediction. These are latencies with one request at a "
        "time; while a hook waits for Redis the event loop can serve other requests. redis-server shares the "
        "machine's two cores with the benchmark here; a Redis on another host trades that for "
        "network latency."
    )


def results_section(
    args: argparse.Namespace,
    started: datetime.datetime,
    server: RedisServer,
    redis_version: str,
    results: Results,
) -> str:
    server_command = shlex.join(server.command()).replace(str(server.port), "PORT")
    lines = [
        "## Per-call state: the per-hook cost with each store",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        f"- Code: {code_version('jambonz_webhooks', 'benchmarks/state.py')}",
        f"- Python {platform.python_version()}, redis-py {version('redis')}, redis-server {redis_version}, "
        f"starlette {version('starlette')}, pydantic {version('pydantic')} "
        f"(pydantic-core {version('pydantic-core')}); `nproc` = {os.cpu_count()}",
        f"- Command (from the repository's root): `{command_line('state.py')}`",
        f"- Redis: `{server_command}`, started and stopped by the script; RedisStore and the raw "
        "client connect over loopback",
        f"- In process, as `benchmarks/micro.py`: µs per whole ASGI request (one `run_until_complete` "
        f"each, default asyncio loop), best of {args.repeat} interleaved rounds of {args.number:,}; "
        f"`/incoming` with the {len(INCOMING_BODY):,}-byte call hook of `benchmarks/payload.py`, "
        f"`/menu` with a {len(MENU_BODY)}-byte gather result of the same call; `NullStore` keeps nothing "
        "(with it, `env_vars()` finds no session and parses nothing)",
        "",
        request_table(results),
        "",
        cost_table(results),
        "",
        reading(results),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--number", type=int, default=5000, help="requests per round and case")
    parser.add_argument("--repeat", type=int, default=7, help="rounds; each figure is the best")
    parser.add_argument("--write", action="store_true", help="rewrite the state section of RESULTS.md")
    args = parser.parse_args(argv)
    if args.number < 1 or args.repeat < 1:
        parser.error("--number and --repeat must be positive")

    executable = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if executable is None:
        print(
            "state.py: redis-server is not installed (apt-get install redis-server); RedisStore needs it",
            file=sys.stderr,
        )
        return 2
    started = datetime.datetime.now(datetime.UTC)
    server = RedisServer(executable)
    try:
        server.start()
        results = measure(args, server.url)
    except CheckError as exc:
        print(f"state.py: {exc}", file=sys.stderr)
        return 1
    finally:
        server.stop()

    section = results_section(args, started, server, redis_server_version(executable), results)
    print(section)
    if args.write:
        write_results(section, "state")
        print(f"\nwrote the state section of {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
