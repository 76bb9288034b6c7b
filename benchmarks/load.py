"""Load benchmark: the example app's /incoming against a bare Starlette endpoint, under uvicorn and wrk.

Each app runs in its own uvicorn process (one worker, uvloop, httptools, no access log) on a free
127.0.0.1 port; wrk, in another process, POSTs the ~2.5 KB call-hook body of ``payload.py``.
Before any load, both servers must answer the same JSON. The rounds alternate the two apps (and
the order within a round), and the ratio framework/bare is the median of the per-round ratios.

    python benchmarks/load.py [--duration 10] [--rounds 3] [--connections 50] [--write]

``--write`` rewrites the load section of benchmarks/RESULTS.md. Exits non-zero when wrk is
missing, a server does not start or stop cleanly, or any request fails.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO, Any

from payload import write_body

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
LUA_SCRIPT = BENCH_DIR / "post.lua"
RESULTS = BENCH_DIR / "RESULTS.md"
PATH = "/incoming"
TARGET = 0.85


class BenchmarkError(Exception):
    """The benchmark cannot give a valid result."""


@dataclass(frozen=True)
class AppSpec:
    name: str
    target: str  # module:attribute, for uvicorn
    app_dir: Path


APPS = (
    AppSpec("framework", "example_app.app:app", ROOT),
    AppSpec("bare", "bare_app:app", BENCH_DIR),
)


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int


@dataclass(frozen=True)
class Sample:
    round: int
    app: str
    result: WrkResult


class Server:
    """One uvicorn process serving one app."""

    def __init__(self, spec: AppSpec, cpu: int | None = None) -> None:
        self.spec = spec
        self.cpu = cpu
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}{PATH}"
        self.log_path = OUT_DIR / f"{spec.name}.log"
        self._log: IO[bytes] | None = None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, body: bytes, timeout: float = 30.0) -> None:
        self._log = self.log_path.open("wb")
        command = uvicorn_command(self.spec, str(self.port))
        # Like uvicorn's --no-access-log: the app's own per-hook log line is off too (LOG_LEVEL).
        env = {**os.environ, "LOG_LEVEL": "WARNING"}
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=pin_to(self.cpu),
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = BenchmarkError(
                    f"{self.spec.name}: uvicorn exited with {self.process.returncode} "
                    f"before answering:\n{self._log_tail()}"
                )
                self.process = None
                self._close_log()
                raise error
            try:
                post(self.port, body, timeout=2.0)
            except OSError:
                time.sleep(0.1)
                continue
            return
        raise BenchmarkError(f"{self.spec.name}: no answer on port {self.port} after {timeout:.0f}s")

    def stop(self, timeout: float = 10.0) -> None:
        process, self.process = self.process, None
        try:
            if process is None or process.poll() is not None:
                if process is not None:
                    raise BenchmarkError(
                        f"{self.spec.name}: uvicorn died during the run (exit {process.returncode}):\n"
                        f"{self._log_tail()}"
                    )
                return
            process.send_signal(signal.SIGINT)
            try:
                code = process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                raise BenchmarkError(
                    f"{self.spec.name}: uvicorn did not stop within {timeout:.0f}s"
                ) from None
            if code != 0:
                raise BenchmarkError(f"{self.spec.name}: uvicorn exited with {code}:\n{self._log_tail()}")
        finally:
            self._close_log()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self, lines: int = 30) -> str:
        if self._log is not None:
            self._log.flush()
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def uvicorn_command(spec: AppSpec, port: str, python: str = sys.executable) -> list[str]:
    return [
        python, "-m", "uvicorn", spec.target,
        "--app-dir", str(spec.app_dir),
        "--host", "127.0.0.1", "--port", port,
        "--loop", "uvloop", "--http", "httptools",
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def pin_to(cpu: int | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that keeps the child (and its threads) on one CPU, or None for no pinning."""
    if cpu is None:
        return None

    def pin() -> None:
        os.sched_setaffinity(0, {cpu})

    return pin


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def post(port: int, body: bytes, timeout: float = 5.0) -> tuple[int, str, bytes]:
    """POST ``body`` to the hook; return (status, content-type, answer)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", PATH, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    finally:
        connection.close()


def check_same_answer(servers: list[Server], body: bytes) -> Any:
    """Both servers must answer 200 with the same JSON (parsed, so key order is free)."""
    answers: dict[str, Any] = {}
    for server in servers:
        status, content_type, answer = post(server.port, body)
        if status != 200 or not content_type.startswith("application/json"):
            raise BenchmarkError(f"{server.spec.name}: answered {status} ({content_type}): {answer[:500]!r}")
        answers[server.spec.name] = json.loads(answer)
    first, *others = answers.values()
    if any(other != first for other in others):
        raise BenchmarkError(f"the servers answer different JSON:\n{json.dumps(answers, indent=1)}")
    return first


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
_PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.MULTILINE)
_RPS = re.compile(r"^Requests/sec:\s+([\d.]+)\s*$", re.MULTILINE)
_TOTAL = re.compile(r"^\s*(\d+) requests in ", re.MULTILINE)
_NON_2XX = re.compile(r"^\s*Non-2xx or 3xx responses:\s*(\d+)", re.MULTILINE)
_SOCKET_ERRORS = re.compile(r"^\s*Socket errors:\s*(.*)$", re.MULTILINE)


def parse_wrk(output: str) -> WrkResult:
    """Requests/s and the p50/p99 latencies of wrk's ``--latency`` report; raise on any error."""
    problems = [match.group(0).strip() for match in _NON_2XX.finditer(output)]
    problems += [
        match.group(0).strip()
        for match in _SOCKET_ERRORS.finditer(output)
        if any(int(n) for n in re.findall(r"\d+", match.group(1)))
    ]
    if problems:
        raise BenchmarkError("wrk saw failed requests: " + "; ".join(problems) + f"\n{output}")
    rps, total = _RPS.search(output), _TOTAL.search(output)
    percentiles = {
        m.group(1): float(m.group(2)) * _UNITS_MS[m.group(3)] for m in _PERCENTILE.finditer(output)
    }
    if rps is None or total is None or set(percentiles) != {"50", "99"}:
        raise BenchmarkError(f"cannot read wrk's report:\n{output}")
    if int(total.group(1)) == 0:
        raise BenchmarkError(f"wrk made no request:\n{output}")
    return WrkResult(float(rps.group(1)), percentiles["50"], percentiles["99"], int(total.group(1)))


