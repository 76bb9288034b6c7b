"""How the app is served: uvicorn, with bounds on slow and idle clients, and a drain on SIGTERM.

``jambonz-webhooks run`` (and so the Docker image) serves through :func:`run`. Out of the box
uvicorn's httptools protocol bounds neither the size of a request's head nor the time a client
may take to send it, and its shutdown resets connections and answers health checks to the end.
Here:

- :class:`BoundedHttpToolsProtocol` is uvicorn's httptools protocol (uvloop and httptools keep
  their speed) with :class:`Limits`: the bytes and the number of a request's header fields (431
  beyond either), the seconds a new connection may stay silent, a request's head may take to
  arrive (slowloris), and its body after the head (408, then the connection is closed).
  Plain uvicorn can use it too, with the default limits:
  ``uvicorn app:app --http jambonz_webhooks.serving:BoundedHttpToolsProtocol``.
- :class:`DrainingServer` stops in three steps on SIGTERM (:class:`Shutdown`): for ``drain``
  seconds it serves on while ``/health`` answers 503 and every answer closes its connection (a
  load balancer takes the process out of service); then it stops taking connections without
  resetting any it accepted, and requests in flight have ``grace`` seconds more to finish;
  what still runs then is answered as at its deadline (a hook's fallback verbs) or with a 503,
  and the process exits, all within Docker's 10 s stop timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import math
import multiprocessing
import multiprocessing.process
import os
import signal
import socket
import struct
import sys
import threading
import time
import weakref
from collections.abc import Generator
from dataclasses import dataclass
from types import FrameType
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import Server, ServerState

from .deadline import deadlines
from .draining import begin_draining
from .draining import state as drain_state
from .logs import configure_logging

__all__ = [
    "BoundedHttpToolsProtocol",
    "DrainingServer",
    "Limits",
    "ServingConfig",
    "Shutdown",
    "run",
]

logger = logging.getLogger("uvicorn.error")

STARTUP_FAILURE = 3
"""The exit status when the server did not start (uvicorn's)."""

WS_MAX_SIZE = 1024 * 1024
"""Bytes of one WebSocket message read at most: a larger one closes its socket (1009)."""

TESTED_UVICORN = (0, 55)
"""The uvicorn release whose protocol and server internals this module was written against."""


@dataclass(frozen=True)
class Limits:
    """What one connection may take of the server: the size of a request's head, and time.

    Seconds run from the connection (``timeout_idle``), from a request's first byte
    (``timeout_head``) and from the end of its head (``timeout_body``, None for no bound); a
    connection is closed within a quarter of a second after its bound.
    """

    max_header_bytes: int = 32 * 1024
    """The most bytes of a request's head (request line and header fields): 431 beyond."""
    max_headers: int = 100
    """The most header fields in a request: 431 beyond."""
    timeout_idle: float = 5.0
    """Seconds a new connection may stay silent before it is closed."""
    timeout_head: float = 5.0
    """Seconds a request's head may take to arrive once it began (slowloris): 408, closed."""
    timeout_body: float | None = 10.0
    """Seconds a request's body may take to arrive after its head: 408, closed (jambonz waits 10)."""
    timeout_keep_alive: int = 5
    """Seconds an idle connection is kept between two requests (uvicorn's ``--timeout-keep-alive``)."""
    linger: float = 2.0
    """Seconds a closing connection is read (and what it sends dropped) so the client gets its answer."""
    linger_bytes: int = 256 * 1024
    """The most bytes read from a closing connection before it is closed outright."""

    def __post_init__(self) -> None:
        for name in ("max_header_bytes", "max_headers", "timeout_keep_alive", "linger_bytes"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, not {getattr(self, name)!r}")
        for name in ("timeout_idle", "timeout_head", "timeout_body", "linger"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {value!r}")


@dataclass(frozen=True)
class Shutdown:
    """How the server stops on SIGTERM: ``drain`` seconds of serving on, then ``grace`` to finish.

    The process exits at most :attr:`bound` seconds after SIGTERM: ``drain + grace``, then
    :data:`CUT_OFF_WAIT` for hooks to answer their fallback and :data:`CANCEL_WAIT` for the rest
    to be cancelled, the app's own shutdown (at most :data:`LIFESPAN_SHUTDOWN_LIMIT`), and a
    watchdog ends it :data:`EXIT_ALLOWANCE` seconds after that if anything still holds it: 9 s
    with the defaults, Docker kills at 10.
    """

    drain: float = 2.0
    """Seconds the server serves on after SIGTERM, ``/health`` answering 503 (none after SIGINT)."""
    grace: float = 5.0
    """Seconds requests in flight have to finish once no connection is taken any more."""

    def __post_init__(self) -> None:
        if not self.drain >= 0 or not self.grace >= 0:
            raise ValueError(f"drain and grace are seconds, at least 0: {self.drain!r}, {self.grace!r}")

    @property
    def bound(self) -> float:
        """Seconds from the signal to the exit, at most (the watchdog's)."""
        return self.drain + self.grace + AFTER_GRACE


LIFESPAN_SHUTDOWN_LIMIT = 1.0
"""Seconds the app's lifespan shutdown may take once the requests are done."""
EXIT_ALLOWANCE = 0.5
"""Seconds past everything else before the watchdog ends the process."""
SILENCE = 0.25
"""Seconds a connection must have been silent before a draining server closes it: one accepted
just before the server stopped taking connections gets its request in first."""
HANDSHAKE_SETTLE = 0.1
"""Seconds for connections in mid-handshake to be accepted once new ones are refused."""
CUT_OFF_WAIT = 0.3
"""Seconds hooks have to answer their fallback once the grace period is over."""
CANCEL_WAIT = 0.2
"""Seconds the requests left then have to end once cancelled."""
AFTER_GRACE = CUT_OFF_WAIT + CANCEL_WAIT + LIFESPAN_SHUTDOWN_LIMIT + EXIT_ALLOWANCE
"""Seconds past ``drain + grace`` before the watchdog ends the process."""
TICK = 0.25
"""Seconds between two checks of the connections' time bounds."""


def _answer(status: int, phrase: str, message: str, extra: str = "") -> bytes:
    body = b'{"error":"' + message.encode("ascii") + b'"}'
    head = (
        f"HTTP/1.1 {status} {phrase}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n{extra}connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


HEAD_TOO_LARGE = _answer(431, "Request Header Fields Too Large", "the request's header fields are too large")
TOO_MANY_HEADERS = _answer(431, "Request Header Fields Too Large", "the request has too many header fields")
REQUEST_TIMEOUT = _answer(408, "Request Timeout", "the request did not arrive in time")
SHUTTING_DOWN = _answer(503, "Service Unavailable", "the server is shutting down", "retry-after: 1\r\n")

# Where a connection is: its bound runs from ``_since`` (loop time) in IDLE, HEAD, BODY, QUIET
# and LINGER; in APP the app has the request (uvicorn's keep-alive timer runs after its answer).
IDLE, HEAD, BODY, APP, QUIET, LINGER, GONE = range(7)


class _TooManyHeaders(Exception):
    """Raised in httptools' callback to stop parsing a request with too many header fields."""


class _Sweeper:
    """The connections of one event loop, checked against their time bounds every :data:`TICK`.

    One timer for all, rather than one armed and cancelled per request: a request that arrives
    whole in one read costs no clock reading and no timer.
    """

    __slots__ = ("__weakref__", "connections", "handle", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.connections: dict[BoundedHttpToolsProtocol, None] = {}
        self.handle: asyncio.TimerHandle | None = None

    def add(self, connection: BoundedHttpToolsProtocol) -> None:
        self.connections[connection] = None
        if self.handle is None:
            self.handle = self.loop.call_later(TICK, self.sweep)

    def discard(self, connection: BoundedHttpToolsProtocol) -> None:
        self.connections.pop(connection, None)

    def sweep(self) -> None:
        now = self.loop.time()
        for connection in list(self.connections):
            connection.check_bounds(now)
        self.handle = self.loop.call_later(TICK, self.sweep) if self.connections else None


_sweepers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Sweeper] = weakref.WeakKeyDictionary()


def _sweeper(loop: asyncio.AbstractEventLoop) -> _Sweeper:
    sweeper = _sweepers.get(loop)
    if sweeper is None:
        sweeper = _sweepers[loop] = _Sweeper(loop)
    return sweeper


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`Limits` on each request's head and on time.

    The limits come from the config's ``limits`` attribute (:class:`ServingConfig`), else the
    defaults. A head is fed to the parser only up to ``max_header_bytes``: a 16 MB header is
    refused after its first 32 KiB, never buffered. A refused or timed-out request is answered
    (431, 408) with ``Connection: close``; a refused one is then read and dropped for a moment
    (``linger``) so that the client, still sending, gets the answer instead of a reset.
    """

    # Slots, not the instance's __dict__: uvicorn's protocol keeps some 28 attributes there,
    # and nine more would pass CPython's limit for a dict whose keys the instances share; its
    # every attribute access would then be slower (5,600 instructions a request, counted).
    __slots__ = (
        "_head_used",
        "_lingered",
        "_max_head",
        "_max_headers",
        "_phase",
        "_refusal",
        "_since",
        "_sweeper",
        "limits",
    )

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        limits: Limits = getattr(config, "limits", None) or Limits()
        self.limits = limits
        self._max_head = limits.max_header_bytes
        self._max_headers = limits.max_headers
        self._phase = IDLE
        self._since = 0.0
        self._head_used = 0
        self._lingered = 0
        self._refusal: bytes | None = None
        self._sweeper = _sweeper(self.loop)

    # -- the connection ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the connection's idle bound."""
        super().connection_made(transport)
        self._since = self.loop.time()
        self._sweeper.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop watching the connection."""
        self._phase = GONE
        self._sweeper.discard(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        """Feed the parser, no more than ``max_header_bytes`` of a request's head."""
        # The hot path of every request: uvicorn's methods are called directly (not through
        # super()), and where the request got to is noted here rather than in a call more.
        before = self._phase
        if before == BODY:
            _feed(self, data)
        elif before == LINGER:
            self._lingered += len(data)
            if self._lingered > self.limits.linger_bytes:
                self.transport.close()
            return
        elif before == GONE:
            return
        else:
            if before != HEAD:  # the first bytes of a request
                self._phase = HEAD
                self._head_used = 0
            room = self._max_head - self._head_used
            if len(data) > room:
                self._feed_past_room(data, room, before)
                return
            self._head_used += len(data)
            _feed(self, data)
        after = self._phase
        if after == BODY:
            if not self.cycle.more_body:
                self._phase = APP
            elif before != BODY:
                self._since = self.loop.time()  # the body's bound starts
        elif after == HEAD and before != HEAD:
            self._since = self.loop.time()  # the head's bound starts

    def _feed_past_room(self, data: bytes, room: int, before: int) -> None:
        """More bytes came than the head may still take: the head must end within them."""
        if room > 0:
            self._head_used += room
            _feed(self, data[:room])
        if self._phase == HEAD:
            if not self.transport.is_closing():
                self._refuse(HEAD_TOO_LARGE)
            return
        if self._phase == BODY:
            if self.cycle.more_body:
                self._since = self.loop.time()
            else:
                self._phase = APP
        if not self.transport.is_closing() and self._phase not in (LINGER, GONE):
            self.data_received(data[room:])  # the body, or a next request

    def on_headers_complete(self) -> None:
        """Refuse too many header fields; while draining, every answer closes its connection."""
        if len(self.headers) > self._max_headers:
            self._refusal = TOO_MANY_HEADERS
            raise _TooManyHeaders()
        _headers_complete(self)
        cycle = self.cycle
        if cycle is None:  # an upgrade on a new connection: the WebSocket protocol has it
            return
        self._phase = BODY
        if drain_state.draining:
            cycle.keep_alive = False

    def send_400_response(self, msg: str) -> None:
        """Answer a request the parser stopped on: our refusal when we stopped it, else uvicorn's 400."""
        refusal, self._refusal = self._refusal, None
        if refusal is None:
            super().send_400_response(msg)
        else:
            self._refuse(refusal)

    def handle_websocket_upgrade(self) -> None:
        """Hand the connection to the WebSocket protocol, which has bounds of its own."""
        self._phase = GONE
        self._sweeper.discard(self)
        super().handle_websocket_upgrade()

    def timeout_keep_alive_handler(self) -> None:
        """Close a connection idle after its answer: its end first, so a request it crossed gets no reset."""
        if not self.transport.is_closing():
            self._close_gently()

    # -- bounds -----------------------------------------------------------------------------

    def check_bounds(self, now: float) -> None:
        """Close the connection if its phase ran past its time bound (the sweeper calls it)."""
        phase = self._phase
        limits = self.limits
        if phase == IDLE:
            bound: float | None = limits.timeout_idle
        elif phase == HEAD:
            bound = limits.timeout_head
        elif phase == BODY:
            bound = limits.timeout_body
        elif phase == LINGER:
            bound = limits.linger
        else:
            return
        if bound is None or now - self._since < bound:
            return
        transport = self.transport
        if transport.is_closing():
            return
        if phase == BODY:
            cycle = self.cycle
            if cycle.response_started and not cycle.response_complete:
                return  # the app is answering already: the body no longer matters
            if not cycle.response_started:
                # The app waits for the body: it sees a disconnect, and its answer goes nowhere.
                cycle.disconnected = True
                transport.write(REQUEST_TIMEOUT)
        elif phase == HEAD:
            transport.write(REQUEST_TIMEOUT)
        elif phase == IDLE:
            self._close_gently()  # a request crossing our close gets no reset
            return
        transport.close()

    def _refuse(self, answer: bytes) -> None:
        """Answer ``answer`` and close the connection's sending side, then read and drop a while."""
        self.transport.write(answer)
        self._close_gently()

    def _close_gently(self) -> None:
        """Send our end of the connection (FIN), then linger: read and drop until the client closes.

        Closing outright with bytes unread makes the kernel answer them with a reset, which can
        destroy the client's copy of our last answer before it reads it.
        """
        transport = self.transport
        self._phase = LINGER
        self._since = self.loop.time()
        self._lingered = 0
        if not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        self.flow.resume_reading()

    # -- draining (DrainingServer) --------------------------------------------------------------

    def quiet_down(self, now: float) -> None:
        """Close the connection gently once it has been silent for :data:`SILENCE` seconds."""
        phase = self._phase
        if phase == APP:
            cycle = self.cycle
            if (cycle is None or cycle.response_complete) and not self.pipeline:
                self._phase, self._since = QUIET, now
            return
        silent = phase in (IDLE, QUIET) and now - self._since >= SILENCE
        if silent and not self.transport.is_closing():
            self._close_gently()

    def answer_unavailable(self) -> bool:
        """Answer 503 to a request the app has not begun to answer, and close; False if it had."""
        cycle = self.cycle
        if self._phase in (LINGER, GONE) or self.transport.is_closing():
            return False
        if cycle is not None and cycle.response_started:
            return False
        if cycle is not None:
            cycle.disconnected = True  # what the app may still send goes nowhere
        if self._phase != IDLE and self._phase != QUIET:
            self.transport.write(SHUTTING_DOWN)
        self.transport.close()
        return True


_feed = HttpToolsProtocol.data_received
_headers_complete = HttpToolsProtocol.on_headers_complete

# -- the server ------------------------------------------------------------------------------

_SO_ATTACH_FILTER = 26  # Linux's, from asm-generic/socket.h (Python's socket module lacks it)
# Classic BPF, run on each packet that reaches the listening socket, from the TCP header on:
# drop a segment whose flags are SYN without ACK (a new connection), keep the rest (the last ACK
# of a handshake under way, which then completes and is accepted).
_DROP_NEW_CONNECTIONS = (
    (0x30, 0, 0, 13),  # ldb [13]: the flags byte
    (0x54, 0, 0, 0x12),  # and #(SYN|ACK)
    (0x15, 0, 1, 0x02),  # jeq #SYN: next, else skip one
    (0x06, 0, 0, 0),  # ret #0: drop
    (0x06, 0, 0, 0xFFFFFFFF),  # ret #-1: keep
)


def _refuse_new_connections(listener: Any) -> bool:
    """Drop new connection attempts to ``listener`` (Linux); False where it cannot be done.

    Closing a listening socket resets every connection in its accept queue: connections whose
    clients believe them open and may have sent their request. With SYNs dropped, the queue
    only empties; clients trying to connect retry their SYN a second later and are refused
    then, once the socket is closed.
    """
    if not sys.platform.startswith("linux") or listener.family not in (socket.AF_INET, socket.AF_INET6):
        return False
    code = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *op) for op in _DROP_NEW_CONNECTIONS))
    program = struct.pack("HL", len(_DROP_NEW_CONNECTIONS), ctypes.addressof(code))
    try:
        with socket.socket(fileno=os.dup(listener.fileno())) as dup:
            dup.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, program)
    except OSError as exc:
        logger.warning("cannot hold new connections off before closing the listening socket: %s", exc)
        return False
    return True


