"""A call's socket drops mid-call and jambonz reconnects, landing on another worker (Redis state).

Two uvicorn processes serve tests/apps/ws_reconnect.py on two ports with one real redis-server.
jambonz reconnects a socket closed with any code but 1000 (or dropped) and first sends
``session:reconnect`` with the whole session:new data (PROTOCOL-WS.md §7): if the session:new
was acked, the reconnect's ack only says the app is back (the call hook must not run again);
if it was not, the reconnect's verbs become the call's.
"""

from __future__ import annotations

import json
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_sync
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect
from websockets.typing import Subprotocol

from jambonz_webhooks.websocket import ANSWERED_KEY
from tests.conftest import LiveServer, _spawn, _stop, _wait_ready
from tests.payloads import call_info, session_new

SUBPROTOCOL = Subprotocol("ws.jambonz.org")


@pytest.fixture
def workers(tmp_path: Path, redis_url: str) -> Iterator[tuple[LiveServer, LiveServer]]:
    """Workers A and B: the same app, one Redis."""
    env = {"JAMBONZ_REDIS_URL": redis_url, "JAMBONZ_WEBHOOK_INSECURE": "1"}
    first, second = (_spawn("tests.apps.ws_reconnect:app", tmp_path, tag, env) for tag in ("a", "b"))
    try:
        for server in (first, second):
            assert _wait_ready(server, time.monotonic() + 30), server.stderr()
        yield first, second
    finally:
        _stop(first.process)
        _stop(second.process)


def _open(server: LiveServer) -> ClientConnection:
    socket: ClientConnection = connect(
        f"ws://127.0.0.1:{server.port}/incoming", subprotocols=[SUBPROTOCOL], open_timeout=10
    )
    return socket


def _send(socket: ClientConnection, kind: str, data: Any, **fields: Any) -> str:
    msgid = uuid.uuid4().hex[:22]
    socket.send(json.dumps({"type": kind, "msgid": msgid, **fields, "data": data}))
    return msgid


def _ack(socket: ClientConnection, msgid: str, timeout: float = 5.0) -> dict[str, Any]:
    frame = json.loads(socket.recv(timeout=timeout))
    assert frame["type"] == "ack" and frame["msgid"] == msgid, frame
    return dict(frame)


def _said(ack: dict[str, Any]) -> list[str]:
    return [verb["text"] for verb in ack.get("data", ()) if verb["verb"] == "say"]


def _seen_on(server: LiveServer, sid: str) -> dict[str, Any]:
    """What ``/next`` on ``server`` reads of the call's state (over a socket of its own)."""
    with _open(server) as socket:
        ack = _ack(socket, _send(socket, "verb:hook", call_info(call_sid=sid), hook="/next", call_sid=sid))
    seen: dict[str, Any] = json.loads(_said(ack)[0])
    return seen


def _call_hook_lines(server: LiveServer, sid: str) -> int:
    return sum(1 for line in server.stderr().splitlines() if "call hook WS /incoming" in line and sid in line)


def _drop_during_the_call_hook(server: LiveServer, sid: str, delay: float, busy_turns: int) -> None:
    """Send a session:new whose handler takes ``delay`` s (and ``busy_turns`` slow hooks), then
    drop the socket (1011) before the ack."""
    slow = session_new(call_sid=sid)
    slow["sip"]["headers"]["X-Delay"] = str(delay)
    with _open(server) as socket:
        _send(socket, "session:new", slow, call_sid=sid)
        for _ in range(busy_turns):
            _send(socket, "verb:hook", call_info(call_sid=sid), hook="/wait", call_sid=sid)
        time.sleep(0.3)  # the handler is under way (it counted its run), its ack not sent
        socket.close(code=1011)


