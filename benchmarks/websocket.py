"""The example IVR over jambonz's WebSocket API: many calls at once, memory per call, and a hook's cost.

    .venv/bin/python benchmarks/websocket.py [--calls 1000] [--burst 200] [--hooks 2000] [--rounds 4]

It serves ``example_app.app:app`` with ``jambonz-webhooks run`` (opened: no credentials, so that
what is measured is the transport) and, from this process:

1. opens ``--burst`` sockets at once and sends each a ``session:new`` at the same moment, as
   jambonz does when that many calls arrive together: every ack must come within jambonz's 5 s;
   the ack latencies (p50, p99, max) are printed;
2. opens sockets until ``--calls`` calls are up, each after its ``session:new`` ack, and reads
   the server's VmRSS before and after: the memory of an idle call;
3. sends ``--hooks`` ``verb:hook`` messages for ``/menu`` one after another on one socket, and
   as many POSTs of the same payload to ``/menu`` on one kept-alive HTTP connection, in
   alternating rounds (WS, HTTP, WS, HTTP, ...): the time per hook each way, every round
   printed, and the median ratio WebSocket / HTTP (target: at most 1.0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx2
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.payloads import call_info, session_new  # noqa: E402

SUBPROTOCOL = "ws.jambonz.org"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def _serve(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "JAMBONZ_WEBHOOK_INSECURE": "1", "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    for name in (
        "JAMBONZ_WEBHOOK_SECRET",
        "JAMBONZ_WEBHOOK_USERNAME",
        "JAMBONZ_WEBHOOK_PASSWORD",
        "JAMBONZ_REDIS_URL",
    ):
        env.pop(name, None)
    command = [sys.executable, "-m", "jambonz_webhooks", "run", "example_app.app:app", "--port", str(port)]
    command += ["--no-access-log", "--log-level", "warning", "--timeout-idle", "600"]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the server did not start")


def _frame(kind: str, data: dict[str, Any], **fields: Any) -> tuple[str, str]:
    msgid = uuid.uuid4().hex[:22]
    return msgid, json.dumps({"type": kind, "msgid": msgid, **fields, "data": data})


async def _open(port: int) -> ClientConnection:
    return await connect(f"ws://127.0.0.1:{port}/incoming", subprotocols=[Subprotocol(SUBPROTOCOL)])


async def _new_call(sock: ClientConnection, start: asyncio.Event | None = None) -> float:
    sid = str(uuid.uuid4())
    msgid, text = _frame("session:new", session_new(call_sid=sid), call_sid=sid)
    if start is not None:
        await start.wait()
    sent = time.perf_counter()
    await sock.send(text)
    ack = json.loads(await sock.recv())
    assert ack["msgid"] == msgid and ack["data"], ack
    return time.perf_counter() - sent


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


async def burst(port: int, count: int) -> dict[str, float]:
    sockets = await asyncio.gather(*(_open(port) for _ in range(count)))
    start = asyncio.Event()
    waits = [asyncio.ensure_future(_new_call(sock, start)) for sock in sockets]
    await asyncio.sleep(0.2)
    start.set()
    latencies = await asyncio.gather(*waits)
    await asyncio.gather(*(sock.close() for sock in sockets))
    return {
        "calls": count,
        "within_5s": sum(1 for value in latencies if value < 5.0),
        "p50_ms": _percentile(latencies, 0.5) * 1000,
        "p99_ms": _percentile(latencies, 0.99) * 1000,
        "max_ms": max(latencies) * 1000,
    }


async def idle_calls(port: int, pid: int, count: int) -> dict[str, float]:
    warm = [await _open(port) for _ in range(20)]
    for sock in warm:
        await _new_call(sock)
    before = _rss_kib(pid)
    sockets: list[ClientConnection] = []
    for index in range(0, count, 50):
        opened = await asyncio.gather(*(_open(port) for _ in range(min(50, count - index))))
        await asyncio.gather(*(_new_call(sock) for sock in opened))
        sockets.extend(opened)
    await asyncio.sleep(1.0)
    after = _rss_kib(pid)
    await asyncio.gather(*(sock.close() for sock in [*warm, *sockets]))
    return {
        "calls": count,
        "rss_before_mib": before / 1024,
        "rss_after_mib": after / 1024,
        "kib_per_call": (after - before) / count,
    }


async def hook_rounds(port: int, hooks: int, rounds: int) -> list[tuple[float, float]]:
    sock = await _open(port)
    await _new_call(sock)
    payload = call_info(reason="dtmfDetected", digits="2")
    body = json.dumps(payload).encode()
    results: list[tuple[float, float]] = []
    async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(hooks):
                msgid, text = _frame("verb:hook", payload, hook="/menu")
                await sock.send(text)
                ack = json.loads(await sock.recv())
                assert ack["msgid"] == msgid and ack["data"]
            ws = (time.perf_counter() - started) / hooks
            started = time.perf_counter()
            for _ in range(hooks):
                answer = await client.post(
                    "/menu", content=body, headers={"Content-Type": "application/json"}
                )
                assert answer.status_code == 200
            http = (time.perf_counter() - started) / hooks
            results.append((ws, http))
    await sock.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--hooks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port = _free_port()
    server = _serve(port)
    try:
        result = asyncio.run(burst(port, args.burst))
        print(
            f"burst: {result['calls']:.0f} session:new at once, {result['within_5s']:.0f} acked within 5 s; "
            f"ack p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms"
        )
        idle = asyncio.run(idle_calls(port, server.pid, args.calls))
        print(
            f"idle: {idle['calls']:.0f} calls up at once; server VmRSS {idle['rss_before_mib']:.1f} -> "
            f"{idle['rss_after_mib']:.1f} MiB, {idle['kib_per_call']:.1f} KiB a call (target < 50)"
        )
        rounds = asyncio.run(hook_rounds(port, args.hooks, args.rounds))
        ratios = []
        for number, (ws, http) in enumerate(rounds, 1):
            ratios.append(ws / http)
            print(
                f"round {number}: verb:hook over WebSocket {ws * 1e6:.0f} us, "
                f"POST /menu {http * 1e6:.0f} us, ratio {ws / http:.3f}"
            )
        print(f"WebSocket / HTTP per hook, median of rounds: {statistics.median(ratios):.3f} (target <= 1.0)")
        ok = result["within_5s"] == result["calls"]
    finally:
        server.terminate()
        server.wait(timeout=15)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
