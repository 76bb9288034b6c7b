"""Malformed frames, floods and idle sockets over jambonz's WebSocket API, on a real server.

The example IVR is served as users serve it (``jambonz-webhooks run``), with the HTTP bounds
shortened (1 s idle and keep-alive) so that a WebSocket call outliving them shows quickly.
While one socket misbehaves, other calls are up on the same process: each of them must keep
getting its acks (checked before, during and after), HTTP hooks must keep being answered, and
the process must stay up. What the misbehaving socket gets:

- nothing, for a frame that is no message (not JSON, not an object, no usable msgid, too
  large for the app, an unknown type): logged, ignored. jambonz's own server answers an app's
  invalid message with ``jambonz:error``, but jambonz accepts only ``ack`` and ``command`` from
  the app, so the app answers nothing (PROTOCOL-WS.md §4, §8);
- an ack without verbs, for a message whose payload is not a call: no handler runs, and a
  ``session:new``'s call fails (jambonz wants verbs) instead of being greeted;
- a close, for a frame the WebSocket layer itself refuses: a text frame that is not UTF-8
  (1007) or a frame past the server's size bound (1009).
"""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx2
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from tests.conftest import HOST, REPO_ROOT, LiveServer, _free_port, _inherited_env, _stop, _wait_ready
from tests.payloads import call_info, session_new

