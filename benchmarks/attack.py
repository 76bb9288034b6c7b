"""The mixed attack on a served app: what a valid hook's latency and the server's memory are under it.

    .venv/bin/python benchmarks/attack.py [--idle 2000] [--stall 300] [--big 4] [--requests 1000]
    .venv/bin/python benchmarks/attack.py --plain      # the same against plain uvicorn (httptools)

It serves ``tests/apps/serving.py`` with ``jambonz-webhooks run`` (``--plain``: ``uvicorn --http
httptools``), with a webhook secret, and measures signed call hooks (a 2.6 KB ``session-new``,
one keep-alive connection, one every ``--pace`` ms) before and during the attack, which
another process (this script with ``--attacker``, its own core's worth of Python) holds:

- ``--idle`` connections that send nothing;
- ``--stall`` connections that each send a signed-looking call hook's head declaring a
  1,000,000-byte body, then ``--stall-bytes`` of it, then nothing;
- ``--big`` connections that each send a request whose ``Jambonz-Signature`` header is 16 MB,
  again and again.

The server's timeouts are raised (``--timeout-idle``/``--timeout-body`` 60) so that it holds every
attacking connection through the measurement: the worst case for its memory and its loop; the
tests (tests/test_serving.py) show the timeouts closing them. Printed: the latency of the valid
requests (p50, p99, max, errors), the server's VmRSS (highest read every 0.1 s) and VmHWM, and
what the attackers got. Exit status 1 when a valid request failed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent
SECRET = "wh_secret_attack_benchmark"
HOST = "127.0.0.1"
BIG_HEADER = 16 * 1024 * 1024
STALL_LENGTH = 1_000_000


def raise_open_file_limit() -> int:
    """Raise this process's soft limit of open files to its hard limit; the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def signature(body: bytes, secret: str = SECRET) -> str:
    """The ``Jambonz-Signature`` value jambonz would send with ``body`` now."""
    stamp = int(time.time())
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def call_hook_body() -> bytes:
    """The benchmark's call hook body (benchmarks/payload.py's ``session-new``)."""
    sys.path.insert(0, str(BENCH_DIR))
    from payload import body  # the benchmarks' own module, beside this one

    data: bytes = body()
    return data


def request_bytes(body: bytes, path: str = "/incoming") -> bytes:
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Jambonz-Signature: {signature(body)}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


def read_response(sock: socket.socket) -> tuple[int, bytes]:
    """One HTTP/1.1 response with a Content-Length from ``sock``: its status and head."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the answer")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed in the answer's body")
        rest += chunk
    return int(head.split(b" ", 2)[1]), head


def measure(port: int, body: bytes, count: int, pace: float = 0.0, timeout: float = 10.0) -> dict[str, Any]:
    """``count`` signed call hooks on a keep-alive connection, one every ``pace`` seconds: their latency."""
    latencies: list[float] = []
    errors: list[str] = []
    sock: socket.socket | None = None
    next_start = time.perf_counter()
    for _ in range(count):
        payload = request_bytes(body)
        time.sleep(max(0.0, next_start - time.perf_counter()))
        next_start += pace
        started = time.perf_counter()
        try:
            if sock is None:
                sock = socket.create_connection((HOST, port), timeout=timeout)
            sock.sendall(payload)
            status, head = read_response(sock)
            if status != 200:
                errors.append(f"status {status}")
            if b"connection: close" in head.lower():
                sock.close()
                sock = None
        except OSError as exc:
            errors.append(type(exc).__name__)
            if sock is not None:
                sock.close()
            sock = None
            continue
        latencies.append((time.perf_counter() - started) * 1000)
    if sock is not None:
        sock.close()
    ordered = sorted(latencies) or [float("nan")]
    return {
        "requests": count,
        "ok": len(latencies) - sum(1 for error in errors if error.startswith("status")),
        "errors": errors,
        "p50_ms": statistics.median(ordered),
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        "max_ms": ordered[-1],
    }


def memory_kib(pid: int) -> tuple[int, int]:
    """VmRSS and VmHWM of process ``pid``, in KiB."""
    fields: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                fields[name] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


class RssWatch:
    """The highest VmRSS of a process, read every 0.1 s in a thread while it runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> RssWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while True:
            try:
                self.peak_kib = max(self.peak_kib, memory_kib(self.pid)[0])
            except (OSError, KeyError):
                return
            if self._stop.wait(0.1):
                return


