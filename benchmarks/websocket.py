"""The example IVR over jambonz's WebSocket API: many calls at once, memory per call, and a hook's cost.

    .venv/bin/python benchmarks/websocket.py [--calls 1000] [--hold 6] [--burst 200] [--bursts 3]
        [--hooks 2000] [--rounds 8]

It serves ``example_app.app:app`` as a user runs it, ``jambonz-webhooks run`` with its defaults
(access log on: the framework's line per hook; uvicorn's own per-request line is off, run's
default since session 9; written to ``benchmarks/out/websocket-server.log``), opened (no
credentials: what is measured is the transport), and from this process, as jambonz would:

1. ``--bursts`` times, opens ``--burst`` sockets and sends each a ``session:new`` at the same
   moment, as when that many calls arrive together: every ack must come within jambonz's 5 s;
   the ack latencies (p50, p99, max) are printed, each burst's and all together;
2. brings ``--calls`` calls up at once, each after its ``session:new`` ack, reads the server's
   VmRSS before and after (the memory of an idle call, target under 50 KiB), holds them
   ``--hold`` seconds (longer than ``run``'s 5 s HTTP idle bound: a call's socket must outlive
   it), then sends every one of them a ``verb:hook``: each must still be acked;
3. sends ``--hooks`` ``verb:hook`` messages for ``/menu`` one after another on one socket, and
   as many POSTs of the same payload to ``/menu`` on one kept-alive HTTP connection, in
   alternating rounds (WS, HTTP, WS, HTTP, ...), and reads the server process's CPU time
   (utime + stime of /proc/<pid>/stat) before and after each round: the server's CPU per hook
   on each transport, every round printed, and the median over pairs of rounds of the ratio
   WebSocket / HTTP (target: at most 1.0). The clients' own costs are out of it; their wall
   clock is printed beside it.

Exits 1 if an ack is missing or late, or a held call lost.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
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

SUBPROTOCOL = Subprotocol("ws.jambonz.org")
ACK_WAIT = 5.0  # seconds jambonz waits for an ack
LOG = REPO / "benchmarks" / "out" / "websocket-server.log"
LOG_SETTLE = 0.3  # seconds for the access log's batches (0.1 s timer) to be written after a round
TICK = os.sysconf("SC_CLK_TCK")


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


def _cpu_seconds(pid: int) -> float:
    """utime + stime of the process (all its threads), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) ": field 3 is fields[0]
    return (int(fields[11]) + int(fields[12])) / TICK  # fields 14 and 15 of proc(5)