SUBPROTOCOL = Subprotocol("ws.jambonz.org")
OTHERS = 6
"""Calls up on the server while one socket misbehaves."""
ACK_WAIT = 5.0
"""Seconds jambonz waits for an ack."""
HTTP_IDLE = 1.0
"""The server's HTTP idle and keep-alive bounds in these tests (5 s by default)."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The example IVR under ``jambonz-webhooks run``, opened, its logs in a file."""
    log_dir = tmp_path_factory.mktemp("ws-robust")
    port = _free_port()
    log = log_dir / "server.log"
    command = [sys.executable, "-m", "jambonz_webhooks", "run", "example_app.app:app", "--port", str(port)]
    command += ["--timeout-idle", str(HTTP_IDLE), "--timeout-keep-alive", str(int(HTTP_IDLE))]
    env = {**_inherited_env(), "JAMBONZ_WEBHOOK_INSECURE": "1", "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
    live = LiveServer("example_app.app:app", process, port, log)
    try:
        assert _wait_ready(live, time.monotonic() + 30), live.stderr()
        yield live
    finally:
        _stop(process)


def _open(server: LiveServer) -> ClientConnection:
    opened: ClientConnection = connect(
        f"ws://{HOST}:{server.port}/incoming", subprotocols=[SUBPROTOCOL], open_timeout=10, max_size=None
    )
    return opened


def _send(sock: ClientConnection, kind: str, data: Any, **fields: Any) -> str:
    msgid = uuid.uuid4().hex[:22]
    sock.send(json.dumps({"type": kind, "msgid": msgid, **fields, "data": data}))
    return msgid


def _next_frame(sock: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(sock.recv(timeout=ACK_WAIT))
    return frame


def _ack(sock: ClientConnection, msgid: str) -> dict[str, Any]:
    frame = _next_frame(sock)
    assert frame["type"] == "ack" and frame["msgid"] == msgid, frame
    return frame


def _new_call(sock: ClientConnection) -> str:
    sid = str(uuid.uuid4())
    greeting = _ack(sock, _send(sock, "session:new", session_new(call_sid=sid), call_sid=sid))
    assert greeting["data"][0]["text"].startswith("Hello"), greeting
    return sid


def _menu(sock: ClientConnection, sid: str) -> float:
    """A verb:hook for /menu on a call's socket: the seconds its ack took (it has verbs)."""
    started = time.monotonic()
    data = call_info(call_sid=sid, reason="dtmfDetected", digits="2")
    ack = _ack(sock, _send(sock, "verb:hook", data, hook="/menu", call_sid=sid))
    assert ack["data"], ack
    return time.monotonic() - started


class Calls:
    """Calls up on the server, each after its session:new ack; :meth:`check` hooks each once."""

    def __init__(self, server: LiveServer, stack: ExitStack, count: int) -> None:
        self.server = server
        self.calls = []
        for _ in range(count):
            sock = stack.enter_context(_open(server))
            self.calls.append((sock, _new_call(sock)))

    def check(self) -> float:
        """Every call's verb:hook acked with verbs, and an HTTP hook answered: the slowest ack's seconds."""
        slowest = max(_menu(sock, sid) for sock, sid in self.calls)
        with httpx2.Client(base_url=self.server.origin, timeout=ACK_WAIT, trust_env=False) as client:
            answer = client.post("/menu", json=call_info(reason="dtmfDetected", digits="1"))
        assert answer.status_code == 200 and answer.json()[0]["verb"] == "say", answer.text
        assert self.server.is_running()
        return slowest


@pytest.fixture(scope="module")
def others(server: LiveServer) -> Iterator[Calls]:
    with ExitStack() as stack:
        yield Calls(server, stack, OTHERS)


# -- one malformed frame ------------------------------------------------------------------------

IGNORED, NO_VERBS, CLOSED_1007, CLOSED_1009 = "ignored", "acked without verbs", 1007, 1009


def _frame(kind: str, data: Any, msgid: Any = "m-bad-1", **fields: Any) -> str:
    return json.dumps({"type": kind, "msgid": msgid, **fields, "data": data})


def _with_call(**fields: Any) -> str:
    """A session:new whose call has ``fields`` (raw JSON values) in place of its own."""
    body = json.dumps(session_new())[:-1]
    return '{"type":"session:new","msgid":"m-bad-1","data":' + body + "," + _members(fields) + "}}"


def _members(fields: dict[str, Any]) -> str:
    return ",".join(f'"{name}":{value}' for name, value in fields.items())


# (what is sent: text, or bytes sent as a binary frame, or ("text", bytes) for raw text bytes),
# what the socket gets, a line the server logs.
CASES: dict[str, tuple[str | bytes | tuple[str, bytes], object, str | None]] = {
    "not JSON": ("{not json", IGNORED, "not JSON"),
    "JSON, not an object": ("[1, 2, 3]", IGNORED, "not a JSON object"),
    "binary frame, not UTF-8": (b"\x80\xff\xfe binary", IGNORED, "not UTF-8"),
    "binary frame of JSON": (_frame("session:new", {"call_sid": 1}).encode(), NO_VERBS, "invalid payload"),
    "text frame, invalid UTF-8": (("text", b'{"type":"verb:hook","msgid":"\xff\xfe"}'), CLOSED_1007, "UTF-8"),
    "unknown type": (_frame("agent:surprise", {"x": 1}), IGNORED, None),
    "no type": ('{"msgid":"m-bad-1","data":{}}', IGNORED, None),
    "type a list": ('{"type":["session:new"],"msgid":"m-bad-1","data":{}}', IGNORED, None),
    "type an object": ('{"type":{"session:new":1},"msgid":"m-bad-1","data":{}}', IGNORED, None),
    "missing msgid": (
        json.dumps({"type": "verb:hook", "hook": "/menu", "data": call_info()}),
        IGNORED,
        "msgid",
    ),
    "empty msgid": (_frame("verb:hook", call_info(), msgid="", hook="/menu"), IGNORED, "msgid"),
    "oversized msgid": (_frame("verb:hook", call_info(), msgid="m" * 129, hook="/menu"), IGNORED, "msgid"),
    "msgid a number": (_frame("session:new", session_new(), msgid=42), IGNORED, "msgid"),
    "msgid a list": (_frame("session:new", session_new(), msgid=["m"]), IGNORED, "msgid"),
    "over the app's frame limit": (_frame("verb:hook", "x" * 300_000, hook="/menu"), IGNORED, "over 262144"),
    "over the server's size bound": (_frame("verb:hook", "x" * 1_200_000, hook="/menu"), CLOSED_1009, None),
    "session:new, data a list": (_frame("session:new", [session_new()]), NO_VERBS, "not a JSON object"),
    "session:new, data a string": (_frame("session:new", "a call"), NO_VERBS, "not a JSON object"),
    "session:new, data null": (_frame("session:new", None), NO_VERBS, "not a JSON object"),
    "session:new, no data": ('{"type":"session:new","msgid":"m-bad-1"}', NO_VERBS, "not a JSON object"),
    "session:new, call fields missing": (
        _frame("session:new", {"from": "+1555"}),
        NO_VERBS,
        "invalid payload",
    ),
    "session:new, call_sid a number": (_with_call(call_sid=42), NO_VERBS, "invalid payload"),
    "session:new, NaN": (_with_call(sip_status="NaN"), NO_VERBS, "invalid payload"),
    "session:new, infinite number": (_with_call(sip_status="1e999"), NO_VERBS, "invalid payload"),
    "session:new, 5000-digit number": (_with_call(sip_status="9" * 5000), IGNORED, "not JSON"),
    "session:new, nested 100,000 deep": (
        _with_call(customerData="[" * 100_000 + "]" * 100_000),
        IGNORED,
        "not JSON",
    ),
    "verb:hook, data not a call": (
        _frame("verb:hook", {"digits": 1}, hook="/menu"),
        NO_VERBS,
        "invalid payload",
    ),
    "verb:hook, hook a number": (_frame("verb:hook", call_info(), hook=7), NO_VERBS, None),
    "call:status, data a list": (_frame("call:status", [1]), IGNORED, None),
}


def _send_case(sock: ClientConnection, sent: str | bytes | tuple[str, bytes]) -> None:
    if isinstance(sent, tuple):
        sock.send(sent[1], text=True)  # websockets sends these bytes as they are, in a text frame
    else:
        sock.send(sent)


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_a_malformed_frame_touches_only_its_own_socket(server: LiveServer, others: Calls, case: str) -> None:
    sent, outcome, logged = CASES[case]
    log_before = len(server.stderr())
    others.check()
    with _open(server) as bad:
        _send_case(bad, sent)
        others.check()  # right after it, on the same event loop
        if isinstance(outcome, int):
            with pytest.raises(ConnectionClosed) as closed:
                bad.recv(timeout=ACK_WAIT)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == outcome
        else:
            if outcome == NO_VERBS:
                ack = _next_frame(bad)
                assert ack == {"type": "ack", "msgid": "m-bad-1"}  # no verbs: never a greeting
            # The socket goes on: the next frame back is the next message's ack.
            _menu(bad, str(uuid.uuid4()))
    others.check()
    log = server.wait_for_stderr(logged)[log_before:] if logged is not None else server.stderr()[log_before:]
    if logged is not None:
        assert logged in log, log
    if outcome != CLOSED_1007:  # uvicorn logs that one with its traceback
        assert "Traceback" not in log, log


@pytest.mark.slow
def test_no_call_hook_ran_for_a_session_new_that_is_not_a_call(server: LiveServer) -> None:
    sid = str(uuid.uuid4())
    with _open(server) as bad:
        bad.send(_frame("session:new", {"call_sid": sid, "from": "+1555"}, call_sid=sid))
        assert _next_frame(bad) == {"type": "ack", "msgid": "m-bad-1"}
    with _open(server) as good:
        greeting = _ack(good, _send(good, "session:new", session_new(call_sid=sid), call_sid=sid))
    assert greeting["data"]
    server.wait_for_stderr(f"verbs say,gather,say,hangup, call_sid={sid}")  # the log is buffered
    access = [
        line for line in server.stderr().splitlines() if "call hook WS /incoming" in line and sid in line
    ]
    assert len(access) == 1, access  # the good one only


# -- floods --------------------------------------------------------------------------------------


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _in_background(work: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # reported by the test, not lost in the thread
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


FLOOD = 10_000


@pytest.mark.slow
def test_a_flood_of_tiny_frames_does_not_starve_other_calls(server: LiveServer, others: Calls) -> None:
    """10,000 tiny frames on one socket: a third want acks, a third are junk, a third notifications."""
    others.check()
    rss_before = _rss_kib(server.process.pid)
    with _open(server) as flood:
        _new_call(flood)
        wanted = [f"f{index}" for index in range(0, FLOOD, 3)]
        frames = []
        for index in range(FLOOD):
            if index % 3 == 0:
                frames.append(f'{{"type":"verb:hook","msgid":"f{index}","hook":"/menu","data":{{}}}}')
            elif index % 3 == 1:
                frames.append("x")
            else:
                frames.append('{"type":"verb:status","data":{}}')
        acks: list[str] = []

        def send_all() -> None:
            for frame in frames:
                flood.send(frame)

        def read_acks() -> None:
            while len(acks) < len(wanted):
                frame = json.loads(flood.recv(timeout=30))
                assert frame == {"type": "ack", "msgid": frame["msgid"]}, frame  # no verbs: data not a call
                acks.append(frame["msgid"])

        sender, send_errors = _in_background(send_all)
        reader, read_errors = _in_background(read_acks)
        slowest, rounds, rss_peak = 0.0, 0, rss_before
        while sender.is_alive() or reader.is_alive():
            slowest = max(slowest, others.check())
            rounds += 1
            rss_peak = max(rss_peak, _rss_kib(server.process.pid))
        sender.join()
        reader.join()
        assert not send_errors and not read_errors, (send_errors, read_errors)
        assert sorted(acks) == sorted(wanted)  # each acked once
        _menu(flood, str(uuid.uuid4()))
    assert rounds >= 1
    assert slowest < 1.0, slowest  # jambonz waits 5 s; one socket's flood must not come near
    others.check()
    # MAX_PENDING bounds what a socket holds: the flood leaves no lasting growth of note.
    assert rss_peak - rss_before < 32 * 1024, (rss_before, rss_peak)


# -- idle sockets ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_call_idle_longer_than_the_http_idle_bounds_still_gets_its_acks(server: LiveServer) -> None:
    """jambonz keeps a call's socket for the call's whole life: the HTTP bounds must not close it."""
    with _open(server) as sock:
        time.sleep(2.5 * HTTP_IDLE)  # silent since the upgrade, past the idle and keep-alive bounds
        sid = _new_call(sock)
        time.sleep(2.5 * HTTP_IDLE)  # and silent again mid-call
        assert _menu(sock, sid) < ACK_WAIT


def _raw_upgrade(port: int) -> socket.socket:
    """A socket upgraded to WebSocket by hand, that will never send a frame."""
    raw = socket.create_connection((HOST, port), timeout=10)
    raw.sendall(
        b"GET /incoming HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        b"Sec-WebSocket-Protocol: ws.jambonz.org\r\n\r\n"
    )
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = raw.recv(4096)
        assert chunk, head
        head += chunk
    assert head.startswith(b"HTTP/1.1 101"), head
    return raw


IDLE_SOCKETS = 1000


@pytest.mark.slow
def test_a_thousand_silent_sockets_are_kept_and_other_calls_go_on(server: LiveServer, others: Calls) -> None:
    """Upgraded sockets that never send are kept (a call may be silent for long); the rest goes on."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4 * IDLE_SOCKETS)), hard))
    rss_before = _rss_kib(server.process.pid)
    silent: list[socket.socket] = []
    try:
        for _ in range(IDLE_SOCKETS):
            silent.append(_raw_upgrade(server.port))
        others.check()
        time.sleep(2.5 * HTTP_IDLE)
        others.check()
        for raw in silent:
            raw.setblocking(False)
            with pytest.raises(BlockingIOError):  # still open, nothing sent to it
                raw.recv(1)
        per_socket = (_rss_kib(server.process.pid) - rss_before) / IDLE_SOCKETS
        assert per_socket < 50, per_socket  # KiB; the benchmark measures it with each call answered
    finally:
        for raw in silent:
            raw.close()
    others.check()
    assert server.is_running()
