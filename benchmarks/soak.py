"""Soak benchmark: the example app's /incoming, signatures and basic auth on, under steady load.

The example app runs in one uvicorn process (one worker, uvloop, httptools, no access log) on a
free 127.0.0.1 port, with JAMBONZ_WEBHOOK_SECRET, JAMBONZ_WEBHOOK_USERNAME and
JAMBONZ_WEBHOOK_PASSWORD set (random per run). Before the load, a signed request must get 200
with the IVR's verbs, and an unsigned one, a wrongly signed one and one without credentials 401.
wrk, in its own process, then holds the connections for a few seconds of warm-up and for each
period (default 2 x 30 s, 200 connections, 1 thread), POSTing signed ``session-new`` bodies
(``payload.py``'s, and copies with other call_sids) through ``soak.lua``; wrk's Lua has no HMAC,
so the requests are signed here just before each period, well within the 300 s tolerance.

The server's memory (VmRSS and VmHWM of /proc/<pid>/status) is read once idle before period 1,
every second under load, and once idle after each period. The memory must not grow without
bound: after the first period, which may settle allocator arenas and connection buffers, no
period may grow the idle RSS by more than ``--max-growth-mib``.

    python benchmarks/soak.py [--connections 200] [--duration 30] [--periods 2] [--threads 1]
                              [--warmup 3] [--max-growth-mib 10] [--pin] [--write]

One wrk thread drives the 200 connections at the server's full rate on a 2-core machine; two
threads there compete with the server for the CPUs and stretch the latency tail past wrk's 2 s
timeout (against bare Starlette too), so raise ``--threads`` only with more cores. ``--pin``
keeps the server on the last CPU and wrk on the first.
``--write`` rewrites the soak section of benchmarks/RESULTS.md. Exits 1 when any request fails,
in the warm-up too (non-2xx answers, connect/read/write errors, or answers slower than wrk's 2 s
timeout), the memory grows past the limit, or the server does not start, answer as expected, or
stop cleanly; 2 when wrk or /proc is missing.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import secrets
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from load import (
    BENCH_DIR,
    OUT_DIR,
    PATH,
    RESULTS,
    ROOT,
    AppSpec,
    BenchmarkError,
    Server,
    command_line,
    environment,
    pin_to,
    read_memory,
    uvicorn_command,
    write_results,
)
from payload import session_new

from jambonz_webhooks.security import ENV_PASSWORD, ENV_SECRET, ENV_USERNAME
from jambonz_webhooks.testing import basic_auth_header, signed_headers

LUA_SCRIPT = BENCH_DIR / "soak.lua"
APP = AppSpec("soak", "example_app.app:app", ROOT)
USERNAME = "jambonz"
TOLERANCE = 300  # seconds a signature stays valid (the app's default)
SETTLE = 1.0  # seconds after wrk exits before an idle memory reading
MIB = 1024  # KiB, the unit of /proc/<pid>/status
RESULT_PREFIX = "SOAK-RESULT "
ERROR_NAMES = {  # wrk's error counters, as its text report names them
    "status": "non-2xx/3xx",
    "connect": "connect",
    "read": "read",
    "write": "write",
    "timeout": "timeout",
}


@dataclass(frozen=True)
class Memory:
    """One reading of the server's memory."""

    at: float  # seconds since the first reading
    rss_kib: int
    hwm_kib: int  # peak RSS so far


@dataclass(frozen=True)
class WrkRun:
    """What wrk's ``done()`` in soak.lua reported for one run."""

    requests: int
    duration_s: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    errors: dict[str, int]  # connect, read, write, status (non-2xx/3xx answers), timeout

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


@dataclass(frozen=True)
class Period:
    """One measured period: wrk's result and the memory around and during it."""

    number: int
    run: WrkRun
    before: Memory  # idle, just before the period
    during: list[Memory]
    after: Memory  # idle, once the period's connections are closed

    @property
    def growth_kib(self) -> int:
        return self.after.rss_kib - self.before.rss_kib


