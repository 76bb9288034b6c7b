"""Load benchmark: /incoming under uvicorn and wrk, bare Starlette against the framework, log off and on.

Three apps, each in its own uvicorn process (one worker, ``--loop uvloop --http httptools
--no-access-log``) on a free 127.0.0.1 port, all with the same random ``JAMBONZ_WEBHOOK_SECRET``:

- ``bare``: ``benchmarks/bare_app.py``, the hook written by hand on Starlette (signature check
  over the raw bytes, ``json.loads``, the call_sid checked, the same verbs);
- ``framework``: ``example_app.app:app`` with ``LOG_LEVEL=WARNING`` (its per-hook log off);
- ``shipped``: the same with ``LOG_LEVEL=INFO`` and ``LOG_FORMAT=text``, as a user runs it: one
  access line per hook, on the server's stderr, which goes to ``benchmarks/out/shipped.log``.
  After each round the file must have received one line per request wrk counted (and at most
  one more per connection, for the requests in flight when wrk stopped).

wrk (one thread, 32 connections by default) POSTs the 2.6 KB call hook of ``payload.py`` through
``post.lua``. wrk's Lua has no HMAC, so the ``Jambonz-Signature`` header is computed here just
before each wrk run (a fresh timestamp, valid for 300 s) and given to post.lua as an argument.
Before any load every server must answer the same JSON to a signed request and 401 to an
unsigned one, one signed with another secret, one signed over another body and a stale one.

The servers run on the last CPU and wrk on the first (``--no-pin`` to leave them free). Each
round measures every app once, in an order that rotates (A B C, B C A, C A B, ...), so slow
phases of a shared machine hit all of them; the ratios to bare are the medians of the per-round
ratios. The server's VmRSS is read every ``--interval`` seconds under load, and VmRSS and VmHWM
once idle after each round. The server's CPU time during each wrk run (``/proc/<pid>/stat``) gives
requests per CPU-second beside requests/s: not a target, but a measure of the cost per request
that other work on a shared machine moves less.

    python benchmarks/load.py [--duration 6] [--rounds 5] [--connections 32] [--write]

``--write`` rewrites the load section of benchmarks/RESULTS.md. Exits 2 when wrk is missing, 1
when a server does not start, check signatures or stop cleanly, any request fails, or the
shipped app's log file misses lines.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import hmac
import http.client
import json
import os
import platform
import re
import secrets
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import IO, Any, TypeVar

from payload import write_body

from jambonz_webhooks.security import ENV_SECRET

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
LUA_SCRIPT = BENCH_DIR / "post.lua"
RESULTS = BENCH_DIR / "RESULTS.md"
PATH = "/incoming"

# Left out of the servers' environment: credentials would add a check the bare app does not make,
# and a Redis URL would move the framework's call state out of the process.
ENV_DROPPED = ("JAMBONZ_WEBHOOK_USERNAME", "JAMBONZ_WEBHOOK_PASSWORD", "JAMBONZ_REDIS_URL")
TOLERANCE = 300  # seconds a signature stays valid, in the framework and the bare app
ACCESS_LOGGER = b" jambonz_webhooks.access: "  # how a text-format access line names its logger
SETTLE = 0.5  # seconds after wrk exits: requests in flight end, their log lines are written
LOG_WAIT = 5.0  # seconds a log writer that batches its lines may take to write a round's last ones
MIB = 1024  # KiB, the unit of /proc/<pid>/status
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # the unit of /proc/<pid>/stat's times

TARGET_LOG_OFF = 1.0  # framework, log off, over bare (requests/s)
TARGET_SHIPPED = 0.9  # framework as shipped over bare
TARGET_RSS_MIB = 50.0  # the framework's peak RSS under load


class BenchmarkError(Exception):
    """The benchmark cannot give a valid result."""


@dataclass(frozen=True)
class AppSpec:
    name: str
    target: str  # module:attribute, for uvicorn
    app_dir: Path
    env: Mapping[str, str] = field(default_factory=dict)  # over the inherited environment
    access_log: bool = False  # whether it writes one access line per hook request
    label: str = ""
    http: str = "httptools"  # uvicorn's --http: a protocol's name or import string


BARE = AppSpec("bare", "bare_app:app", BENCH_DIR, {"LOG_LEVEL": "WARNING"}, label="bare Starlette")
LOG_OFF = AppSpec(
    "framework",
    "example_app.app:app",
    ROOT,
    {"LOG_LEVEL": "WARNING"},
    label="framework, log off",
)
SHIPPED = AppSpec(
    "shipped",
    "example_app.app:app",
    ROOT,
    {"LOG_LEVEL": "INFO", "LOG_FORMAT": "text"},
    access_log=True,
    label="framework as shipped, access log to a file",
)
APPS = (BARE, LOG_OFF, SHIPPED)
BOUNDED = dataclasses.replace(
    LOG_OFF,
    name="bounded",
    http="jambonz_webhooks.serving:BoundedHttpToolsProtocol",
    label="framework, log off, served by jambonz-webhooks run's bounded httptools protocol",
)
EXTRA_APPS = (BOUNDED,)
"""Apps pair.py compares too (not in load.py's runs): what ``run``'s protocol costs against httptools."""


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int


@dataclass(frozen=True)
class Memory:
    """One reading of a server's /proc/<pid>/status, in KiB."""

    rss_kib: int
    hwm_kib: int  # peak RSS so far


@dataclass(frozen=True)
class Sample:
    round: int
    app: str
    result: WrkResult
    rss_load_kib: int  # the highest VmRSS read under load
    cpu_s: float  # CPU time (user + system) the server used while wrk ran
    after: Memory  # idle, SETTLE seconds after wrk
    access_lines: int  # access-log lines the server wrote during the round


class Server:
    """One uvicorn process serving one app; its stdout and stderr go to ``benchmarks/out/<name>.log``."""

    def __init__(self, spec: AppSpec, cpu: int | None = None, wrapper: Sequence[str] = ()) -> None:
        self.spec = spec
        self.cpu = cpu
        self.wrapper = tuple(wrapper)  # a command uvicorn runs under (valgrind, for instructions.py)
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}{PATH}"
        self.log_path = OUT_DIR / f"{spec.name}.log"
        self._log: IO[bytes] | None = None
        self._log_offset = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, body: bytes, timeout: float = 30.0) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self._log_offset = 0
        command = [*self.wrapper, *uvicorn_command(self.spec, str(self.port))]
        # Like uvicorn's --no-access-log: the app's own per-hook log line is off too (LOG_LEVEL),
        # unless the spec turns it on.
        env = {**os.environ, "LOG_LEVEL": "WARNING", **self.spec.env}
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
                post(self.port, body, timeout=2.0)  # any answer will do (401 unsigned): it is up
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

    def memory(self) -> Memory:
        """The server's VmRSS and VmHWM now."""
        if self.process is None:
            raise BenchmarkError(f"{self.spec.name}: uvicorn is not running")
        return read_memory(self.process.pid)

    def cpu_seconds(self) -> float:
        """CPU time (user + system, all threads) the server has used so far."""
        if self.process is None:
            raise BenchmarkError(f"{self.spec.name}: uvicorn is not running")
        try:
            stat = Path(f"/proc/{self.process.pid}/stat").read_text()
        except OSError as exc:
            raise BenchmarkError(f"{self.spec.name}: cannot read its CPU time: {exc}") from None
        # After the command name (in parentheses, which may hold spaces): field 3 on; utime and
        # stime are fields 14 and 15, in clock ticks.
        fields = stat[stat.rindex(")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def new_access_lines(self) -> int:
        """Access-log lines the server wrote since the last call (or its start)."""
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            data = log.read()
        # Whole lines only: a line being written is counted next time.
        complete = data[: data.rfind(b"\n") + 1]
        self._log_offset += len(complete)
        return complete.count(ACCESS_LOGGER)

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def _log_tail(self, lines: int = 30) -> str:
        if self._log is not None:
            self._log.flush()
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def read_memory(pid: int) -> Memory:
    """VmRSS and VmHWM of process ``pid``."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError as exc:
        raise BenchmarkError(f"cannot read the memory of process {pid}: {exc}") from None
    fields: dict[str, int] = {}
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])  # "  12345 kB"
    if len(fields) != 2:  # a zombie has no memory lines: the server has died
        raise BenchmarkError(f"no VmRSS/VmHWM for process {pid}: has it died?")
    return Memory(fields["VmRSS"], fields["VmHWM"])


def uvicorn_command(spec: AppSpec, port: str, python: str = sys.executable) -> list[str]:
    return [
        python, "-m", "uvicorn", spec.target,
        "--app-dir", str(spec.app_dir),
        "--host", "127.0.0.1", "--port", port,
        "--loop", "uvloop", "--http", spec.http,
        "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def pin_to(cpu: int | None) -> Callable[[], None] | None:
    """A ``preexec_fn`` that keeps the child (and its threads) on one CPU, or None for no pinning.

    What ``taskset -c CPU`` does, without one more process in between.
    """
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


def signature(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The ``Jambonz-Signature`` jambonz sends: ``t=<unix>,v1=<hex HMAC-SHA256 of "<t>." + body>``.

    Written here rather than taken from the package, so the signatures that both servers accept
    come from a third implementation of the protocol.
    """
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), b"%d." % stamp + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def post(
    port: int, body: bytes, timeout: float = 5.0, headers: Mapping[str, str] | None = None
) -> tuple[int, str, bytes]:
    """POST ``body`` to the hook; return (status, content-type, answer)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        sent = {"Content-Type": "application/json", **(headers or {})}
        connection.request("POST", PATH, body=body, headers=sent)
        response = connection.getresponse()
        return response.status, response.getheader("content-type", ""), response.read()
    finally:
        connection.close()


def check_same_answer(servers: list[Server], body: bytes, secret: str) -> Any:
    """Every server answers a signed request 200 with the same JSON (parsed, so key order is free)."""
    answers: dict[str, Any] = {}
    for server in servers:
        status, content_type, answer = post(
            server.port, body, headers={"Jambonz-Signature": signature(body, secret)}
        )
        if status != 200 or not content_type.startswith("application/json"):
            raise BenchmarkError(f"{server.spec.name}: answered {status} ({content_type}): {answer[:500]!r}")
        answers[server.spec.name] = json.loads(answer)
    first, *others = answers.values()
    if any(other != first for other in others):
        raise BenchmarkError(f"the servers answer different JSON:\n{json.dumps(answers, indent=1)}")
    return first


def check_signatures(servers: list[Server], body: bytes, secret: str) -> list[str]:
    """Every server refuses (401) what is not signed by the secret, now, over these bytes.

    Without this a server that does not check (a bare app started without the secret, say) would
    be measured doing less work than the others. Returns what was checked, for the report.
    """
    refused = {
        "unsigned": {},
        "signed with another secret": {"Jambonz-Signature": signature(body, secret + "x")},
        "signed over another body": {"Jambonz-Signature": signature(body + b" ", secret)},
        f"signed {2 * TOLERANCE} s ago": {
            "Jambonz-Signature": signature(body, secret, int(time.time()) - 2 * TOLERANCE)
        },
    }
    for server in servers:
        for what, headers in refused.items():
            status, _, answer = post(server.port, body, headers=headers)
            if status != 401:
                raise BenchmarkError(
                    f"{server.spec.name}: a request {what} got {status}, not 401: {answer[:300]!r}; "
                    "does it check signatures?"
                )
    return [f"{what} -> 401" for what in refused]


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


def wrk_command(url: str, body_path: Path, connections: int, duration: int, signed: str) -> list[str]:
    return [
        "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency",
        "-s", str(LUA_SCRIPT), url, "--", str(body_path), signed,
    ]  # fmt: skip


@dataclass(frozen=True)
class Load:
    """What the benchmark needs to run wrk: the body, the secret to sign it with, the settings."""

    body_path: Path
    secret: str
    connections: int
    cpu: int | None  # wrk's
    interval: float  # seconds between memory readings under load


def run_wrk(server: Server, load: Load, duration: int) -> tuple[WrkResult, int, float]:
    """One wrk run against ``server``: its result, the highest VmRSS read and the CPU time it used."""
    # Signed now: the timestamp is valid for TOLERANCE s, and main() keeps runs far shorter.
    signed = signature(load.body_path.read_bytes(), load.secret)
    command = wrk_command(server.url, load.body_path, load.connections, duration, signed)
    highest = server.memory().rss_kib
    cpu_before = server.cpu_seconds()
    deadline = time.monotonic() + duration + 60
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=pin_to(load.cpu)
    )
    try:
        while True:
            try:
                stdout, stderr = process.communicate(timeout=load.interval)
                break
            except subprocess.TimeoutExpired:
                highest = max(highest, server.memory().rss_kib)
                if time.monotonic() > deadline:
                    raise BenchmarkError(f"wrk did not finish within {duration + 60} s") from None
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    cpu = server.cpu_seconds() - cpu_before
    if process.returncode != 0:
        raise BenchmarkError(f"wrk failed ({process.returncode}):\n{stdout}{stderr}")
    if server.process is None or server.process.poll() is not None:
        raise BenchmarkError(f"{server.spec.name}: uvicorn died under load:\n{server._log_tail()}")
    return parse_wrk(stdout), highest, cpu


def check_access_lines(server: Server, lines: int, requests: int, connections: int, what: str) -> None:
    """The shipped app logs one line per request; the others none.

    wrk counts the answers it read; when it stops, up to one request per connection may have
    been served (and logged) without wrk reading its answer, hence the slack.
    """
    if server.spec.access_log:
        if not requests <= lines <= requests + connections:
            raise BenchmarkError(
                f"{server.spec.name}: {what}: {lines:,} access lines in {server.log_path} for "
                f"{requests:,} requests (expected {requests:,} to {requests + connections:,})"
            )
    elif lines:
        raise BenchmarkError(f"{server.spec.name}: {what}: {lines:,} access lines with the log off")


def access_lines_of_run(server: Server, requests: int) -> int:
    """The access lines a run made the server write (call SETTLE seconds after wrk).

    A log handler may keep lines and write them in batches on a timer: for the app that logs,
    wait (at most LOG_WAIT s) until the lines cover wrk's count, then a little longer for those
    of the requests still in flight, so that no round's lines are counted in the next.
    """
    lines = server.new_access_lines()
    if server.spec.access_log:
        deadline = time.monotonic() + LOG_WAIT
        while lines < requests and time.monotonic() < deadline:
            time.sleep(0.05)
            lines += server.new_access_lines()
        time.sleep(0.2)
        lines += server.new_access_lines()
    return lines


def measure(server: Server, load: Load, duration: int, number: int) -> Sample:
    result, highest, cpu = run_wrk(server, load, duration)
    time.sleep(SETTLE)
    after = server.memory()
    lines = access_lines_of_run(server, result.requests)
    check_access_lines(server, lines, result.requests, load.connections, f"round {number}")
    return Sample(number, server.spec.name, result, max(highest, after.rss_kib), cpu, after, lines)


_T = TypeVar("_T")


def rotation(items: list[_T], number: int) -> list[_T]:
    """Round ``number``'s order: A B C, then B C A, then C A B, ..."""
    shift = (number - 1) % len(items)
    return items[shift:] + items[:shift]


def mib(kib: int) -> str:
    return f"{kib / MIB:.1f}"


def median_result(samples: list[Sample], app: str) -> WrkResult:
    results = [sample.result for sample in samples if sample.app == app]
    return WrkResult(
        statistics.median(r.rps for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        sum(r.requests for r in results),
    )


def by_round(samples: list[Sample]) -> list[dict[str, Sample]]:
    rounds: dict[int, dict[str, Sample]] = {}
    for sample in samples:
        rounds.setdefault(sample.round, {})[sample.app] = sample
    return [apps for _, apps in sorted(rounds.items())]


def per_cpu_second(sample: Sample) -> float:
    """Requests served per second of the server's CPU time: what the machine's other load moves least."""
    return sample.result.requests / sample.cpu_s if sample.cpu_s > 0 else float("nan")


METRICS: dict[str, Callable[[Sample], float]] = {
    "rps": lambda sample: sample.result.rps,
    "p99": lambda sample: sample.result.p99_ms,
    "per_cpu": per_cpu_second,
}


def round_ratios(samples: list[Sample], app: str, metric: str = "rps") -> list[float]:
    """Per round, ``app``'s requests/s (or p99, or requests per CPU-second) over bare's."""
    value = METRICS[metric]
    return [value(apps[app]) / value(apps[BARE.name]) for apps in by_round(samples)]


def table(samples: list[Sample]) -> str:
    lines = [
        "| round | app | requests/s | p50 (ms) | p99 (ms) | server CPU (s) | requests per CPU-second "
        "| VmRSS under load, max (MiB) | VmRSS after (MiB) | VmHWM after (MiB) | access lines / requests |",
        "|------:|-----|-----------:|---------:|---------:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in samples:
        r = s.result
        lines.append(
            f"| {s.round} | {s.app} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {s.cpu_s:.2f} "
            f"| {per_cpu_second(s):,.0f} | {mib(s.rss_load_kib)} | {mib(s.after.rss_kib)} "
            f"| {mib(s.after.hwm_kib)} | {s.access_lines:,} / {r.requests:,} |"
        )
    for spec in APPS:
        r = median_result(samples, spec.name)
        mine = [s for s in samples if s.app == spec.name]
        load_rss = statistics.median(s.rss_load_kib for s in mine)
        lines.append(
            f"| median | **{spec.name}** | **{r.rps:,.0f}** | **{r.p50_ms:.2f}** | **{r.p99_ms:.2f}** "
            f"| {statistics.median(s.cpu_s for s in mine):.2f} "
            f"| **{statistics.median(per_cpu_second(s) for s in mine):,.0f}** "
            f"| **{mib(int(load_rss))}** | | **max {mib(max(s.after.hwm_kib for s in mine))}** "
            f"| {sum(s.access_lines for s in mine):,} / {r.requests:,} |"
        )
    return "\n".join(lines)


def ratio_table(samples: list[Sample]) -> str:
    columns = {
        "framework / bare, req/s": round_ratios(samples, LOG_OFF.name),
        "shipped / bare, req/s": round_ratios(samples, SHIPPED.name),
        "framework / bare, p99": round_ratios(samples, LOG_OFF.name, "p99"),
        "framework / bare, req per CPU-s": round_ratios(samples, LOG_OFF.name, "per_cpu"),
        "shipped / bare, req per CPU-s": round_ratios(samples, SHIPPED.name, "per_cpu"),
    }
    lines = [
        "| round | order | " + " | ".join(columns) + " |",
        "|------:|-------|" + "---:|" * len(columns),
    ]
    for index, apps in enumerate(by_round(samples)):
        number = next(iter(apps.values())).round
        # The samples of a round are kept in the order they ran.
        ratios = " | ".join(f"{values[index]:.3f}" for values in columns.values())
        lines.append(f"| {number} | {' '.join(apps)} | {ratios} |")
    medians = " | ".join(f"**{statistics.median(values):.3f}**" for values in columns.values())
    lines.append(f"| median | | {medians} |")
    return "\n".join(lines)


def verdicts(samples: list[Sample]) -> list[str]:
    def met(ok: bool) -> str:
        return "**met**" if ok else "**NOT met**"

    off = statistics.median(round_ratios(samples, LOG_OFF.name))
    shipped = statistics.median(round_ratios(samples, SHIPPED.name))
    p99 = statistics.median(round_ratios(samples, LOG_OFF.name, "p99"))
    bare_p99, off_p99 = median_result(samples, BARE.name).p99_ms, median_result(samples, LOG_OFF.name).p99_ms
    off_cpu = statistics.median(round_ratios(samples, LOG_OFF.name, "per_cpu"))
    shipped_cpu = statistics.median(round_ratios(samples, SHIPPED.name, "per_cpu"))
    lines = [
        f"- framework, log off / bare, requests/s (median of per-round ratios): **{off:.3f}x**; "
        f"target >= {TARGET_LOG_OFF:.2f}x: {met(off >= TARGET_LOG_OFF)}",
        f"- framework, log off / bare, p99 (median of per-round ratios): **{p99:.3f}x** "
        f"(medians {off_p99:.2f} ms against {bare_p99:.2f} ms); target <= 1.00x: {met(p99 <= 1.0)}",
        f"- framework as shipped / bare, requests/s (median of per-round ratios): **{shipped:.3f}x**; "
        f"target >= {TARGET_SHIPPED:.2f}x: {met(shipped >= TARGET_SHIPPED)}",
        f"- For context, not a target: requests per second of the server's CPU time, over bare's: "
        f"framework {off_cpu:.3f}x, shipped {shipped_cpu:.3f}x (the server's CPU cost per request, "
        "which other work on a shared machine moves less than requests/s)",
    ]
    for spec in APPS:
        mine = [s for s in samples if s.app == spec.name]
        peak = max(s.after.hwm_kib for s in mine)
        loaded = max(s.rss_load_kib for s in mine)
        line = f"- {spec.name} memory: VmRSS under load at most {mib(loaded)} MiB, peak VmHWM {mib(peak)} MiB"
        if spec is not BARE:
            line += f"; target <= {TARGET_RSS_MIB:g} MiB: {met(peak <= TARGET_RSS_MIB * MIB)}"
        lines.append(line)
    requests = sum(s.result.requests for s in samples if s.app == SHIPPED.name)
    logged = sum(s.access_lines for s in samples if s.app == SHIPPED.name)
    lines.append(
        f"- {SHIPPED.name} access log: {logged:,} lines for {requests:,} requests counted by wrk in the "
        "rounds (each round within its wrk count and that plus one per connection): ok"
    )
    return lines


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
    args: argparse.Namespace,
    started: datetime.datetime,
    env: list[str],
    body_size: int,
    checks: list[str],
    pinning: str,
    report: str,
) -> str:
    def server(spec: AppSpec) -> str:
        settings = {ENV_SECRET: "RANDOM", **spec.env}
        command = shlex.join(uvicorn_command(spec, "PORT", "python")).replace(str(ROOT), ".")
        return " ".join(f"{name}={value}" for name, value in settings.items()) + " " + command

    wrk = shlex.join(wrk_command("URL", Path("BODY"), args.connections, args.duration, "SIGNATURE"))
    wrk = wrk.replace(str(BENCH_DIR), "benchmarks")
    lines = [
        "## Load: `/incoming` under uvicorn, bare Starlette against the framework (log off, as shipped)",
        "",
        f"- Date: {started:%Y-%m-%d %H:%M} UTC",
        *env,
        f"- Command (from the repository's root): `{command_line()}`",
        f"- Body: {body_size} bytes, the call hook of `benchmarks/payload.py` (session-new with its "
        "SIP INVITE), POSTed by `benchmarks/post.lua` with a `Jambonz-Signature` computed by load.py "
        "just before each wrk run",
        *(f"- {spec.name} ({spec.label}): `{server(spec)}`" for spec in APPS),
        f"- {SHIPPED.name}'s stdout and stderr go to `benchmarks/out/{SHIPPED.name}.log`; after each "
        "round the file holds one access line per request wrk counted (plus at most one per connection)",
        f"- Checked before the load, on every server: signed -> 200, the same JSON; {'; '.join(checks)}",
        f"- Each measurement: `{wrk}`",
        f"- {args.rounds} rounds after {args.warmup} s of warm-up per server; each round runs every app "
        f"once, the order rotating (A B C, B C A, C A B); {pinning}; no request failed",
        f"- Memory: the server's VmRSS every {args.interval:g} s under load, VmRSS and VmHWM {SETTLE:g} s "
        "after wrk",
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
    parser.add_argument("--duration", type=int, default=6, help="seconds of load per measurement")
    parser.add_argument("--rounds", type=int, default=5, help="measurements of each app, rotated")
    parser.add_argument("--connections", type=int, default=32, help="wrk's open connections")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before the rounds")
    parser.add_argument("--interval", type=float, default=0.5, help="seconds between memory readings")
    parser.add_argument(
        "--pin",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="pin the servers to the last CPU and wrk to the first (default; less noise on 2 cores)",
    )
    parser.add_argument("--write", action="store_true", help="rewrite the load section of RESULTS.md")
    args = parser.parse_args(argv)
    if min(args.duration, args.rounds, args.connections) < 1 or args.warmup < 0 or args.interval <= 0:
        parser.error(
            "--duration, --rounds and --connections must be at least 1, --warmup at least 0, "
            "--interval above 0"
        )
    if max(args.duration, args.warmup) > TOLERANCE - 60:
        parser.error(f"a wrk run must end well within the signature's {TOLERANCE} s tolerance")

    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install -y wrk", file=sys.stderr)
        return 2
    if not Path("/proc/self/status").exists():
        print("the servers' memory is read from /proc/<pid>/status: Linux only", file=sys.stderr)
        return 2
    os.chdir(ROOT)
    body_path = write_body(OUT_DIR / "body.json")
    body = body_path.read_bytes()
    started = datetime.datetime.now(datetime.UTC)
    env = environment()  # before the run: the code measured is the code at its start
    load_before = os.getloadavg()[0]

    # The servers inherit the environment: the same secret for all (JambonzApp() and bare_app
    # read it at import), and nothing that would make one do work the others do not.
    secret = secrets.token_hex(16)
    os.environ[ENV_SECRET] = secret
    for name in ENV_DROPPED:
        os.environ.pop(name, None)

    server_cpu = wrk_cpu = None
    pinning = "no CPU pinning (`--no-pin`)"
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            parser.error("--pin needs at least 2 CPUs (--no-pin to run without)")
        server_cpu, wrk_cpu = cpus[-1], cpus[0]
        pinning = f"servers pinned to CPU {server_cpu} and wrk to CPU {wrk_cpu} (as `taskset -c`)"
    load = Load(body_path, secret, args.connections, wrk_cpu, args.interval)
    servers = [Server(spec, server_cpu) for spec in APPS]
    samples: list[Sample] = []
    checks: list[str] = []
    failed = False
    try:
        for server in servers:
            server.start(body)
        answer = check_same_answer(servers, body, secret)
        checks = check_signatures(servers, body, secret)
        print(f"body: {len(body)} bytes; every server answers the same {len(answer)} verbs when signed")
        print(f"every server answers 401: {'; '.join(checks)}")
        for server in servers:
            assert server.process is not None
            cpus = sorted(os.sched_getaffinity(server.process.pid))
            print(f"{server.spec.name:9} pid {server.process.pid}, CPUs {cpus}: {server.spec.label}")
        print(f"wrk: -t1 -c{args.connections} -d{args.duration}s; {pinning}", flush=True)
        time.sleep(SETTLE)  # a log writer that batches its lines writes the checks' lines first
        for server in servers:
            server.new_access_lines()  # the lines of the checks above are not the load's
            if args.warmup:
                result, _, _ = run_wrk(server, load, args.warmup)
                time.sleep(SETTLE)
                lines = access_lines_of_run(server, result.requests)
                check_access_lines(server, lines, result.requests, args.connections, "warm-up")
                print(
                    f"warm-up   {server.spec.name:9} {result.rps:10,.0f} req/s  "
                    f"({result.requests:,} requests, {lines:,} access lines)",
                    flush=True,
                )
        for number in range(1, args.rounds + 1):
            for server in rotation(servers, number):
                sample = measure(server, load, args.duration, number)
                samples.append(sample)
                r = sample.result
                print(
                    f"round {number} {sample.app:9} {r.rps:10,.0f} req/s  p50 {r.p50_ms:6.2f} ms  "
                    f"p99 {r.p99_ms:6.2f} ms  CPU {sample.cpu_s:5.2f} s  RSS load "
                    f"{mib(sample.rss_load_kib)} after {mib(sample.after.rss_kib)} HWM "
                    f"{mib(sample.after.hwm_kib)} MiB  "
                    f"access lines {sample.access_lines:,}/{r.requests:,}",
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

    # The machine's other work, for the record: the 1-minute load average before and after.
    loads = f"load average (1 min) {load_before:.2f} at the start, {os.getloadavg()[0]:.2f} at the end"
    report = "\n\n".join(
        [table(samples), ratio_table(samples), "\n".join([*verdicts(samples), f"- {loads}"])]
    )
    print()
    print(report)

    if args.write:
        write_results(results_section(args, started, env, len(body), checks, pinning, report))
        print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
