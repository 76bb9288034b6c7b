"""How the call simulator reaches an app: HTTP webhooks, or one jambonz WebSocket per call.

:class:`~jambonz_webhooks.testing.CallSimulator` plays the call (the verbs, the caller); a
transport carries its hooks to the app and brings back what the app answers, as jambonz does:

- over HTTP (jambonz-feature-server 0.9.8, ``lib/utils/http-requestor.js``), each hook is a
  request, signed, with credentials, its answer the verbs;
- over WebSocket (its ``lib/utils/ws-requestor.js``), each call opens a socket on the call hook's
  path with the subprotocol ``ws.jambonz.org`` and the app's basic auth; the call hook is
  ``session:new``, a verb's hook a ``verb:hook`` named as the verb wrote it, the status hook
  ``call:status``; the verbs come back in the ``ack`` of the message's msgid (jambonz waits 5 s),
  and the app may send ``command`` frames at any time, which the call records and acts on.

The names public through :mod:`jambonz_webhooks.testing` (:class:`SimulatorError`,
:class:`SentRequest`, :class:`Command`, the signing helpers) are defined here, the layer below it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import queue
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import quote, urlsplit, urlunsplit

import httpx2
from starlette.testclient import TestClient, WebSocketDenialResponse, WebSocketTestSession
from starlette.websockets import WebSocketDisconnect

from .security import SIGNATURE_HEADER, compute_signature

__all__ = [
    "ACK_TIMEOUT",
    "SUBPROTOCOL",
    "CallListener",
    "Channel",
    "Command",
    "HttpTransport",
    "SentRequest",
    "SimulatorError",
    "WebSocketTransport",
    "basic_auth_header",
    "jambonz_json",
    "normalize_verb",
    "sign",
]

SUBPROTOCOL = "ws.jambonz.org"
"""The subprotocol jambonz offers on the upgrade, and drops the call unless it is echoed."""

ACK_TIMEOUT = 5.0
"""Seconds jambonz waits for an ack (``JAMBONES_WS_API_MSG_RESPONSE_TIMEOUT``), then fails the hook."""

# Messages jambonz waits on for an ack (fs 0.9.8 ws-requestor.js); the rest are notifications.
_WANTS_ACK = frozenset(
    {"session:new", "session:reconnect", "session:redirect", "session:adulting", "verb:hook", "dial:confirm"}
)
# Commands whose data jambonz does not require (fs ws-requestor.js _onMessage).
_DATA_OPTIONAL = frozenset({"llm:tool-output", "tts:flush", "tts:clear"})
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


class SimulatorError(Exception):
    """The app answered what jambonz could not use, or the test scripted what cannot happen now.

    ``status_code`` and ``body`` are set when the error is an HTTP answer (a non-2xx status, a
    body that is not a JSON array of verbs, a refused WebSocket upgrade); both are None
    otherwise (a late or unusable ack, pressing a key while the call waits on a dial, acting on
    a call that is over, ...).
    """

    def __init__(self, message: str, *, status_code: int | None = None, body: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


def jambonz_json(payload: Any) -> bytes:
    """The body jambonz sends: ``JSON.stringify`` of the payload (compact, raw UTF-8)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def sign(body: bytes, secret: str | bytes, *, timestamp: int | None = None) -> str:
    """The ``Jambonz-Signature`` header value jambonz would send with ``body``.

    ``timestamp`` defaults to now (unix seconds); give another to test the tolerance window.
    """
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={compute_signature(secret, t, body)}"