class MemoryProbe:
    """Reads VmRSS and VmHWM of one process."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.t0 = time.monotonic()

    def read(self) -> Memory:
        reading = read_memory(self.pid)
        return Memory(time.monotonic() - self.t0, reading.rss_kib, reading.hwm_kib)


def mib(kib: int) -> str:
    return f"{kib / MIB:.1f}"


def signed_mib(kib: int) -> str:
    return f"{kib / MIB:+.1f}"


def bodies(count: int) -> list[bytes]:
    """``count`` call-hook bodies as jambonz sends them: payload.py's, then copies with other call_sids."""
    result = []
    for number in range(count):
        payload = session_new()
        if number:
            payload["call_sid"] = f"b5e3f2a0-1c2d-4e5f-8a9b-{number:012x}"
        result.append(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode())
    return result


def sizes(payloads: list[bytes]) -> str:
    low, high = min(map(len, payloads)), max(map(len, payloads))
    return f"{low}" if low == high else f"{low}-{high}"


def request_headers(body: bytes, secret: str, password: str) -> dict[str, str]:
    """The headers jambonz sends with ``body`` to a hook with a secret and credentials, signed now."""
    return {**signed_headers(body, secret), **basic_auth_header(USERNAME, password)}


def write_requests(payloads: list[bytes], secret: str, password: str) -> list[Path]:
    """Sign the bodies now and write one file per request for soak.lua: headers, empty line, body."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, body in enumerate(payloads):
        head = "".join(
            f"{name}: {value}\n" for name, value in request_headers(body, secret, password).items()
        )
        path = OUT_DIR / f"soak-request-{number}.txt"
        path.write_bytes(head.encode() + b"\n" + body)
        paths.append(path)
    return paths


def post(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, str, bytes]:
    """POST ``body`` to the hook with exactly ``headers``; return (status, content-type, answer)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)
    try:
        connection.request("POST", PATH, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    finally:
        connection.close()


def check_protections(port: int, payloads: list[bytes], secret: str, password: str) -> list[str]:
    """Signed requests get the IVR's verbs; unsigned, wrongly signed or anonymous ones get 401.

    Returns the names of the verbs answered, and what was checked, for the report.
    """
    answers = []
    for body in payloads:
        status, content_type, answer = post(port, body, request_headers(body, secret, password))
        if status != 200 or not content_type.startswith("application/json"):
            raise BenchmarkError(f"a signed request got {status} ({content_type}): {answer[:500]!r}")
        answers.append(json.loads(answer))
    verbs: Any = answers[0]
    if not isinstance(verbs, list) or not all(isinstance(v, dict) and "verb" in v for v in verbs):
        raise BenchmarkError(f"the answer is not a list of verbs: {verbs!r}")
    names = [str(verb["verb"]) for verb in verbs]
    if "gather" not in names or any(other != verbs for other in answers):
        raise BenchmarkError(f"the signed requests do not all get the IVR's menu: {answers!r}")

    body, other = payloads[0], payloads[-1] if len(payloads) > 1 else payloads[0] + b" "
    auth = basic_auth_header(USERNAME, password)
    json_type = {"Content-Type": "application/json"}
    refused = {
        "unsigned": {**json_type, **auth},
        "signed over another body": request_headers(other, secret, password),
        "signed with another secret": request_headers(body, secret + "x", password),
        "signed, without credentials": signed_headers(body, secret),
        "signed, wrong password": request_headers(body, secret, password + "x"),
    }
    for what, headers in refused.items():
        status, content_type, answer = post(port, body, headers)
        if status != 401 or not content_type.startswith("application/json"):
            raise BenchmarkError(
                f"a request {what} got {status} ({content_type}), not 401: {answer[:500]!r}; "
                "are the protections on?"
            )
    return [f"signed -> 200 ({', '.join(names)})", *(f"{what} -> 401" for what in refused)]


def wrk_command(url: str, requests: list[Path], threads: int, connections: int, duration: int) -> list[str]:
    return [
        "wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
        "-s", str(LUA_SCRIPT), url, "--", *map(str, requests),
    ]  # fmt: skip


def parse_result(output: str) -> WrkRun:
    """The line soak.lua's ``done()`` prints: exact counts, latencies in microseconds."""
    lines = [line for line in output.splitlines() if line.startswith(RESULT_PREFIX)]
    if len(lines) != 1:
        raise BenchmarkError(f"cannot find soak.lua's result in wrk's output:\n{output}")
    data = json.loads(lines[0][len(RESULT_PREFIX) :])
    if data["requests"] == 0 or data["duration_us"] <= 0:
        raise BenchmarkError(f"wrk made no request:\n{output}")
    return WrkRun(
        requests=data["requests"],
        duration_s=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        errors={name: int(data[name]) for name in ERROR_NAMES},
    )


def run_wrk(
    server: Server,
    probe: MemoryProbe,
    requests: list[Path],
    args: argparse.Namespace,
    duration: int,
    log: Path,
) -> tuple[WrkRun, list[Memory]]:
    """Run wrk once, reading the server's memory every ``--interval`` seconds meanwhile."""
    command = wrk_command(server.url, requests, args.threads, args.connections, duration)
    samples: list[Memory] = []
    deadline = time.monotonic() + duration + 60
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=pin_to(args.wrk_cpu)
    )
    try:
        while True:
            samples.append(probe.read())
            try:
                stdout, stderr = process.communicate(timeout=args.interval)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() > deadline:
                    raise BenchmarkError(f"wrk did not finish within {duration + 60} s") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    log.write_text(stdout + stderr)
    if process.returncode != 0:
        raise BenchmarkError(f"wrk failed ({process.returncode}):\n{stdout}{stderr}")
    if server.process is None or server.process.poll() is not None:
        raise BenchmarkError(f"uvicorn died under load:\n{server._log_tail()}")
    return parse_result(stdout), samples