# -- the attacker (its own process) ------------------------------------------------------------


async def _attack(
    port: int, idle: int, stall: int, stall_bytes: int, big: int, stop: asyncio.Event
) -> dict[str, Any]:
    report: dict[str, Any] = {"idle_open": 0, "stall_open": 0, "big_rounds": 0, "big_outcomes": {}}
    held: list[asyncio.StreamWriter] = []

    async def connect() -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(HOST, port, limit=1 << 20)

    async def open_idle() -> None:
        _, writer = await connect()
        held.append(writer)
        report["idle_open"] += 1

    async def open_stall() -> None:
        _, writer = await connect()
        fake = f"t={int(time.time())},v1={'0' * 64}"
        writer.write(
            (
                f"POST /incoming HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
                f"Jambonz-Signature: {fake}\r\nContent-Length: {STALL_LENGTH}\r\n\r\n"
            ).encode()
            + b"{" * stall_bytes
        )
        await writer.drain()
        held.append(writer)
        report["stall_open"] += 1

    async def send_big() -> None:
        head = f"POST /incoming HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n".encode()
        filler = b"a" * (1 << 20)
        while not stop.is_set():
            report["big_rounds"] += 1
            outcome = "sent"
            try:
                reader, writer = await connect()
                writer.write(head + b"Jambonz-Signature: t=1,v1=")
                for _ in range(BIG_HEADER // len(filler)):
                    writer.write(filler)
                    await writer.drain()
                writer.write(b"\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
                answer = await asyncio.wait_for(reader.read(64), 5)
                outcome = answer[:12].decode(errors="replace") or "closed"
            except (ConnectionError, TimeoutError) as exc:
                outcome = type(exc).__name__
            finally:
                if "writer" in locals():
                    writer.close()
            outcomes = report["big_outcomes"]
            outcomes[outcome] = outcomes.get(outcome, 0) + 1

    for start in range(0, idle, 250):
        await asyncio.gather(*(open_idle() for _ in range(start, min(idle, start + 250))))
    for start in range(0, stall, 100):
        await asyncio.gather(*(open_stall() for _ in range(start, min(stall, start + 100))))
    bigs = [asyncio.create_task(send_big()) for _ in range(big)]
    await asyncio.sleep(0.5)  # the big ones under way
    print("ready", flush=True)
    await stop.wait()
    for task in bigs:
        task.cancel()
    await asyncio.gather(*bigs, return_exceptions=True)
    still = sum(1 for writer in held if not writer.transport.is_closing())
    report["held_at_end"] = still
    for writer in held:
        writer.close()
    return report


def attacker_main(port: int, idle: int, stall: int, stall_bytes: int, big: int) -> None:
    """Hold the attack until standard input closes, then print what the attackers got (JSON)."""
    raise_open_file_limit()

    async def main() -> dict[str, Any]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_reader(sys.stdin.fileno(), stop.set)
        return await _attack(port, idle, stall, stall_bytes, big, stop)

    print(json.dumps(asyncio.run(main())), flush=True)


class Attack:
    """The attacker process: started with :meth:`start`, ready when it printed ``ready``."""

    def __init__(self, port: int, idle: int, stall: int, stall_bytes: int, big: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--attacker", str(port), "--idle", str(idle), "--stall", str(stall),
             "--stall-bytes", str(stall_bytes), "--big", str(big)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            cwd=ROOT,
        )  # fmt: skip

    def wait_ready(self, timeout: float = 60.0) -> None:
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        line = self.process.stdout.readline()
        if line.strip() != b"ready" or time.monotonic() > deadline:
            raise RuntimeError(f"the attacker is not ready: {line!r}")

    def stop(self) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        out = self.process.stdout.read()
        self.process.wait(timeout=30)
        report: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
        return report


def start_server(port: int, plain: bool, extra: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``jambonz-webhooks run`` (or plain uvicorn) serving tests/apps/serving.py on ``port``."""
    if plain:
        command = [sys.executable, "-m", "uvicorn", "tests.apps.serving:app", "--http", "httptools",
                   "--loop", "uvloop", "--no-access-log", "--log-level", "warning"]  # fmt: skip
    else:
        command = [sys.executable, "-m", "jambonz_webhooks", "run", "tests.apps.serving:app",
                   "--no-access-log", "--log-level", "warning", *extra]  # fmt: skip
    env = {**os.environ, "JAMBONZ_WEBHOOK_SECRET": SECRET, "LOG_LEVEL": "WARNING", "PYTHONUNBUFFERED": "1"}
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--host", HOST, "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=raise_open_file_limit,
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("the server did not start")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def run_attack(
    port: int, pid: int, *, idle: int, stall: int, stall_bytes: int, big: int, requests: int, pace: float
) -> dict[str, Any]:
    """Measure the valid requests alone, then under the attack; the figures."""
    body = call_hook_body()
    measure(port, body, 200)  # warm up
    before = measure(port, body, requests, pace)
    rss_before = memory_kib(pid)[0]
    attack = Attack(port, idle, stall, stall_bytes, big)
    try:
        attack.wait_ready()
        with RssWatch(pid) as watch:
            during = measure(port, body, requests, pace)
        rss_after, hwm = memory_kib(pid)
    finally:
        attackers = attack.stop()
    return {
        "alone": before,
        "attacked": during,
        "rss_before_mib": rss_before / 1024,
        "rss_peak_mib": watch.peak_kib / 1024,
        "rss_after_mib": rss_after / 1024,
        "hwm_mib": hwm / 1024,
        "attackers": attackers,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--attacker", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--idle", type=int, default=2000)
    parser.add_argument("--stall", type=int, default=300)
    parser.add_argument(
        "--stall-bytes", type=int, default=65536, help="body bytes each stalled request sends"
    )
    parser.add_argument("--big", type=int, default=4)
    parser.add_argument("--requests", type=int, default=1000, help="valid requests, alone and attacked")
    parser.add_argument(
        "--pace", type=float, default=3.0, help="milliseconds from one valid request to the next"
    )
    parser.add_argument("--plain", action="store_true", help="plain uvicorn instead of jambonz-webhooks run")
    args = parser.parse_args(argv)
    if args.attacker is not None:
        attacker_main(args.attacker, args.idle, args.stall, args.stall_bytes, args.big)
        return 0
    raise_open_file_limit()
    port = free_port()
    log = BENCH_DIR / "out" / ("attack-plain.log" if args.plain else "attack.log")
    server = start_server(port, args.plain, ["--timeout-idle", "60", "--timeout-body", "60"], log)
    try:
        figures = run_attack(
            port,
            server.pid,
            idle=args.idle,
            stall=args.stall,
            stall_bytes=args.stall_bytes,
            big=args.big,
            requests=args.requests,
            pace=args.pace / 1000,
        )
    finally:
        server.terminate()
        server.wait(timeout=15)
    served = "plain uvicorn --http httptools" if args.plain else "jambonz-webhooks run"
    print(
        f"server: {served}; {args.requests} signed call hooks, one every {args.pace} ms; attack: "
        f"{args.idle} idle, {args.stall} stalled bodies ({args.stall_bytes} of {STALL_LENGTH} bytes "
        f"sent), {args.big} x 16 MB Jambonz-Signature"
    )
    for name in ("alone", "attacked"):
        row = figures[name]
        print(
            f"{name:>9}: {row['ok']}/{row['requests']} ok, p50 {row['p50_ms']:.2f} ms, p99 "
            f"{row['p99_ms']:.2f} ms, max {row['max_ms']:.2f} ms, errors {len(row['errors'])}"
        )
    print(
        f"server VmRSS: {figures['rss_before_mib']:.1f} MiB before, {figures['rss_peak_mib']:.1f} MiB "
        f"peak under attack, {figures['rss_after_mib']:.1f} MiB after; VmHWM {figures['hwm_mib']:.1f} MiB"
    )
    print(f"attackers: {json.dumps(figures['attackers'])}")
    return 0 if not figures["attacked"]["errors"] and not figures["alone"]["errors"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