def basic_auth_header(username: str, password: str) -> dict[str, str]:
    """The ``Authorization`` header jambonz sends for a hook configured with credentials."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


RequestKind = Literal["call", "action", "status", "tool", "event"]
"""What a simulated request was: a hook of one of the three kinds
(:class:`~jambonz_webhooks.injection.HookKind`), an LLM tool call, or an event."""
Verbs = list[dict[str, Any]]


@dataclass(frozen=True)
class SentRequest:
    """One request (over HTTP) or message (over WebSocket) the simulator sent, and what came back."""

    kind: RequestKind
    """``call`` (the call hook), ``action`` (a verb's hook: gather, dial, redirect, play),
    ``status``, ``tool`` (an LLM tool call) or ``event`` (a notification)."""
    method: str
    """The HTTP method; ``WS`` for a WebSocket message."""
    url: str
    """The hook's URL; over WebSocket, the socket's."""
    payload: dict[str, Any]
    """The JSON payload (a WebSocket message's ``data``)."""
    headers: dict[str, str]
    """The request's headers (none for a WebSocket message: its socket's upgrade carried them)."""
    status_code: int | None
    """The HTTP status answered; None for a WebSocket message."""
    answer: list[dict[str, Any]] | None
    """The verbs answered (call and action hooks); None for the rest, and for an ack without verbs."""
    message: str | None = None
    """The WebSocket message type (``session:new``, ``verb:hook``, ``call:status``, ...); None over HTTP."""
    hook: str | None = None
    """The hook name the WebSocket message carried (as the verb wrote it), if any."""


@dataclass(frozen=True)
class Command:
    """A command the app sent on the call's socket (or, over HTTP, a tool hook's answer)."""

    name: str
    """``redirect``, ``call:status``, ``whisper``, ``llm:tool-output``, ``tts:tokens``, ..."""
    data: Any = None
    queue: bool = False
    """``queueCommand``: verbs of a ``redirect`` are appended instead of replacing the running ones."""
    tool_call_id: str | None = None
    call_sid: str | None = None
    """``callSid``, when the command targets another leg."""


def normalize_verb(item: Any) -> dict[str, Any] | None:
    """A verb in either of jambonz's shapes as ``{"verb": name, ...}``; None if it is neither."""
    if not isinstance(item, dict):
        return None
    if isinstance(item.get("verb"), str):
        return item
    if len(item) == 1:
        ((name, body),) = item.items()
        if isinstance(body, dict):
            return {"verb": name, **body}
    return None


def verbs_of(data: Any, where: str, *, status_code: int | None = None, body: str | None = None) -> Verbs:
    """``data`` as a list of verbs; SimulatorError naming ``where`` when it is not one."""
    verbs = [normalize_verb(item) for item in data] if isinstance(data, list) else [None]
    if any(verb is None for verb in verbs):
        shown = body if body is not None else json.dumps(data, ensure_ascii=False)
        raise SimulatorError(
            f"{where} with something else than a list of verbs: {shown[:1000]}",
            status_code=status_code,
            body=body,
        )
    return [verb for verb in verbs if verb is not None]


class CallListener(Protocol):
    """What a channel tells its call: what was sent, and each command the app sent."""

    def _sent(self, request: SentRequest) -> None: ...

    def _received(self, command: Command) -> None: ...

    def _note(self, line: str) -> None: ...


class Channel(Protocol):
    """One call's way to the app."""

    transport: Literal["http", "websocket"]

    def hook(self, kind: RequestKind, message: str, hook: Any, payload: dict[str, Any]) -> Verbs | None:
        """Send a hook (``message`` is its WebSocket type); the verbs answered, None for none."""
        ...

    def status(self, payload: dict[str, Any]) -> None:
        """Tell the status hook (no answer is used)."""
        ...

    def tool_call(self, hook: Any, data: dict[str, Any]) -> Command | None:
        """Send an LLM tool call: its answer over HTTP, None over WebSocket (a command answers it)."""
        ...

    def event(self, message: str, data: Any, hook: Any) -> None:
        """Send a notification (``verb:status``, ``llm:event``, ...): no answer."""
        ...

    def poll(self, timeout: float) -> None:
        """Read what the app sent on the call's own connection within ``timeout`` seconds."""
        ...

    def close(self) -> None:
        """The call is over: close its connection."""
        ...


# --------------------------------------------------------------------------- HTTP


class HttpTransport:
    """Hooks as HTTP requests, signed and with credentials, through one HTTP client."""

    def __init__(
        self,
        client: httpx2.Client,
        *,
        origin: str,
        secret: str | bytes | None,
        basic_auth: tuple[str, str] | None,
        method: Literal["POST", "GET"],
        status_hook_url: str | None,
    ) -> None:
        self.client = client
        self.origin = origin
        """What a hook path in a verb is resolved against, as jambonz does: the call hook's origin."""
        self.secret = secret
        self.basic_auth = basic_auth
        self.method = method
        self.status_hook_url = status_hook_url
        # The last timestamp signed for each hook URL and body (a digest of it); see _timestamp.
        self._signed_at: dict[tuple[str, bytes], int] = {}

    def channel(self, listener: CallListener) -> HttpChannel:
        """The HTTP way of one call."""
        return HttpChannel(self, listener)

    def resolve(self, hook: Any) -> tuple[str, str, tuple[str, str] | None]:
        """A verb's hook as jambonz calls it: URL, method and credentials."""
        method, credentials = self.method, self.basic_auth
        if isinstance(hook, dict):
            if isinstance(hook.get("method"), str):
                method = hook["method"].upper()
            auth = hook.get("basicAuth")
            if isinstance(hook.get("username"), str) and isinstance(hook.get("password"), str):
                credentials = (hook["username"], hook["password"])
            elif isinstance(auth, dict):
                credentials = (str(auth.get("username")), str(auth.get("password")))
            hook = hook.get("url")
        if not isinstance(hook, str) or not hook:
            raise SimulatorError(f"not a hook jambonz can call: {hook!r}")
        if hook.startswith("/"):
            return self.origin + hook, method, credentials
        if urlsplit(hook).scheme not in ("http", "https"):
            raise SimulatorError(f"jambonz calls a hook by its path or its http(s) URL, not {hook!r}")
        return hook, method, credentials

    def request(
        self, listener: CallListener, kind: RequestKind, hook: Any, payload: dict[str, Any]
    ) -> tuple[httpx2.Response, str, str, dict[str, str]]:
        """Send one hook request; a non-2xx answer is recorded and raised."""
        url, method, credentials = self.resolve(hook)
        body = jambonz_json(payload)
        headers: dict[str, str] = {}
        if self.secret is not None:
            # jambonz signs the JSON payload whatever the method (a GET's cannot be verified).
            headers[SIGNATURE_HEADER] = sign(body, self.secret, timestamp=self._timestamp(url, body))
        if credentials is not None:
            headers.update(basic_auth_header(*credentials))
        if method == "GET":
            separator = "&" if "?" in url else "?"
            response = self.client.request("GET", f"{url}{separator}{_query(payload)}", headers=headers)
        else:
            headers["Content-Type"] = "application/json"
            response = self.client.request(method, url, content=body, headers=headers)
        if not 200 <= response.status_code < 300:
            listener._sent(SentRequest(kind, method, url, payload, headers, response.status_code, None))
            raise SimulatorError(
                f"the {kind} hook {method} {url} answered {response.status_code}: {response.text[:1000]}",
                status_code=response.status_code,
                body=response.text,
            )
        return response, url, method, headers

    def _timestamp(self, url: str, body: bytes) -> int:
        """The time to sign a request at: now, or one second past the last one with its hook and body.

        The same body signed for the same hook at the same second is what a retry of it is, so
        two genuine requests alike (the caller pressing the same digit twice within a second)
        get timestamps of their own, as a slower caller's would. Only such repeats move ahead
        of the clock, a second each: far within the signature tolerance.
        """
        now = int(time.time())
        signed = self._signed_at
        key = (url, hashlib.blake2b(body, digest_size=16).digest())
        last = signed.get(key)
        timestamp = now if last is None or last < now else last + 1
        signed[key] = timestamp
        if len(signed) > 1024:
            # Only those not yet behind the clock can still collide: the rest are forgotten.
            self._signed_at = {item: at for item, at in signed.items() if at >= now}
        return timestamp


class HttpChannel:
    """One call over HTTP: each hook a request. Commands do not come this way (the REST API)."""

    transport: Literal["http", "websocket"] = "http"

    def __init__(self, transport: HttpTransport, listener: CallListener) -> None:
        self._transport = transport
        self._listener = listener

    def hook(self, kind: RequestKind, message: str, hook: Any, payload: dict[str, Any]) -> Verbs | None:
        """POST (or GET) the hook; the verbs of its answer (an empty body: none, run on)."""
        response, url, method, headers = self._transport.request(self._listener, kind, hook, payload)
        status, text = response.status_code, response.text
        answer: Verbs = []
        if response.content.strip():
            try:
                data = json.loads(response.content)
            except ValueError:
                raise SimulatorError(
                    f"the {kind} hook {url} answered {status} with a body that is not JSON: {text[:1000]}",
                    status_code=status,
                    body=text,
                ) from None
            answer = verbs_of(data, f"the {kind} hook {url} answered {status}", status_code=status, body=text)
        self._listener._sent(SentRequest(kind, method, url, payload, headers, status, answer))
        return answer

    def status(self, payload: dict[str, Any]) -> None:
        """POST the status hook; its answer, whatever it is, changes nothing (jambonz ignores it).

        A non-2xx answer (a 500, or a 404 from an app with no status hook) is recorded in the
        call's requests and noted in its log, and the call goes on.
        """
        url = self._transport.status_hook_url
        if url is None:
            return
        try:
            response, url, method, headers = self._transport.request(self._listener, "status", url, payload)
        except SimulatorError as error:
            if error.status_code is None:
                raise  # not an answer: the hook could not be called at all
            self._listener._note(f"the status hook answered {error.status_code} (ignored, as jambonz does)")
            return
        self._listener._sent(SentRequest("status", method, url, payload, headers, response.status_code, None))

    def tool_call(self, hook: Any, data: dict[str, Any]) -> Command:
        """POST the tool hook with ``{tool_call_id, name, args}`` (jambonz adds no call fields)."""
        response, url, method, headers = self._transport.request(self._listener, "tool", hook, data)
        self._listener._sent(SentRequest("tool", method, url, data, headers, response.status_code, None))
        try:
            output = json.loads(response.content)
        except ValueError:
            raise SimulatorError(
                f"the tool hook {url} answered {response.status_code} with a body that is not JSON: "
                f"{response.text[:1000]}",
                status_code=response.status_code,
                body=response.text,
            ) from None
        return Command("llm:tool-output", output, tool_call_id=str(data["tool_call_id"]))

    def event(self, message: str, data: Any, hook: Any) -> None:
        """Over HTTP only a notification with a hook (``llm:event``'s eventHook) is sent: a POST."""
        if hook is None:
            raise SimulatorError(f"over HTTP jambonz sends {message} to no hook: give the hook it goes to")
        payload = data if isinstance(data, dict) else {"data": data}
        response, url, method, headers = self._transport.request(self._listener, "event", hook, payload)
        self._listener._sent(SentRequest("event", method, url, payload, headers, response.status_code, None))

    def poll(self, timeout: float) -> None:
        """Nothing comes back on an HTTP call between its hooks."""

    def close(self) -> None:
        """Nothing to close: the client is the simulator's."""


def _query(payload: Mapping[str, Any]) -> str:
    """A payload as jambonz puts it in a GET's query string: nested keys in bracket notation."""
    pairs: list[tuple[str, str]] = []

    def walk(value: Any, key: str) -> None:
        if isinstance(value, dict):
            for sub, item in value.items():
                walk(item, f"{key}[{sub}]")
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{key}[{index}]")
        elif value is not None:
            text = ("true" if value else "false") if isinstance(value, bool) else str(value)
            pairs.append((key, text))

    for key, value in payload.items():
        walk(value, key)
    return "&".join(f"{quote(key, safe='')}={quote(value, safe='')}" for key, value in pairs)


# --------------------------------------------------------------------------- WebSocket


class _Closed(Exception):
    """The app's side of the socket is closed."""

    def __init__(self, code: int) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


class _Socket(Protocol):
    subprotocol: str | None

    def send(self, text: str) -> None: ...

    def recv(self, timeout: float) -> str | None:
        """The next text frame, None if none came within ``timeout``; raises _Closed."""
        ...

    def close(self, code: int) -> None: ...


class _NetworkSocket:
    """A real socket, the ``websockets`` package's sync client."""

    def __init__(self, url: str, headers: dict[str, str], timeout: float) -> None:
        from websockets.exceptions import InvalidHandshake, InvalidStatus
        from websockets.sync.client import connect

        try:
            self._connection = connect(
                url,
                subprotocols=[SUBPROTOCOL],  # type: ignore[list-item]
                additional_headers=headers,
                user_agent_header="jambonz",
                open_timeout=timeout,
                max_size=None,
                close_timeout=1.0,
            ).__enter__()  # entered, as websockets wants it (its __exit__ is our close)
        except InvalidStatus as exc:
            response = exc.response
            body = response.body.decode(errors="replace") if response.body else ""
            raise SimulatorError(
                f"the WebSocket upgrade to {url} was refused: {response.status_code} {body[:1000]}",
                status_code=response.status_code,
                body=body,
            ) from None
        except InvalidHandshake as exc:
            raise SimulatorError(f"the WebSocket upgrade to {url} failed: {exc}") from None
        # OSError (nothing listens, a timeout) goes up as it is: the app cannot be reached, as
        # an HTTP client's connection error says over HTTP.
        self.subprotocol: str | None = self._connection.subprotocol

    def send(self, text: str) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            self._connection.send(text)
        except ConnectionClosed as exc:
            raise _Closed(exc.rcvd.code if exc.rcvd else 1006) from None

    def recv(self, timeout: float) -> str | None:
        from websockets.exceptions import ConnectionClosed

        try:
            frame = self._connection.recv(timeout=max(timeout, 0.0))
        except TimeoutError:
            return None
        except ConnectionClosed as exc:
            raise _Closed(exc.rcvd.code if exc.rcvd else 1006) from None
        return frame if isinstance(frame, str) else frame.decode(errors="replace")

    def close(self, code: int) -> None:
        self._connection.close(code)


class _InProcessSocket:
    """A socket to an ASGI app in process: Starlette's TestClient session, read by a thread.

    The session's receive blocks with no timeout; a reader thread moves each frame to a queue,
    so that waiting for an ack can give up at jambonz's limit.
    """

    def __init__(self, client: TestClient, url: str, headers: dict[str, str]) -> None:
        session = client.websocket_connect(url, subprotocols=[SUBPROTOCOL], headers=headers)
        try:
            session.__enter__()
        except WebSocketDenialResponse as refused:
            raise SimulatorError(
                f"the WebSocket upgrade to {url} was refused: {refused.status_code} {refused.text[:1000]}",
                status_code=refused.status_code,
                body=refused.text,
            ) from None
        except WebSocketDisconnect as closed:
            # A close before the accept: the server answers the upgrade 403.
            raise SimulatorError(
                f"the WebSocket upgrade to {url} was refused (closed with {closed.code})", status_code=403
            ) from None
        self._session: WebSocketTestSession = session
        self.subprotocol: str | None = session.accepted_subprotocol
        self._frames: queue.Queue[str | _Closed] = queue.Queue()
        self._closed: _Closed | None = None
        self._reader = threading.Thread(target=self._read, name="jambonz-simulator-socket", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            while True:
                message = self._session.receive()
                if message["type"] == "websocket.send":
                    text = message.get("text")
                    self._frames.put(text if text is not None else bytes(message["bytes"]).decode("replace"))
                elif message["type"] == "websocket.close":
                    self._frames.put(_Closed(int(message.get("code", 1000))))
                    return
        except Exception:  # the session ended under the reader: the socket is gone
            self._frames.put(_Closed(1006))

    def send(self, text: str) -> None:
        if self._closed is not None:
            raise self._closed
        self._session.send_text(text)

    def recv(self, timeout: float) -> str | None:
        if self._closed is not None:
            raise self._closed
        try:
            frame = self._frames.get(timeout=max(timeout, 0.0)) if timeout > 0 else self._frames.get_nowait()
        except queue.Empty:
            return None
        if isinstance(frame, _Closed):
            self._closed = frame
            raise frame
        return frame

    def close(self, code: int) -> None:
        session = self._session
        # What the app does when the socket ends is its own business, not the test's.
        with contextlib.suppress(Exception):
            session.close(code)
        with contextlib.suppress(Exception):
            session.__exit__(None, None, None)
        self._reader.join(timeout=2.0)


class WebSocketTransport:
    """jambonz's WebSocket API: one socket per call, opened on the call hook's ws(s) URL.

    Args:
        connect: opens a socket to a URL with the upgrade's headers (in process or real).
        call_hook_url: the ``ws://`` or ``wss://`` URL of the call hook.
        status_on_socket: whether ``call:status`` goes on the socket; else ``http`` carries it
            (a status hook that is an absolute http(s) URL), or nothing (None).
        basic_auth: the credentials of the upgrade.
        ack_timeout: seconds to wait for an ack (jambonz's 5).
        http: hooks that leave the socket (absolute http(s) URLs) go through it.

    """

    def __init__(
        self,
        *,
        client: TestClient | None,
        call_hook_url: str,
        status_on_socket: bool,
        basic_auth: tuple[str, str] | None,
        ack_timeout: float,
        open_timeout: float,
        http: HttpTransport,
    ) -> None:
        self._client = client
        self.call_hook_url = call_hook_url
        self.status_on_socket = status_on_socket
        self.basic_auth = basic_auth
        self.ack_timeout = ack_timeout
        self.open_timeout = open_timeout
        self.http = http

    def channel(self, listener: CallListener) -> WebSocketChannel:
        """Open the socket of a new call (SimulatorError, with the status, if the upgrade is refused)."""
        url = self.call_hook_url
        headers = basic_auth_header(*self.basic_auth) if self.basic_auth is not None else {}
        socket: _Socket
        if self._client is not None:
            socket = _InProcessSocket(self._client, url, headers)
        else:
            socket = _NetworkSocket(url, headers, self.open_timeout)
        if socket.subprotocol != SUBPROTOCOL:
            socket.close(1000)
            raise SimulatorError(
                f"the app at {url} did not echo the subprotocol {SUBPROTOCOL} (it answered "
                f"{socket.subprotocol!r}): jambonz drops the call"
            )
        return WebSocketChannel(self, listener, socket)


class WebSocketChannel:
    """One call's socket: messages out, acks and commands in."""

    transport: Literal["http", "websocket"] = "websocket"

    def __init__(self, transport: WebSocketTransport, listener: CallListener, socket: _Socket) -> None:
        self._transport = transport
        self._listener = listener
        self._socket = socket
        self._http = transport.http.channel(listener)
        self._acks: dict[str, dict[str, Any]] = {}
        self._call_sid: str | None = None
        self.closed = False
        self.closed_by_app: int | None = None
        """The code the app closed the socket with, if it did."""

    # -- out

    def _send(self, message: str, data: Any, hook: str | None = None, msgid: str | None = None) -> str:
        msgid = msgid or _msgid()
        envelope: dict[str, Any] = {"type": message, "msgid": msgid}
        if self._call_sid is not None:
            envelope["call_sid"] = self._call_sid
        if hook is not None:
            envelope["hook"] = hook
        envelope["data"] = data
        if not self.closed:
            try:
                self._socket.send(jambonz_json(envelope).decode())
            except _Closed as closed:
                self._gone(closed)
        return msgid

    def _record(
        self, kind: RequestKind, message: str, hook: str | None, data: Any, answer: Verbs | None
    ) -> None:
        payload = data if isinstance(data, dict) else {"data": data}
        url = self._transport.call_hook_url
        self._listener._sent(SentRequest(kind, "WS", url, payload, {}, None, answer, message, hook))

    def hook(self, kind: RequestKind, message: str, hook: Any, payload: dict[str, Any]) -> Verbs | None:
        """Send a message that wants an ack; the verbs of its ack (None: no data, run on)."""
        name = hook.get("url") if isinstance(hook, dict) else hook
        if isinstance(name, str) and urlsplit(name).scheme in ("http", "https"):
            return self._http.hook(kind, message, hook, payload)  # an absolute hook leaves the socket
        if message == "session:new":
            self._call_sid = str(payload.get("call_sid"))
        if not isinstance(name, str) and message != "session:new":
            raise SimulatorError(f"not a hook jambonz can name: {hook!r}")
        shown = None if message == "session:new" else name
        msgid = self._send(message, payload, shown)
        ack = self._wait_ack(msgid, message, shown)
        if ack is None:  # the call ended meanwhile: jambonz drops a late answer
            self._record(kind, message, shown, payload, None)
            return None
        where = f"the {message} ack" + (f" of the hook {shown!r}" if shown else "")
        data = ack.get("data")
        verbs = None if data is None else verbs_of(data, where)
        self._record(kind, message, shown, payload, verbs)
        if message == "session:new" and not verbs:
            self.close(1001)
            raise SimulatorError(
                f"{where} carries no verbs ({'none' if data is None else '[]'}): "
                "jambonz rejects the call (480)"
            )
        return verbs

    def _wait_ack(self, msgid: str, message: str, hook: str | None) -> dict[str, Any] | None:
        limit = self._transport.ack_timeout
        deadline = time.monotonic() + limit
        while msgid not in self._acks:
            if self.closed_by_app is not None:
                raise SimulatorError(
                    f"the app closed the socket ({self.closed_by_app}) before it acked the {message}"
                    + (f" of the hook {hook!r}" if hook else "")
                )
            if self.closed:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                named = f" of the hook {hook!r}" if hook else ""
                raise SimulatorError(
                    f"no ack for the {message}{named} within {limit:g} s: "
                    "jambonz fails it (timeout from far end)"
                )
            self._read(remaining)
        return self._acks.pop(msgid)

    def status(self, payload: dict[str, Any]) -> None:
        """``call:status`` on the socket (no ack), or the status hook over HTTP."""
        if self._transport.status_on_socket:
            self._send("call:status", payload)
            self._record("status", "call:status", None, payload, None)
        elif self._transport.http.status_hook_url is not None:
            self._http.status(payload)

    def tool_call(self, hook: Any, data: dict[str, Any]) -> Command | None:
        """``llm:tool-call`` named with the tool hook; the ``llm:tool-output`` command answers it."""
        name = hook.get("url") if isinstance(hook, dict) else hook
        if isinstance(name, str) and urlsplit(name).scheme in ("http", "https"):
            return self._http.tool_call(hook, data)
        self._send("llm:tool-call", data, str(name))
        self._record("tool", "llm:tool-call", str(name), data, None)
        return None

    def event(self, message: str, data: Any, hook: Any) -> None:
        """A notification on the socket (no ack)."""
        name = hook.get("url") if isinstance(hook, dict) else hook
        self._send(message, data, None if name is None else str(name))
        self._record("event", message, None if name is None else str(name), data, None)

    def notify(self, message: str, data: Any) -> None:
        """A message jambonz sends in answer to a command (``tts:tokens-result``): not a request."""
        self._send(message, data)

    # -- in

    def poll(self, timeout: float) -> None:
        """Read the frames the app sent: the first within ``timeout``, then those already there."""
        wait = timeout
        while not self.closed and self._read(wait):
            wait = 0.0

    def _read(self, timeout: float) -> bool:
        """Read one frame (False when none came): acks are kept, commands go to the call."""
        try:
            text = self._socket.recv(timeout)
        except _Closed as closed:
            self._gone(closed)
            return False
        if text is None:
            return False
        frame, problem = _parse(text)
        if problem is not None:
            # What jambonz answers an invalid message with; the call goes on.
            self._listener._note(f"app sends an invalid message ({problem}): {text[:200]}")
            self._send("jambonz:error", {"msg": "InvalidMessage", "details": problem, "content": text})
            return True
        if frame["type"] == "ack":
            self._acks[str(frame["msgid"])] = frame
            return True
        command = Command(
            str(frame["command"]),
            frame.get("data"),
            frame.get("queueCommand") is True,
            None if frame.get("tool_call_id") is None else str(frame["tool_call_id"]),
            None if frame.get("callSid") is None else str(frame["callSid"]),
        )
        self._listener._received(command)
        return True

    def _gone(self, closed: _Closed) -> None:
        if not self.closed:
            self.closed = True
            self.closed_by_app = closed.code
            self._listener._note(f"app closes the socket ({closed.code})")

    def close(self, code: int = 1000) -> None:
        """Close the socket, as jambonz does when the call ends (1000)."""
        if not self.closed:
            self.closed = True
            self._socket.close(code)


def _parse(text: str) -> tuple[dict[str, Any], str | None]:
    """A frame from the app, or the reason jambonz gives for refusing it (fs ws-requestor.js)."""
    try:
        frame = json.loads(text)
    except ValueError:
        return {}, "not JSON"
    if not isinstance(frame, dict) or "type" not in frame:
        return {}, "type property not supplied"
    kind = frame["type"]
    if kind == "ack":
        return (frame, None) if frame.get("msgid") else ({}, "msgid not supplied")
    if kind == "command":
        if not frame.get("command"):
            return {}, "command property not supplied"
        if "data" not in frame and frame["command"] not in _DATA_OPTIONAL:
            return {}, "data property not supplied"
        return frame, None
    return {}, f"invalid type property: {kind}"


def _msgid() -> str:
    """A msgid as jambonz makes them: a uuid in 22 base58 characters (short-uuid)."""
    number = uuid.uuid4().int
    chars = []
    while number:
        number, digit = divmod(number, 58)
        chars.append(_BASE58[digit])
    return "".join(reversed(chars)).rjust(22, _BASE58[0])


def websocket_url(url: str) -> str:
    """``url`` with its scheme as a WebSocket's: http → ws, https → wss (ws and wss kept)."""
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, *parts[1:]))


def http_url(url: str) -> str:
    """``url`` with its scheme as HTTP's: ws → http, wss → https (http and https kept)."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, *parts[1:]))