def idle_reading(probe: MemoryProbe) -> Memory:
    time.sleep(SETTLE)  # let the server close the connections wrk left
    return probe.read()


def errors_text(run: WrkRun) -> str:
    if not run.error_count:
        return "0"
    details = ", ".join(f"{ERROR_NAMES[name]} {count:,}" for name, count in run.errors.items() if count)
    return f"**{run.error_count:,}** ({details})"


def table(periods: list[Period]) -> str:
    lines = [
        "| period | requests | requests/s | p50 (ms) | p99 (ms) | max (ms) | errors "
        "| RSS before (MiB) | RSS under load, max (MiB) | RSS after (MiB) | growth (MiB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in periods:
        r = p.run
        peak = max(m.rss_kib for m in p.during)
        lines.append(
            f"| {p.number} | {r.requests:,} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} "
            f"| {r.max_ms:.2f} | {errors_text(r)} | {mib(p.before.rss_kib)} | {mib(peak)} "
            f"| {mib(p.after.rss_kib)} | {signed_mib(p.growth_kib)} |"
        )
    return "\n".join(lines)


def verdicts(periods: list[Period], warmup: WrkRun | None, max_growth_mib: float) -> tuple[list[str], bool]:
    """The report's conclusions, and whether they all pass."""
    failed = sum(p.run.error_count for p in periods)
    total = sum(p.run.requests for p in periods)
    line = f"- Failed requests: {failed:,} of {total:,}"
    if warmup:
        failed += warmup.error_count
        line += f" (warm-up: {warmup.error_count:,} of {warmup.requests:,})"
    lines = [line + (": **ok**" if failed == 0 else ": **FAILED** (must be 0)")]

    readings = [periods[0].before.rss_kib] + [p.after.rss_kib for p in periods]
    steps = ", ".join(f"after period {p.number} {mib(p.after.rss_kib)}" for p in periods)
    lines.append(
        f"- Idle RSS: {mib(readings[0])} MiB at the start, {steps} MiB; "
        f"peak (VmHWM) {mib(periods[-1].after.hwm_kib)} MiB"
    )
    limit_kib = max_growth_mib * MIB
    later = periods[1:]
    over = [p for p in later if p.growth_kib > limit_kib]
    if later:
        growths = "; ".join(f"period {p.number} {signed_mib(p.growth_kib)} MiB" for p in periods)
        lines.append(
            f"- Growth per period: {growths}; after period 1 each may grow at most {max_growth_mib:g} MiB: "
            + (f"**FAILED** (period {', '.join(str(p.number) for p in over)})" if over else "**ok**")
        )
    else:
        lines.append("- Growth: one period only, so there is no later period to judge growth by")
    return lines, failed == 0 and not over


def results_section(
    args: argparse.Namespace,
    started: datetime.datetime,
    env: list[str],
    payloads: list[bytes],
    checks: list[str],
    report: str,
) -> str:
    server = shlex.join(uvicorn_command(APP, "PORT", "python")).replace(str(ROOT), ".")
    requests = [Path(f"REQUEST{n}") for n in range(1, len(payloads) + 1)]
    wrk = shlex.join(wrk_command("URL", requests, args.threads, args.connections, args.duration))
    wrk = wrk.replace(str(BENCH_DIR), "benchmarks")
    lines = [
        f"## Soak: {args.connections} connections for {args.periods} x {args.duration} s on `/incoming`, "
        "signatures and basic auth on",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        *env,
        f"- Command (from the repository's root): `{command_line('soak.py')}`",
        f"- Server: `{server}` (one worker) with `{ENV_SECRET}`, `{ENV_USERNAME}` and `{ENV_PASSWORD}` "
        "set (random per run)",
        f"- Checked before the load: {'; '.join(checks)}",
        f"- Load: {args.warmup} s of warm-up, then {args.periods} periods, each `{wrk}`; "
        f"{len(payloads)} call hooks of {sizes(payloads)} bytes (`benchmarks/payload.py`'s "
        "session-new, other call_sids), signed with `jambonz_webhooks.testing` just before each period "
        "and sent in turn by `benchmarks/soak.lua`",
        *(["- Server pinned to one CPU and wrk to another (`--pin`)"] if args.pin else []),
        f"- Memory: VmRSS/VmHWM of the server's `/proc/<pid>/status`, idle ({SETTLE:g} s after wrk) before "
        f"and after each period, and every {args.interval:g} s under load",
        "",
        report,
    ]
    return "\n".join(lines)


def print_period(period: Period) -> None:
    r = period.run
    print(
        f"period {period.number}: {r.requests:,} requests in {r.duration_s:.1f} s, {r.rps:,.0f} req/s, "
        f"p50 {r.p50_ms:.2f} ms, p90 {r.p90_ms:.2f} ms, p99 {r.p99_ms:.2f} ms, max {r.max_ms:.2f} ms, "
        f"errors {errors_text(r).replace('**', '')}",
        flush=True,
    )
    rss = [m.rss_kib for m in period.during]
    print(
        f"  RSS MiB: idle before {mib(period.before.rss_kib)}, under load min {mib(min(rss))} "
        f"median {mib(int(statistics.median(rss)))} max {mib(max(rss))}, "
        f"idle after {mib(period.after.rss_kib)} ({signed_mib(period.growth_kib)}), "
        f"VmHWM {mib(period.after.hwm_kib)}",
        flush=True,
    )
    print("  RSS under load, each reading (MiB): " + " ".join(mib(kib) for kib in rss), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--connections", type=int, default=200, help="wrk's open connections")
    parser.add_argument("--duration", type=int, default=30, help="seconds of load per period")
    parser.add_argument("--periods", type=int, default=2, help="periods of load, one after the other")
    parser.add_argument("--threads", type=int, default=1, help="wrk's threads (see above)")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before the first period")
    parser.add_argument("--variants", type=int, default=8, help="distinct signed bodies wrk sends in turn")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between memory readings")
    parser.add_argument(
        "--max-growth-mib",
        type=float,
        default=10.0,
        help="most the idle RSS may grow in any period after the first",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the server to the last CPU and wrk to the first (less noise on a 2-core machine)",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the soak section of RESULTS.md")
    args = parser.parse_args(argv)
    if min(args.connections, args.duration, args.periods, args.threads, args.variants) < 1:
        parser.error("--connections, --duration, --periods, --threads and --variants must be at least 1")
    if args.connections < args.threads:
        parser.error("wrk needs at least one connection per thread")
    if args.warmup < 0 or args.interval <= 0 or args.max_growth_mib < 0:
        parser.error("--warmup and --max-growth-mib must be at least 0, --interval above 0")
    if max(args.duration, args.warmup) > TOLERANCE - 60:
        parser.error(f"a period must end well within the signatures' {TOLERANCE} s tolerance")

    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    if not Path("/proc/self/status").exists():
        print("the server's memory is read from /proc/<pid>/status: Linux only", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    started = datetime.datetime.now(datetime.UTC)
    env = environment()  # before the run: the code measured is the code at its start

    # The server inherits these: the example app's JambonzApp() reads them, so every protection is on.
    secret, password = secrets.token_hex(16), secrets.token_urlsafe(12)
    os.environ.update({ENV_SECRET: secret, ENV_USERNAME: USERNAME, ENV_PASSWORD: password})
    payloads = bodies(args.variants)

    args.server_cpu = args.wrk_cpu = None
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            parser.error("--pin needs at least 2 CPUs")
        args.server_cpu, args.wrk_cpu = cpus[-1], cpus[0]
    server = Server(APP, args.server_cpu)
    periods: list[Period] = []
    warmup: WrkRun | None = None
    checks: list[str] = []
    failed = False
    try:
        server.start(payloads[0])  # any answer will do (a 401 here): the server is up
        if server.process is None:
            raise BenchmarkError("uvicorn is not running")
        checks = check_protections(server.port, payloads, secret, password)
        print(f"server pid {server.process.pid} on port {server.port}; {'; '.join(checks)}")
        print(
            f"{len(payloads)} signed bodies of {sizes(payloads)} bytes; "
            f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s x {args.periods} periods"
            + (f"; server on CPU {args.server_cpu}, wrk on CPU {args.wrk_cpu}" if args.pin else ""),
            flush=True,
        )
        probe = MemoryProbe(server.process.pid)
        if args.warmup:
            requests = write_requests(payloads, secret, password)
            warmup, _ = run_wrk(server, probe, requests, args, args.warmup, OUT_DIR / "soak-warmup.txt")
            print(
                f"warm-up {args.warmup} s: {warmup.requests:,} requests, {warmup.rps:,.0f} req/s, "
                f"errors {errors_text(warmup).replace('**', '')}",
                flush=True,
            )
        before = idle_reading(probe)
        print(
            f"idle RSS at the start: {mib(before.rss_kib)} MiB (VmHWM {mib(before.hwm_kib)} MiB)", flush=True
        )
        for number in range(1, args.periods + 1):
            requests = write_requests(payloads, secret, password)  # fresh signatures for each period
            log = OUT_DIR / f"soak-period-{number}.txt"
            run, during = run_wrk(server, probe, requests, args, args.duration, log)
            after = idle_reading(probe)
            periods.append(Period(number, run, before, during, after))
            print_period(periods[-1])
            before = after
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        failed = True
    finally:  # also on Ctrl-C: leave no server behind
        try:
            server.stop()
        except BenchmarkError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed = True
    if failed:
        return 1

    conclusions, passed = verdicts(periods, warmup, args.max_growth_mib)
    report = table(periods) + "\n\n" + "\n".join(conclusions)
    print()
    print(report)

    if args.write:
        write_results(results_section(args, started, env, payloads, checks, report), "soak")
        print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