def _serve(port: int) -> subprocess.Popen[bytes]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("JAMBONZ_")}
    env.update({"JAMBONZ_WEBHOOK_INSECURE": "1", "PYTHONUNBUFFERED": "1"})
    env.pop("LOG_LEVEL", None)
    env.pop("LOG_FORMAT", None)
    command = [sys.executable, "-m", "jambonz_webhooks", "run", "example_app.app:app", "--port", str(port)]
    LOG.parent.mkdir(parents=True, exist_ok=True)
    with open(LOG, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if f"Uvicorn running on http://127.0.0.1:{port}" in LOG.read_text(errors="replace"):
            return process
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("the server did not start:\n" + LOG.read_text(errors="replace"))


def _frame(kind: str, data: dict[str, Any], **fields: Any) -> tuple[str, str]:
    msgid = uuid.uuid4().hex[:22]
    return msgid, json.dumps({"type": kind, "msgid": msgid, **fields, "data": data})


async def _open(port: int) -> ClientConnection:
    return await connect(f"ws://127.0.0.1:{port}/incoming", subprotocols=[SUBPROTOCOL])


async def _exchange(sock: ClientConnection, msgid: str, text: str) -> float:
    """Send a message and wait for its ack (with verbs): the seconds it took."""
    sent = time.perf_counter()
    await sock.send(text)
    ack = json.loads(await asyncio.wait_for(sock.recv(), ACK_WAIT * 2))
    assert ack["type"] == "ack" and ack["msgid"] == msgid and ack["data"], ack
    return time.perf_counter() - sent


async def _new_call(sock: ClientConnection, start: asyncio.Event | None = None) -> tuple[str, float]:
    """A call's session:new, sent once ``start`` is set: its call_sid and ack latency."""
    sid = str(uuid.uuid4())
    msgid, text = _frame("session:new", session_new(call_sid=sid), call_sid=sid)
    if start is not None:
        await start.wait()
    return sid, await _exchange(sock, msgid, text)


async def _menu(sock: ClientConnection, sid: str) -> float:
    msgid, text = _frame("verb:hook", call_info(call_sid=sid, reason="timeout"), hook="/menu", call_sid=sid)
    return await _exchange(sock, msgid, text)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _latencies(values: list[float]) -> str:
    within = sum(1 for value in values if value < ACK_WAIT)
    return (
        f"{within} of {len(values)} acked within 5 s; ack p50 {_percentile(values, 0.5) * 1000:.1f} ms, "
        f"p99 {_percentile(values, 0.99) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms"
    )


async def burst(port: int, count: int) -> list[float]:
    """``count`` calls whose session:new go out at the same moment: their ack latencies."""
    sockets = await asyncio.gather(*(_open(port) for _ in range(count)))
    start = asyncio.Event()
    waits = [asyncio.ensure_future(_new_call(sock, start)) for sock in sockets]
    await asyncio.sleep(0.2)
    start.set()
    latencies = [latency for _, latency in await asyncio.gather(*waits)]
    await asyncio.gather(*(sock.close() for sock in sockets))
    return latencies


async def held_calls(port: int, pid: int, count: int, hold: float) -> dict[str, Any]:
    """``count`` calls up at once, held ``hold`` s, then hooked once each."""
    warm = [await _open(port) for _ in range(20)]
    for sock in warm:
        await _new_call(sock)
    await asyncio.sleep(0.5)
    before = _rss_kib(pid)
    calls: list[tuple[ClientConnection, str]] = []
    for index in range(0, count, 50):
        opened = await asyncio.gather(*(_open(port) for _ in range(min(50, count - index))))
        sids = await asyncio.gather(*(_new_call(sock) for sock in opened))
        calls.extend((sock, sid) for sock, (sid, _) in zip(opened, sids, strict=True))
    await asyncio.sleep(1.0)
    after = _rss_kib(pid)
    await asyncio.sleep(max(0.0, hold - 1.0))
    held = _rss_kib(pid)
    hooked: list[float] = []
    for index in range(0, count, 100):
        hooked += await asyncio.gather(*(_menu(sock, sid) for sock, sid in calls[index : index + 100]))
    await asyncio.gather(*(sock.close() for sock in [*warm, *(sock for sock, _ in calls)]))
    return {
        "before": before,
        "after": after,
        "held": held,
        "kib_per_call": (after - before) / count,
        "hooked": hooked,
    }


async def hook_rounds(port: int, pid: int, hooks: int, rounds: int) -> list[tuple[str, float, float]]:
    """Alternating rounds of ``hooks`` hooks, WS then HTTP: (transport, server CPU s, wall s) each."""
    sock = await _open(port)
    sid, _ = await _new_call(sock)
    payload = call_info(call_sid=sid, reason="dtmfDetected", digits="2")
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    results: list[tuple[str, float, float]] = []
    async with httpx2.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False) as client:
        for _ in range(50):  # both paths warm before the first round
            await _menu(sock, sid)
            assert (await client.post("/menu", content=body, headers=headers)).status_code == 200
        for number in range(rounds):
            transport = "WS" if number % 2 == 0 else "HTTP"
            await asyncio.sleep(LOG_SETTLE)
            cpu, started = _cpu_seconds(pid), time.perf_counter()
            if transport == "WS":
                for _ in range(hooks):
                    msgid, text = _frame("verb:hook", payload, hook="/menu", call_sid=sid)
                    await sock.send(text)
                    ack = json.loads(await sock.recv())
                    assert ack["msgid"] == msgid and ack["data"]
            else:
                for _ in range(hooks):
                    answer = await client.post("/menu", content=body, headers=headers)
                    assert answer.status_code == 200
            wall = time.perf_counter() - started
            await asyncio.sleep(LOG_SETTLE)  # the round's access lines written, counted in it
            results.append((transport, _cpu_seconds(pid) - cpu, wall))
    await sock.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--hold", type=float, default=6.0, help="seconds the calls are held idle")
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--hooks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=8, help="WS and HTTP rounds in all (even)")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    port = _free_port()
    server = _serve(port)
    ok = True
    try:
        print(f"server: jambonz-webhooks run example_app.app:app, pid {server.pid}, access log on ({LOG})")
        every: list[float] = []
        for number in range(1, args.bursts + 1):
            latencies = asyncio.run(burst(port, args.burst))
            every += latencies
            ok &= all(value < ACK_WAIT for value in latencies)
            print(f"burst {number}: {args.burst} session:new at once, {_latencies(latencies)}")
        print(f"bursts together: {_latencies(every)}")
        held = asyncio.run(held_calls(port, server.pid, args.calls, args.hold))
        print(
            f"held: {args.calls} calls up at once; server VmRSS {held['before'] / 1024:.1f} -> "
            f"{held['after'] / 1024:.1f} MiB, {held['kib_per_call']:.1f} KiB a call (target < 50); "
            f"{held['held'] / 1024:.1f} MiB after {args.hold:.0f} s idle"
        )
        hooked: list[float] = held["hooked"]
        ok &= len(hooked) == args.calls and all(value < ACK_WAIT for value in hooked)
        print(f"held: then a verb:hook on each of the {args.calls} calls: {_latencies(hooked)}")
        rounds = asyncio.run(hook_rounds(port, server.pid, args.hooks, args.rounds))
        for number, (transport, cpu, wall) in enumerate(rounds, 1):
            print(
                f"round {number} {transport:>4}: {args.hooks} hooks, server CPU {cpu * 1000:.0f} ms = "
                f"{cpu / args.hooks * 1e6:.0f} us a hook; client wall {wall / args.hooks * 1e6:.0f} us a hook"
            )
        ratios = [ws[1] / http[1] for ws, http in zip(rounds[::2], rounds[1::2], strict=False) if http[1] > 0]
        shown = ", ".join(f"{ratio:.3f}" for ratio in ratios)
        print(f"WebSocket / HTTP server CPU per hook, by pair of rounds: {shown}")
        if ratios:
            print(f"median of pairs: {statistics.median(ratios):.3f} (target <= 1.0)")
    finally:
        server.terminate()
        server.wait(timeout=15)
    lines = LOG.read_text(errors="replace").splitlines()
    print(f"server log: {len(lines)} lines, {sum('Traceback' in line for line in lines)} tracebacks")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