def wrk_command(url: str, body_path: Path, connections: int, duration: int) -> list[str]:
    return [
        "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency",
        "-s", str(LUA_SCRIPT), url, "--", str(body_path),
    ]  # fmt: skip


def run_wrk(
    server: Server, body_path: Path, connections: int, duration: int, cpu: int | None = None
) -> WrkResult:
    command = wrk_command(server.url, body_path, connections, duration)
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=False,
        preexec_fn=pin_to(cpu),
    )
    if completed.returncode != 0:
        raise BenchmarkError(f"wrk failed ({completed.returncode}):\n{completed.stdout}{completed.stderr}")
    if server.process is None or server.process.poll() is not None:
        raise BenchmarkError(f"{server.spec.name}: uvicorn died under load:\n{server._log_tail()}")
    return parse_wrk(completed.stdout)


def median_result(samples: list[Sample], app: str) -> WrkResult:
    results = [sample.result for sample in samples if sample.app == app]
    return WrkResult(
        statistics.median(r.rps for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.requests for r in results),
    )


def round_ratios(samples: list[Sample]) -> list[float]:
    by_round: dict[int, dict[str, float]] = {}
    for sample in samples:
        by_round.setdefault(sample.round, {})[sample.app] = sample.result.rps
    return [apps["framework"] / apps["bare"] for _, apps in sorted(by_round.items())]


def table(samples: list[Sample]) -> str:
    lines = [
        "| round | app | requests/s | p50 (ms) | p99 (ms) |",
        "|------:|-----|-----------:|---------:|---------:|",
    ]
    for sample in samples:
        r = sample.result
        lines.append(f"| {sample.round} | {sample.app} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} |")
    for app in ("framework", "bare"):
        r = median_result(samples, app)
        lines.append(f"| median | **{app}** | **{r.rps:,.0f}** | **{r.p50_ms:.2f}** | **{r.p99_ms:.2f}** |")
    return "\n".join(lines)


def verdict(ratio: float) -> str:
    met = "met" if ratio >= TARGET else "NOT met"
    return (
        f"framework/bare throughput (median of per-round ratios): **{ratio:.1%}**; "
        f"target {TARGET:.0%}: **{met}**"
    )


def package_version(package: str) -> str:
    """The installed version of ``package``, or "absent"."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"


DEFAULT_CODE = ("jambonz_webhooks", "example_app")


def code_version(*paths: str) -> str:
    """The commit measured, and the files under ``paths`` changed since it (the measured code)."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False).stdout

    commit = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    changed = [
        line[3:]
        for line in git(
            "status", "--porcelain", "--", *(paths or ("jambonz_webhooks", "example_app"))
        ).splitlines()
    ]
    return f"commit {commit}" + (f" with uncommitted changes to {', '.join(changed)}" if changed else "")


def environment() -> list[str]:
    nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.read_text().splitlines()
                if line.startswith("model name")
            ),
            cpu,
        )
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    wrk_version = (wrk.stdout or wrk.stderr).split("Copyright")[0].strip()
    version = package_version
    return [
        f"- Code: {code_version()}",
        f"- Machine: `nproc` = {nproc}, {cpu}, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()}, uvicorn {version('uvicorn')} (uvloop {version('uvloop')}, "
        f"httptools {version('httptools')}), starlette {version('starlette')}, "
        f"pydantic {version('pydantic')} (pydantic-core {version('pydantic-core')}), {wrk_version}",
    ]