def _accept_queue_length(listener: Any) -> int:
    """How many connections wait in ``listener``'s accept queue (Linux's TCP_INFO of a listener)."""
    try:
        with socket.socket(fileno=os.dup(listener.fileno())) as dup:
            info = dup.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
    except OSError:
        return 0
    waiting: int = struct.unpack_from("I", info, 24)[0]  # tcpi_unacked: the queue, for a listener
    return waiting


class _CancelledAtShutdown(logging.Filter):
    """Drops uvicorn's traceback for what the stop cancels on purpose, said once in its own line.

    The request tasks still running at the end of the grace period, and an app's lifespan that
    did not finish its shutdown in time.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        message = str(record.msg)
        return not (
            isinstance(exc, asyncio.CancelledError)
            and ("Exception in ASGI" in message or "Exception in 'lifespan'" in message)
        )


class ServingConfig(Config):
    """uvicorn's ``Config``, carrying :class:`Limits` and :class:`Shutdown` to the protocol and server.

    The HTTP protocol is :class:`BoundedHttpToolsProtocol` unless ``http`` says otherwise; the
    keep-alive timeout is the limits', and uvicorn's own graceful shutdown timeout (which only
    uvicorn's workers use, with ``--workers``) the shutdown's grace.
    """

    def __init__(
        self,
        app: Any,
        *,
        limits: Limits | None = None,
        shutdown: Shutdown | None = None,
        app_logging: bool = True,
        **options: Any,
    ) -> None:
        limits = limits or Limits()
        shutdown = shutdown or Shutdown()
        options.setdefault("http", BoundedHttpToolsProtocol)
        # jambonz's messages are a few KB on a near network: compressing them saves little, and a
        # deflate context on each call's socket holds tens of KB for the whole call.
        options.setdefault("ws_per_message_deflate", False)
        # uvicorn reads a WebSocket message whole, up to 16 MiB by default, before the app sees it;
        # the app reads 256 Ki characters at most (websocket.MAX_FRAME, 1 MiB of UTF-8 at worst).
        options.setdefault("ws_max_size", WS_MAX_SIZE)
        options["timeout_keep_alive"] = limits.timeout_keep_alive
        options["timeout_graceful_shutdown"] = math.ceil(shutdown.grace)
        super().__init__(app, **options)
        self.limits = limits
        self.shutdown = shutdown
        self.app_logging = app_logging
        """Whether loading the app also sends its logs somewhere, when it did not itself."""

    def load_app(self) -> Any:
        """Import the app; then, unless the app set up logging itself, send its logs to stderr.

        uvicorn configures its own loggers only: the app's and the framework's (the access line
        per hook) would reach no handler and be lost. :func:`~jambonz_webhooks.logs.configure_logging`
        does nothing when the root logger has a handler already (the app's own setup).
        """
        app = super().load_app()
        if self.app_logging:
            configure_logging()
        return app


class DrainingServer(Server):
    """uvicorn's ``Server``, stopping in steps: drain, stop taking connections, grace, cut off.

    The first SIGTERM (or SIGINT) marks the process draining (:func:`~jambonz_webhooks.draining.is_draining`:
    ``/health`` answers 503) and starts the stop; a second one cuts the waits short. After
    SIGTERM the server serves on for ``drain`` seconds, every answer closing its connection
    (none after SIGINT: a person at a terminal). Then it stops taking connections without
    resetting one it accepted, closes its idle connections gently, and gives requests in flight
    ``grace`` seconds. A hook still running then is answered as at its deadline (its fallback
    verbs, logged), any other request with a 503; the app's shutdown runs, and the process
    exits with status 0.
    """

    def __init__(
        self, config: Config, shutdown: Shutdown | None = None, *, owns_listeners: bool | None = None
    ) -> None:
        super().__init__(config)
        self.owns_listeners = owns_listeners
        """Whether stopping may refuse new connections on the listening sockets: None, only when
        it opened them itself (with --reload the supervisor keeps them for the next worker)."""
        self.shutdown_settings = shutdown or getattr(config, "shutdown", None) or Shutdown()
        self.signalled_at: float | None = None
        """``time.monotonic()`` at the first signal."""
        self._drain = self.shutdown_settings.drain

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """Handle SIGTERM and SIGINT while serving; unlike uvicorn, do not raise them again after."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        signals = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in signals}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """Begin draining on the first signal; a second one hurries the stop."""
        if self.should_exit:
            self.force_exit = True
            return
        self.signalled_at = time.monotonic()
        if sig != signal.SIGTERM:
            self._drain = 0.0
        begin_draining()
        self.should_exit = True
        _start_watchdog(self.signalled_at + self._drain + self.shutdown_settings.grace + AFTER_GRACE)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Drain, stop taking connections, let requests finish, cut off the rest, end the app."""
        begin_draining()
        settings = self.shutdown_settings
        start = self.signalled_at if self.signalled_at is not None else time.monotonic()
        state = self.server_state
        busy = sum(1 for connection in state.connections if _busy(connection))
        logger.info(
            "Shutting down: draining for %.1f s (/health answers 503, answers close their "
            "connections); %d request(s) in flight",
            self._drain,
            busy,
        )
        for connection in list(state.connections):
            if isinstance(connection, BoundedHttpToolsProtocol) and _busy(connection):
                connection.cycle.keep_alive = False
        await self._wait_until(start + self._drain)

        owned = sockets is None if self.owns_listeners is None else self.owns_listeners
        await self._stop_accepting(owned=owned)
        for sock in sockets or ():
            sock.close()
        for connection in list(state.connections):
            if not isinstance(connection, BoundedHttpToolsProtocol):
                connection.shutdown()  # a WebSocket: uvicorn's own goodbye

        loop = asyncio.get_running_loop()
        grace_end = start + self._drain + settings.grace
        while True:
            now = loop.time()
            for connection in list(state.connections):
                if isinstance(connection, BoundedHttpToolsProtocol):
                    connection.quiet_down(now)
            if (not state.tasks and not state.connections) or self.force_exit:
                break
            if time.monotonic() >= grace_end:
                break
            await asyncio.sleep(0.05)

        if state.tasks:
            await self._cut_off()
        for connection in list(state.connections):
            if isinstance(connection, BoundedHttpToolsProtocol):
                connection.answer_unavailable()
            transport = getattr(connection, "transport", None)
            if transport is not None and not transport.is_closing():
                transport.close()

        # Even when a second signal hurries the stop: the app's shutdown is bounded, and one left
        # waiting would be cancelled at exit with a traceback.
        try:
            async with asyncio.timeout(LIFESPAN_SHUTDOWN_LIMIT):
                await self.lifespan.shutdown()
        except TimeoutError:
            logger.error("The app's shutdown took more than %.1f s: given up", LIFESPAN_SHUTDOWN_LIMIT)
            logging.getLogger("uvicorn.error").addFilter(_CancelledAtShutdown())

    async def _wait_until(self, when: float) -> None:
        while time.monotonic() < when and not self.force_exit:
            await asyncio.sleep(min(0.05, max(0.0, when - time.monotonic())))

    async def _stop_accepting(self, *, owned: bool) -> None:
        """Close the listening sockets, once nothing waits in their accept queues."""
        listeners = [sock for server in self.servers for sock in (server.sockets or ())]
        # Sockets handed over by a supervisor (--reload) stay open in it: closing ours resets nothing.
        held = [sock for sock in listeners if owned and _refuse_new_connections(sock)]
        if held:
            await asyncio.sleep(HANDSHAKE_SETTLE)
            give_up = time.monotonic() + 1.0
            while any(_accept_queue_length(sock) for sock in held) and time.monotonic() < give_up:
                await asyncio.sleep(0.005)
        for server in self.servers:
            server.close()
        logger.info("Stopped taking connections; waiting for %d request(s)", len(self.server_state.tasks))

    async def _cut_off(self) -> None:
        """The grace period is over: hooks answer their fallback, other requests a 503, then exit."""
        tasks = self.server_state.tasks
        expired = deadlines.expire_all()
        if expired:
            give_up = time.monotonic() + CUT_OFF_WAIT
            while tasks and time.monotonic() < give_up:
                await asyncio.sleep(0.01)
        left = list(tasks)
        if not left:
            return
        answered = 0
        for connection in list(self.server_state.connections):
            if isinstance(connection, BoundedHttpToolsProtocol) and connection.answer_unavailable():
                answered += 1
        logger.warning(
            "%d request(s) still running at the end of the grace period: %d answered 503, all cancelled",
            len(left),
            answered,
        )
        logging.getLogger("uvicorn.error").addFilter(_CancelledAtShutdown())
        for task in left:
            task.cancel("the server is shutting down")
        await asyncio.wait(left, timeout=CANCEL_WAIT)


def _busy(connection: Any) -> bool:
    cycle = getattr(connection, "cycle", None)
    return cycle is not None and not cycle.response_complete


def _start_watchdog(when: float) -> None:
    """End the process at ``when`` (monotonic) if it is still there: nothing may hold it past its bound."""

    def watch() -> None:
        time.sleep(max(0.0, when - time.monotonic()))
        logger.error("Still running past the shutdown bound: exiting now")
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(1)

    threading.Thread(target=watch, name="jambonz-webhooks shutdown watchdog", daemon=True).start()


def run(config: ServingConfig) -> int:
    """Serve ``config`` as uvicorn would (``--reload``, ``--workers``, or one process); the exit status.

    One process drains as :class:`DrainingServer` says; with ``--workers`` each worker does, on
    the signal the supervisor hands on. With ``--reload`` it does not drain (a restart need not
    wait).
    """
    from uvicorn.supervisors import ChangeReload

    _check_uvicorn_version()
    _raise_open_file_limit()
    if config.should_reload:
        server = DrainingServer(config, Shutdown(drain=0.0, grace=config.shutdown.grace))
        ChangeReload(config, target=server.run, sockets=[config.bind_socket()]).run()
        return 0
    if config.workers > 1:
        return _supervise(config)
    server = DrainingServer(config)
    server.run()
    _ignore_late_signals()
    if not server.started:
        return STARTUP_FAILURE
    _leave_stuck_threads()
    return 0


def _ignore_late_signals() -> None:
    """The server has stopped: a signal now (a second Ctrl+C) has nothing left to hurry.

    Without this, it would kill the exiting process by the default handler, as if it had not
    stopped cleanly.
    """
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_IGN)


def _supervise(config: ServingConfig) -> int:
    """Run ``config.workers`` worker processes on one listening socket; the exit status.

    Each worker is a :class:`DrainingServer`. The first SIGTERM (or SIGINT) is handed on to
    every worker, which drains as one process does (``/health`` 503, the queue of accepted
    connections emptied before new ones are refused, requests given their grace), and the
    supervisor waits for them within the same bound. A worker that dies while serving is
    replaced. (uvicorn's own supervisor, used before, stopped its workers without a drain.)
    """
    sockets = [config.bind_socket()]
    spawn = multiprocessing.get_context("spawn")
    signalled: list[int] = []
    stop = threading.Event()

    def on_signal(sig: int, frame: FrameType | None) -> None:
        signalled.append(sig)
        stop.set()

    def start() -> multiprocessing.process.BaseProcess:
        process = spawn.Process(target=_worker, args=(config, sockets), name="jambonz-webhooks worker")
        process.start()
        return process

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    workers = [start() for _ in range(config.workers)]
    logger.info("Started %d workers (pids %s)", len(workers), ", ".join(str(w.pid) for w in workers))
    try:
        while not stop.wait(0.5):
            for index, worker in enumerate(workers):
                if not worker.is_alive():
                    logger.warning("Worker %s exited with %s: starting another", worker.pid, worker.exitcode)
                    workers[index] = start()
        sig = signalled[0]
        for worker in workers:
            if worker.pid is not None and worker.is_alive():
                os.kill(worker.pid, sig)
        # The workers' own watchdogs end them within the bound; a little more for their exit.
        give_up = time.monotonic() + config.shutdown.bound + 1.0
        for worker in workers:
            worker.join(max(0.0, give_up - time.monotonic()))
        for worker in workers:
            if worker.is_alive():
                logger.error("Worker %s still running past the shutdown bound: killed", worker.pid)
                worker.kill()
                worker.join()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sock in sockets:
            sock.close()
    return 0


def _worker(config: ServingConfig, sockets: list[socket.socket]) -> None:
    """A worker process: serve the shared sockets until told to stop, draining then."""
    config.configure_logging()
    # The supervisor keeps the socket open but takes no connection: a worker may refuse new
    # ones when it stops, and empties the accept queue it shares with the others first.
    DrainingServer(config, owns_listeners=True).run(sockets=sockets)


def _check_uvicorn_version() -> None:
    """Warn when uvicorn is not the release this module was checked against.

    It subclasses uvicorn's protocol and server, whose internals a new release may change.
    """
    import uvicorn

    parts = uvicorn.__version__.split(".")
    try:
        version = (int(parts[0]), int(parts[1]))
    except (IndexError, ValueError):
        version = (-1, -1)
    if version != TESTED_UVICORN:
        logger.warning(
            "uvicorn %s: jambonz-webhooks run's bounds and drain were tested with %d.%d; "
            "run its test suite (tests/test_serving.py) against this release",
            uvicorn.__version__,
            *TESTED_UVICORN,
        )


def _raise_open_file_limit() -> None:
    """Raise the soft limit of open files to the hard one: every connection, idle or not, holds one.

    With a soft limit of 1,024 (common), a thousand idle connections would stop the server from
    accepting; the time bounds, not this limit, are what frees them.
    """
    try:
        import resource
    except ImportError:  # not on Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _leave_stuck_threads() -> None:
    """Exit now if threads still run (sync handlers abandoned at their deadline): Python would wait."""
    stuck = [
        thread
        for thread in threading.enumerate()
        if thread is not threading.current_thread() and not thread.daemon and thread.is_alive()
    ]
    if not stuck:
        return
    logger.warning("%d thread(s) still running a handler: exiting without them", len(stuck))
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)
