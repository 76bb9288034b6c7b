"""How ``jambonz-webhooks run`` serves: bounds on slow and idle clients, and the drain on SIGTERM.

Every server here is a real ``jambonz-webhooks run`` subprocess on a real socket, serving
tests/apps/serving.py with a webhook secret; the clients are raw sockets, so that what the
server does to a connection (an answer, a close, a reset) is seen as it is.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from starlette.testclient import TestClient

from jambonz_webhooks import JambonzApp, serving
from jambonz_webhooks.draining import _reset, begin_draining
from jambonz_webhooks.serving import TICK, Limits, Shutdown
from jambonz_webhooks.testing import jambonz_json, sign
from tests import payloads
from tests.conftest import HOST, REPO_ROOT, _free_port, _inherited_env, _stop

APP = "tests.apps.serving:app"
SLACK = 0.5  # seconds a loaded CI machine may add to a bound


def _load_attack() -> ModuleType:
    """benchmarks/attack.py, the mixed attack (a script, not a package)."""
    path = REPO_ROOT / "benchmarks" / "attack.py"
    spec = importlib.util.spec_from_file_location("attack_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


attack = _load_attack()
attack.raise_open_file_limit()  # this process holds thousands of sockets in the attack test
SECRET = attack.SECRET  # the mixed attack signs its valid requests with it


@dataclass
class Run:
    """``jambonz-webhooks run`` serving tests/apps/serving.py in a subprocess."""

    process: subprocess.Popen[bytes]
    port: int
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")


def _run(tmp: Path, tag: str, *args: str) -> Run:
    port = _free_port()
    stderr_path = tmp / f"{tag}.stderr.log"
    env = {**_inherited_env(), "JAMBONZ_WEBHOOK_SECRET": SECRET, "JAMBONZ_WEBHOOK_INSECURE": "1"}
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jambonz_webhooks",
                "run",
                APP,
                "--port",
                str(port),
                "--no-access-log",
                *args,
            ],
            cwd=REPO_ROOT,
            env={**env, "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            preexec_fn=attack.raise_open_file_limit,
        )
    run = Run(process, port, stderr_path)
    deadline = time.monotonic() + 20.0
    workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 0
    # One process says it holds the socket; workers each say their app is up.
    while (
        f"Uvicorn running on http://{HOST}:{port}" not in run.stderr()
        or run.stderr().count("Application startup complete") < workers
    ):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            raise RuntimeError(f"jambonz-webhooks run did not start:\n{run.stderr()}")
        time.sleep(0.05)
    return run


@pytest.fixture(scope="module")
def tight(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """A server with small bounds, so that each is quick to reach."""
    run = _run(
        tmp_path_factory.mktemp("serving"),
        "tight",
        "--max-header-bytes", "8192", "--max-headers", "20",
        "--timeout-idle", "1", "--timeout-head", "1", "--timeout-body", "1", "--timeout-keep-alive", "1",
    )  # fmt: skip
    yield run
    _stop_now(run)
    assert "Traceback" not in run.stderr()


def _stop_now(run: Run) -> None:
    """Stop a server without the drain (SIGINT): the tests that need the drain send SIGTERM."""
    if run.process.poll() is None:
        run.process.send_signal(signal.SIGINT)
        try:
            run.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _stop(run.process)


def _connect(port: int, timeout: float = 10.0) -> socket.socket:
    return socket.create_connection((HOST, port), timeout=timeout)


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _health(port: int, padding: bytes = b"") -> bytes:
    with _connect(port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + padding + b"\r\n")
        return _read_all(sock)


def _signed_post(path: str, payload: dict[str, Any], close: bool = True) -> bytes:
    body = jambonz_json(payload)
    return (
        f"POST {path} HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
        f"Jambonz-Signature: {sign(body, SECRET)}\r\nContent-Length: {len(body)}\r\n"
        + ("Connection: close\r\n" if close else "")
        + "\r\n"
    ).encode() + body


def _status(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


# -- settings --------------------------------------------------------------------------------------


def test_the_default_stop_ends_before_dockers_kill() -> None:
    # Docker sends SIGKILL 10 s after SIGTERM: everything, watchdog included, ends before.
    assert Shutdown().bound < 10
    assert Shutdown(drain=2, grace=5).bound == pytest.approx(9.0)
    with pytest.raises(ValueError, match="max_headers"):
        Limits(max_headers=0)
    with pytest.raises(ValueError, match="timeout_head"):
        Limits(timeout_head=0)


def test_health_answers_503_while_the_process_drains() -> None:
    app = JambonzApp(webhook_secret="s", health_path="/health")
    with TestClient(app) as client:
        assert client.get("/health").json() == {"status": "ok"}
        begin_draining()
        try:
            answer = client.get("/health")
        finally:
            _reset()
        assert (answer.status_code, answer.json()) == (503, {"status": "draining"})
        assert client.get("/health").status_code == 200


# -- size bounds -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_head_over_max_header_bytes_is_431_and_the_server_serves_on(tight: Run) -> None:
    # Just under the bound (8192 bytes with the request line): served.
    under = _health(tight.port, b"X-Pad: " + b"a" * 7900 + b"\r\n")
    assert _status(under) == 200
    # A 100 KB header field: 431, read whole by a client still sending (the server lingers).
    with _connect(tight.port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
        answer = _read_all(sock)
    assert _status(answer) == 431
    assert answer.endswith(b'{"error":"the request\'s header fields are too large"}')
    assert b"connection: close" in answer
    assert _status(_health(tight.port)) == 200


def test_too_many_header_fields_is_431(tight: Run) -> None:
    fields = b"".join(b"X-%d: a\r\n" % number for number in range(18))  # 20 with Host and Connection
    assert _status(_health(tight.port, fields)) == 200
    answer = _health(tight.port, fields + b"X-One-More: a\r\n")
    assert _status(answer) == 431
    assert answer.endswith(b'{"error":"the request has too many header fields"}')
    assert _status(_health(tight.port)) == 200


# -- time bounds -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_slowloris_client_is_closed_within_the_head_timeout(tight: Run) -> None:
    with _connect(tight.port) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        received = b""
        # One more header byte every 50 ms: the head never ends, the bound runs from its start.
        try:
            while time.monotonic() - started < 5:
                sock.sendall(b"X")
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass
        closed = time.monotonic() - started
        with_answer = sock.recv(65536)
        received += with_answer
    assert _status(received) == 408
    assert 1.0 <= closed <= 1.0 + TICK + SLACK


@pytest.mark.slow
def test_idle_connections_are_closed_within_the_idle_timeout(tight: Run) -> None:
    sockets = [_connect(tight.port) for _ in range(300)]
    started = time.monotonic()
    closed_after: list[float] = []
    try:
        for sock in sockets:
            assert sock.recv(1) == b""  # closed, without an answer: nothing was asked
            closed_after.append(time.monotonic() - started)
    finally:
        for sock in sockets:
            sock.close()
    assert max(closed_after) <= 1.0 + TICK + SLACK
    assert min(closed_after) >= 0.8  # not before the bound (less the time to open them all)


@pytest.mark.slow
def test_a_kept_alive_connection_is_closed_after_the_keep_alive_timeout(tight: Run) -> None:
    with _connect(tight.port) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        status, _ = attack.read_response(sock)
        answered = time.monotonic()
        assert status == 200
        assert sock.recv(1) == b""  # the server's end (FIN), not a reset
        waited = time.monotonic() - answered
    assert waited <= 1.0 + SLACK, waited


@pytest.mark.slow
def test_a_stalled_body_is_answered_408_within_the_body_timeout(tight: Run) -> None:
    with _connect(tight.port) as sock:
        body = jambonz_json(payloads.session_new())
        head = (
            f"POST /incoming HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Jambonz-Signature: {sign(body, SECRET)}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(head.encode() + body[:100])
        started = time.monotonic()
        answer = _read_all(sock)
        waited = time.monotonic() - started
    assert _status(answer) == 408
    assert waited <= 1.0 + TICK + SLACK
    assert _status(_health(tight.port)) == 200


# -- the mixed attack ------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_valid_hook_stays_fast_under_the_mixed_attack(tmp_path: Path) -> None:
    # The default bounds, but the idle and body timeouts raised: the server holds every
    # attacking connection through the measurement (the timeouts are shown closing them above).
    run = _run(tmp_path, "attacked", "--timeout-idle", "60", "--timeout-body", "60")
    try:
        figures = attack.run_attack(
            run.port,
            run.process.pid,
            idle=2000,
            stall=300,
            stall_bytes=65536,
            big=4,
            requests=600,
            pace=0.003,
        )
        # 100,000 header fields are refused too.
        fields = b"".join(b"X-%d: a\r\n" % number for number in range(100_000))
        with _connect(run.port) as sock:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
            refused = sock.recv(65536)
    finally:
        _stop_now(run)
    attacked = figures["attacked"]
    assert attacked["errors"] == [], figures
    assert attacked["ok"] == 600
    assert attacked["p99_ms"] < 50, figures
    assert figures["rss_peak_mib"] < 200, figures
    # The attack was whole all along: every idle and stalled connection still held at its end,
    # and the 16 MB headers sent again and again, every one cut off.
    assert figures["attackers"]["held_at_end"] == 2300, figures
    assert figures["attackers"]["big_rounds"] > 4
    assert _status(refused) == 431
    assert "Traceback" not in run.stderr()


# -- stopping --------------------------------------------------------------------------------------


class LoadClient(threading.Thread):
    """Signed call hooks one after another, as jambonz sends them; what became of each."""

    def __init__(self, port: int, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.stop = stop
        self.outcomes: Counter[str] = Counter()

    def run(self) -> None:
        sock: socket.socket | None = None
        while not self.stop.is_set():
            try:
                if sock is None:
                    sock = socket.create_connection((HOST, self.port), timeout=5)
            except OSError as exc:
                self.outcomes[_errno_name(exc)] += 1
                if isinstance(exc, ConnectionRefusedError):
                    return  # nobody listens any more: done
                continue
            try:
                sock.sendall(_signed_post("/incoming", payloads.session_new(), close=False))
                status, head = attack.read_response(sock)
                self.outcomes[str(status)] += 1
                if b"connection: close" in head.lower():
                    sock.close()
                    sock = None
            except OSError as exc:
                self.outcomes[_errno_name(exc)] += 1
                if sock is not None:
                    sock.close()
                sock = None
        if sock is not None:
            sock.close()


def _errno_name(exc: OSError) -> str:
    if exc.errno is not None:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return type(exc).__name__  # closed before the answer (a ConnectionError of read_response)


def _start_request(port: int, request: bytes, into: dict[str, bytes], key: str) -> threading.Thread:
    def send() -> None:
        try:
            with _connect(port, timeout=20) as sock:
                sock.sendall(request)
                into[key] = _read_all(sock)
        except OSError as exc:
            into[key] = f"error {_errno_name(exc)}".encode()

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2], ids=["one-process", "two-workers"])
def test_sigterm_under_load_drains_and_resets_nothing(tmp_path: Path, workers: int) -> None:
    # The default drain (2 s) and grace (5 s); with --workers, the supervisor hands the signal on.
    run = _run(tmp_path, "drain", *(("--workers", str(workers)) if workers > 1 else ()))
    stop = threading.Event()
    clients = [LoadClient(run.port, stop) for _ in range(12)]
    for client in clients:
        client.start()
    answers: dict[str, bytes] = {}
    time.sleep(0.5)
    slow = [
        _start_request(
            run.port, _signed_post("/slow", payloads.call_info(call_sid=f"slow-{n}")), answers, f"{n}"
        )
        for n in range(4)
    ]
    time.sleep(0.2)  # the slow hooks are in flight: they take a second
    signalled = time.monotonic()
    run.process.send_signal(signal.SIGTERM)
    health = _health(run.port)
    # With --workers the supervisor hands the signal on: a probe may reach a worker a moment
    # before it has it. Draining must show within 0.5 s of the signal, so ask until then.
    while _status(health) != 503 and time.monotonic() - signalled < 0.5:
        time.sleep(0.01)
        health = _health(run.port)
    health_after = time.monotonic() - signalled
    try:
        returncode = run.process.wait(timeout=12)
    finally:
        stop.set()
        _stop(run.process)
    exited_after = time.monotonic() - signalled
    for thread in [*clients, *slow]:
        thread.join(timeout=10)
    outcomes: Counter[str] = sum((client.outcomes for client in clients), Counter())

    assert _status(health) == 503 and health.endswith(b'{"status":"draining"}')
    assert health_after < 0.5
    assert returncode == 0
    # The drain (2 s), then the listener closes: the hooks were done, so nothing waits longer.
    assert 2.0 <= exited_after <= 2.0 + 1.0 + SLACK, exited_after
    # Every request answered 200 or its connection refused: none reset, none closed unanswered.
    assert outcomes["200"] > 100, outcomes
    assert set(outcomes) <= {"200", "ECONNREFUSED", "ETIMEDOUT", "TimeoutError"}, outcomes
    assert outcomes["ECONNREFUSED"] == len(clients), outcomes  # each tried on until the listener closed
    for n in range(4):
        assert _status(answers[f"{n}"]) == 200, answers
        assert b"slow but done" in answers[f"{n}"]
    stderr = run.stderr()
    assert "Traceback" not in stderr
    assert stderr.count("Shutting down: draining for 2.0 s") == workers


@pytest.mark.slow
def test_hooks_running_past_the_bound_answer_their_fallback_and_the_process_exits(tmp_path: Path) -> None:
    run = _run(tmp_path, "cut", "--drain", "0.5", "--timeout-graceful-shutdown", "1")
    answers: dict[str, bytes] = {}
    threads = [
        _start_request(run.port, _signed_post("/stuck", payloads.call_info(call_sid="a")), answers, "async"),
        _start_request(
            run.port, _signed_post("/stuck-sync", payloads.call_info(call_sid="b")), answers, "sync"
        ),
        _start_request(run.port, b"GET /plain-stuck HTTP/1.1\r\nHost: x\r\n\r\n", answers, "plain"),
    ]
    time.sleep(0.5)
    signalled = time.monotonic()
    run.process.send_signal(signal.SIGTERM)
    try:
        returncode = run.process.wait(timeout=10)
    finally:
        _stop(run.process)
    exited_after = time.monotonic() - signalled
    for thread in threads:
        thread.join(timeout=5)

    assert returncode == 0
    # drain 0.5 + grace 1, then a moment for the fallbacks: well within the bound.
    assert exited_after <= Shutdown(drain=0.5, grace=1).bound, exited_after
    for key in ("async", "sync"):
        answer = answers[key]
        assert _status(answer) == 200, answers
        verbs = json.loads(answer.partition(b"\r\n\r\n")[2])
        assert [verb["verb"] for verb in verbs] == ["say", "hangup"]
        assert verbs[0]["text"] == "sorry, we are closing"
    assert _status(answers["plain"]) == 503
    assert answers["plain"].endswith(b'{"error":"the server is shutting down"}')
    stderr = run.stderr()
    assert "Traceback" not in stderr
    assert "answered 503" in stderr


@pytest.mark.slow
def test_a_handler_blocking_the_event_loop_cannot_hold_the_process_past_its_bound(tmp_path: Path) -> None:
    run = _run(tmp_path, "blocked", "--drain", "0", "--timeout-graceful-shutdown", "0.5")
    answers: dict[str, bytes] = {}
    thread = _start_request(run.port, _signed_post("/blocking", payloads.call_info()), answers, "blocking")
    time.sleep(0.5)  # the loop is blocked from now on: no signal handler of the loop's could run
    signalled = time.monotonic()
    run.process.send_signal(signal.SIGTERM)
    try:
        returncode = run.process.wait(timeout=10)
    finally:
        _stop(run.process)
    exited_after = time.monotonic() - signalled
    thread.join(timeout=5)
    # The watchdog: the process ends at its bound (status 1, it did not stop cleanly); the
    # blocked request gets no answer.
    assert returncode == 1
    assert (
        Shutdown(drain=0, grace=0.5).bound - 0.2 <= exited_after <= Shutdown(drain=0, grace=0.5).bound + SLACK
    )
    assert _status(answers["blocking"]) == 0
    assert "exiting now" in run.stderr()


@pytest.mark.slow
def test_sigint_stops_without_the_drain(tmp_path: Path) -> None:
    run = _run(tmp_path, "sigint")
    signalled = time.monotonic()
    run.process.send_signal(signal.SIGINT)
    try:
        returncode = run.process.wait(timeout=10)
    finally:
        _stop(run.process)
    assert returncode == 0
    assert time.monotonic() - signalled < 1.0 + SLACK


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_second_signal_hurries_the_stop_without_a_traceback(tmp_path: Path, sig: signal.Signals) -> None:
    # An impatient Ctrl+C twice, or an orchestrator's repeated SIGTERM: the stop is hurried, the
    # app's shutdown still runs (bounded), and nothing is left to be cancelled with a traceback.
    run = _run(tmp_path, f"twice-{sig.name}")
    run.process.send_signal(sig)
    time.sleep(0.2)
    run.process.send_signal(sig)
    try:
        returncode = run.process.wait(timeout=10)
    finally:
        _stop(run.process)
    stderr = run.stderr()
    assert returncode == 0, stderr
    assert "Traceback" not in stderr and "CancelledError" not in stderr
    assert "Application shutdown complete" in stderr


@pytest.mark.parametrize(
    ("version", "warned"), [("0.55.0", False), ("0.55.3", False), ("0.56.0", True), ("1.0", True)]
)
def test_another_uvicorn_release_is_warned_of(
    version: str, warned: bool, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "__version__", version)
    with caplog.at_level(logging.WARNING, logger="uvicorn.error"):
        serving._check_uvicorn_version()
    assert ("were tested with 0.55" in caplog.text) is warned


@pytest.mark.slow
def test_a_worker_that_dies_is_replaced(tmp_path: Path) -> None:
    run = _run(tmp_path, "replace", "--workers", "2")
    try:
        pids = [
            int(pid) for pid in run.stderr().split("Started 2 workers (pids ")[1].split(")")[0].split(", ")
        ]
        os.kill(pids[0], signal.SIGKILL)
        deadline = time.monotonic() + 20
        while run.stderr().count("Application startup complete") < 3:
            assert run.process.poll() is None and time.monotonic() < deadline, run.stderr()
            time.sleep(0.05)
        assert f"Worker {pids[0]} exited with -9: starting another" in run.stderr()
        for _ in range(20):  # whichever worker takes it, every request is answered
            with _connect(run.port) as sock:
                sock.sendall(_signed_post("/incoming", payloads.session_new()))
                assert _status(_read_all(sock)) == 200
    finally:
        run.process.send_signal(signal.SIGTERM)
        assert run.process.wait(timeout=15) == 0


@pytest.mark.slow  # a subprocess or a scan of the whole repository: CI runs it
def test_run_writes_the_access_line_of_an_app_that_set_up_no_logging(tmp_path: Path) -> None:
    # uvicorn configures its own loggers only; the app's line per hook must not be lost.
    port = _free_port()
    stderr_path = tmp_path / "plain.stderr.log"
    with open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "jambonz_webhooks", "run", "tests.apps.plain:app", "--port", str(port)],
            cwd=REPO_ROOT,
            env={**_inherited_env(), "PYTHONUNBUFFERED": "1"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 20.0
        while f"Uvicorn running on http://{HOST}:{port}" not in stderr_path.read_text():
            assert process.poll() is None and time.monotonic() < deadline, stderr_path.read_text()
            time.sleep(0.05)
        body = jambonz_json(payloads.session_new())
        with socket.create_connection((HOST, port), timeout=5) as connection:
            request = (
                f"POST /incoming HTTP/1.1\r\nHost: {HOST}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
            ).encode() + body
            connection.sendall(request)
            assert connection.recv(65536).startswith(b"HTTP/1.1 200")
        line = "call hook POST /incoming -> 200"
        while line not in stderr_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert stderr_path.read_text().count(line) == 1
    finally:
        _stop(process)