def _wait_answered(redis_url: str, sid: str) -> None:
    """Wait until the call is marked answered in Redis: A writes it just after the ack is sent.

    (A worker killed between the two makes B run the call hook again, its verbs ignored by
    jambonz: the safe side of that race, which this test is not about.)
    """
    deadline = time.monotonic() + 5
    with redis_sync.Redis.from_url(redis_url, socket_timeout=5) as client:
        while time.monotonic() < deadline:
            if any(client.hget(key, ANSWERED_KEY) for key in client.scan_iter(f"*{sid}")):
                return
            time.sleep(0.01)
    raise AssertionError(f"call {sid} never marked answered")


@pytest.mark.slow
@pytest.mark.parametrize("drop", ["close-1011", "worker-killed"])
def test_a_reconnect_on_the_other_worker_is_acked_without_running_the_call_hook(
    workers: tuple[LiveServer, LiveServer], redis_url: str, drop: str
) -> None:
    first, second = workers
    sid = str(uuid.uuid4())
    start = session_new(call_sid=sid)
    first_pid = first.process.pid
    with _open(first) as socket:
        greeting = _ack(socket, _send(socket, "session:new", start, call_sid=sid))
        assert _said(greeting) == [f"pid={first_pid}"]
        _wait_answered(redis_url, sid)
        if drop == "close-1011":
            socket.close(code=1011)  # not 1000: jambonz reconnects
        else:
            first.process.send_signal(signal.SIGKILL)
            first.process.wait(timeout=5)
            with pytest.raises(ConnectionClosed):
                socket.recv(timeout=5)
    with _open(second) as again:
        back = _ack(again, _send(again, "session:reconnect", start, call_sid=sid))
        assert "data" not in back  # jambonz keeps the running verbs; none are wanted
        answer = _ack(again, _send(again, "verb:hook", call_info(call_sid=sid), hook="/next", call_sid=sid))
    seen = json.loads(_said(answer)[0])
    assert seen == {"pid": second.process.pid, "runs": 1, "by_pid": first_pid}
    assert _call_hook_lines(second, sid) == 0
    assert second.is_running()


@pytest.mark.slow
def test_a_reconnect_after_an_unacked_session_new_runs_the_call_hook_on_the_other_worker(
    workers: tuple[LiveServer, LiveServer], redis_url: str
) -> None:
    """The socket drops while A's handler runs: A never acks, so B's reconnect ack carries the verbs."""
    first, second = workers
    sid = str(uuid.uuid4())
    _drop_during_the_call_hook(first, sid, delay=1.5, busy_turns=0)
    start = session_new(call_sid=sid)  # jambonz sends the session:new data it cached
    with _open(second) as again:
        ack = _ack(again, _send(again, "session:reconnect", start, call_sid=sid))
    assert _said(ack) == [f"pid={second.process.pid}"]
    seen = _seen_on(second, sid)
    assert seen["runs"] == 2 and seen["by_pid"] == second.process.pid
    # Answered now: one more drop and reconnect gets an ack without verbs.
    _wait_answered(redis_url, sid)
    with _open(first) as third:
        assert "data" not in _ack(third, _send(third, "session:reconnect", start, call_sid=sid))


@pytest.mark.slow
def test_an_ack_that_never_left_does_not_count_as_the_call_answered(
    workers: tuple[LiveServer, LiveServer],
) -> None:
    """A's handler finishes after the socket dropped (its reader was waiting for a free turn):
    its ack goes nowhere, so B's reconnect must still get the call hook's verbs."""
    first, second = workers
    sid = str(uuid.uuid4())
    # The socket's turns (MAX_PENDING) taken by slow hooks: its reader waits on one.
    _drop_during_the_call_hook(first, sid, delay=1.0, busy_turns=32)
    time.sleep(1.5)  # A's call hook has finished; its ack found the socket gone
    start = session_new(call_sid=sid)
    with _open(second) as again:
        ack = _ack(again, _send(again, "session:reconnect", start, call_sid=sid))
    assert _said(ack) == [f"pid={second.process.pid}"]
    assert first.is_running()