def command_line(script: str = "load.py") -> str:
    """How this run was started, from the repository's root, for the record."""
    python = Path(sys.executable)
    try:
        shown = str(python.relative_to(Path.cwd()))
    except ValueError:
        shown = str(python)
    return shlex.join([shown, f"benchmarks/{script}", *sys.argv[1:]])


def results_section(
    args: argparse.Namespace, started: datetime.datetime, env: list[str], body_size: int, report: str
) -> str:
    server = shlex.join(uvicorn_command(APPS[0], "PORT", "python")).replace(str(ROOT), ".")
    wrk = shlex.join(wrk_command("URL", Path("BODY"), args.connections, args.duration))
    wrk = wrk.replace(str(BENCH_DIR), "benchmarks")
    lines = [
        "## Load: `/incoming` under uvicorn, framework vs bare Starlette",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        *env,
        f"- Command (from the repository's root): `{command_line()}`",
        f"- Body: {body_size} bytes, the call hook of `benchmarks/payload.py` (session-new with its "
        "SIP INVITE), POSTed by `benchmarks/post.lua`",
        f"- Each server: `{server}` (one worker; the bare app likewise, with "
        "`--app-dir benchmarks bare_app:app`)",
        f"- Each measurement: `{wrk}`",
        f"- {args.rounds} rounds after {args.warmup} s of warm-up per server; the order of the two "
        "apps alternates each round; no request failed"
        + ("; servers pinned to one CPU and wrk to another (`--pin`)" if args.pin else ""),
        "",
        report,
    ]
    return "\n".join(lines)


def write_results(section: str, name: str = "load") -> None:
    """Put ``section`` between the ``name`` markers of RESULTS.md (appended if they are missing)."""
    begin = f"<!-- {name}:begin (this section is written by benchmarks/{name}.py --write) -->"
    end_mark = f"<!-- {name}:end -->"
    block = f"{begin}\n{section.rstrip()}\n{end_mark}\n"
    if RESULTS.exists():
        text = RESULTS.read_text()
        start, end = text.find(begin), text.find(end_mark)
        if start != -1 and end > start:
            rest = text[end + len(end_mark) :].lstrip("\n")
            text = text[:start] + block + ("\n" + rest if rest else "")
        else:
            text = text.rstrip("\n") + "\n\n" + block
    else:
        text = "# Benchmark results\n\n" + block
    RESULTS.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each app, alternated")
    parser.add_argument("--connections", type=int, default=50, help="wrk's open connections")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before the rounds")
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the servers to the last CPU and wrk to the first (less noise on a 2-core machine)",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the load section of RESULTS.md")
    args = parser.parse_args(argv)
    if min(args.duration, args.rounds, args.connections) < 1 or args.warmup < 0:
        parser.error("--duration, --rounds and --connections must be at least 1, --warmup at least 0")

    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    body_path = write_body(OUT_DIR / "body.json")
    body = body_path.read_bytes()
    started = datetime.datetime.now(datetime.UTC)
    env = environment()  # before the run: the code measured is the code at its start

    server_cpu = wrk_cpu = None
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            parser.error("--pin needs at least 2 CPUs")
        server_cpu, wrk_cpu = cpus[-1], cpus[0]
    servers = [Server(spec, server_cpu) for spec in APPS]
    samples: list[Sample] = []
    failed = False
    try:
        for server in servers:
            server.start(body)
        answer = check_same_answer(servers, body)
        print(f"body: {len(body)} bytes; both servers answer the same {len(answer)} verbs")
        for server in servers:
            if args.warmup:
                run_wrk(server, body_path, args.connections, args.warmup, wrk_cpu)
        for number in range(1, args.rounds + 1):
            order = servers if number % 2 else servers[::-1]
            for server in order:
                result = run_wrk(server, body_path, args.connections, args.duration, wrk_cpu)
                samples.append(Sample(number, server.spec.name, result))
                print(
                    f"round {number} {server.spec.name:9} {result.rps:10,.0f} req/s  "
                    f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms",
                    flush=True,
                )
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        failed = True
    finally:  # also on Ctrl-C: leave no server behind
        for server in servers:
            try:
                server.stop()
            except BenchmarkError as exc:
                print(f"error: {exc}", file=sys.stderr)
                failed = True
    if failed:
        return 1

    ratio = statistics.median(round_ratios(samples))
    report = f"{table(samples)}\n\n{verdict(ratio)}"
    print()
    print(report)

    if args.write:
        write_results(results_section(args, started, env, len(body), report))
        print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
