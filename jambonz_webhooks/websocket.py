"""The WebSocket side of a hook: jambonz's WebSocket API, one socket per call, the same hooks.

A jambonz application whose call hook is ``ws://host/incoming`` opens one socket per call to that
path and sends JSON messages on it (jambonz-feature-server 0.9.8, ``lib/utils/ws-requestor.js``):
``session:new`` with the call (answered by the call hook's handler), ``verb:hook`` naming the hook
a verb was built with (answered by that hook's handler), ``call:status`` (the status hook's). This
module is that transport, as ``asgi.py`` is HTTP's: it checks the upgrade, reads the frames, and
hands each message's payload to the same pipeline stages an HTTP request goes through (decoding,
the handler under its deadline, the fallback, the encoded verbs); the verbs go back in an ``ack``.

- The upgrade must offer the subprotocol ``ws.jambonz.org`` (it is echoed) and carry the app's
  basic auth credentials: jambonz signs nothing over WebSocket, so an app without basic auth
  refuses the upgrade unless it was opened (``insecure``). A refusal is a real HTTP answer
  (401 and the like), which jambonz does not retry.
- Every message that wants an ack gets one within jambonz's 5 s: a handler has
  :data:`ACK_DEADLINE` seconds, then its fallback verbs answer; a ``session:new`` ack always
  carries verbs.
- Notifications (``verb:status``, ``jambonz:error``, ``llm:event``, ``tts:streaming-event``,
  ``tts:tokens-result``) go to the handlers declared with ``app.on(...)``, unacked.
- The socket is the call's :class:`~jambonz_webhooks.control.CallLink` while it is open: the
  commands of a :class:`~jambonz_webhooks.CallControl` go over it, from the handlers and from
  the tasks they started; a socket that drops (any close but 1000) is waited for, since jambonz
  reconnects, here or on another process.
- A malformed frame (not JSON, binary, no msgid, too large) is logged and concerns its own
  message only; nothing is answered to it (jambonz takes only ``ack`` and ``command`` frames: an
  error frame of ours would be an invalid message to it). A message whose payload is not a call
  is acked without verbs: no handler runs, and a ``session:new``'s call fails rather than being
  greeted. Unknown message types are ignored. The app never closes the socket: jambonz does
  when the call ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pydantic_core
from starlette.types import Receive, Scope, Send

from .asgi import RequestHeaders
from .control import MAX_FRAME_TO_JAMBONZ, CallControl, CallLink, current_link
from .errors import CallEndedError, HookError, error_body
from .events import FINAL_CALL_STATUSES, SOCKET_EVENT_MODELS
from .injection import HookKind
from .payload import CallInfo
from .state import StateStoreError

if TYPE_CHECKING:
    from .decoding import Decoded
    from .pipeline import HookPipeline, HookSettings, Outcome
    from .routing import HookTable

__all__ = ["ACK_DEADLINE", "CLOSE_GRACE", "MAX_FRAME", "SUBPROTOCOL", "CallSocket"]

logger = logging.getLogger("jambonz_webhooks")

SUBPROTOCOL = "ws.jambonz.org"
"""The subprotocol jambonz offers, and must see echoed (else it drops the call)."""

ACK_DEADLINE = 4.0
"""Seconds a handler has to answer a message over WebSocket before its fallback does: jambonz
waits 5 s for an ack, then fails the call."""

MAX_FRAME = 256 * 1024
"""Characters of a frame read at most: jambonz's messages are a few KB."""

MAX_ACK = MAX_FRAME_TO_JAMBONZ
"""Bytes of a frame jambonz accepts from the app (its ``maxPayload``): a larger ack drops the call."""

CLOSE_GRACE = ACK_DEADLINE + 1.0
"""Seconds the handlers still running when jambonz closes the socket have to finish."""

MAX_PENDING = 32
"""Messages of one socket being answered at once; past them, a message waits its turn."""

# Messages jambonz waits on for an ack (fs 0.9.8 ws-requestor.js); the rest are notifications.
_CALL_HOOK_MESSAGES = frozenset({"session:new", "session:reconnect", "session:adulting"})
_NAMED_HOOK_MESSAGES = frozenset({"verb:hook", "session:redirect", "dial:confirm"})


_NO_PARAMS: dict[str, Any] = {}

ANSWERED_KEY = "jambonz:ws-answered"
"""The call's state key saying its first WebSocket message was acked (a reconnect need not run
the call hook again, on whichever process it lands)."""


def _call_sid_of(envelope: Mapping[str, Any]) -> str | None:
    call_sid = envelope.get("call_sid")
    if type(call_sid) is not str:
        data = envelope.get("data")
        call_sid = data.get("call_sid") if isinstance(data, dict) else None
    return call_sid if type(call_sid) is str and 0 < len(call_sid) <= 128 else None


class CallSocket:
    """One call's socket: the upgrade, then every message of the call, until jambonz closes it.

    Args:
        call_hook: the pipeline of the call hook the socket was opened on.
        table: the app's hooks, to find the one a ``verb:hook`` names.
        settings: what the app's hooks share (security, status hooks).
        scope: the ASGI scope of the upgrade.

    """

    def __init__(
        self, call_hook: HookPipeline, table: HookTable, settings: HookSettings, scope: Scope
    ) -> None:
        self.call_hook = call_hook
        self.table = table
        self.settings = settings
        self.scope = scope
        self.prefix: str = scope.get("root_path", "")
        self._send: Send | None = None
        self._turns = asyncio.Semaphore(MAX_PENDING)
        self._tasks: set[asyncio.Task[None]] = set()
        self.link: CallLink | None = None
        """The call this socket serves, once its first message named it."""
        self._sending = asyncio.Lock()
        self._sender = self._send_text  # one bound method: the link knows its socket by it

    async def serve(self, receive: Receive, send: Send) -> None:
        """Accept (or refuse) the upgrade, then answer messages until the socket closes."""
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        refusal = self._refusal()
        if refusal is not None:
            await self._refuse(send, refusal)
            return
        await send({"type": "websocket.accept", "subprotocol": SUBPROTOCOL})
        self._send = send
        graceful = False
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    # jambonz closes with 1000 when the call is over; anything else, it reconnects.
                    graceful = message.get("code", 1000) == 1000
                    break
                if message["type"] == "websocket.receive":
                    await self._received(message)
        finally:
            self._send = None
            if self._tasks:
                # jambonz sends the final call:status and closes at once: its handler (and any
                # other still running) gets its deadline to finish; acks have nowhere to go.
                await asyncio.wait(self._tasks, timeout=CLOSE_GRACE)
            for task in list(self._tasks):
                task.cancel()
            if self.link is not None:
                self.link.detach(self._sender, graceful=graceful)

    # -- the upgrade ------------------------------------------------------------------------

    def _refusal(self) -> HookError | None:
        """Why the upgrade is refused, or None: the subprotocol, then the credentials."""
        if SUBPROTOCOL not in self.scope.get("subprotocols", ()):
            return HookError(400, f"a jambonz WebSocket must offer the subprotocol {SUBPROTOCOL}")
        try:
            self.settings.security.admit_socket(RequestHeaders(self.scope["headers"]).authorization)
        except HookError as exc:
            return exc
        return None

    async def _refuse(self, send: Send, refusal: HookError) -> None:
        if "websocket.http.response" not in self.scope.get("extensions", {}):
            await send({"type": "websocket.close", "code": 1008})  # the server answers 403 then
            return
        body = error_body(refusal.message)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", b"%d" % len(body)),
            *refusal.headers,
        ]
        await send(
            {"type": "websocket.http.response.start", "status": refusal.status_code, "headers": headers}
        )
        await send({"type": "websocket.http.response.body", "body": body})

    # -- messages ----------------------------------------------------------------------------

    async def _received(self, message: Mapping[str, Any]) -> None:
        text = message.get("text")
        if text is None:
            # jambonz sends text frames only: bytes are read as the UTF-8 text they should be.
            raw = message.get("bytes") or b""
            try:
                text = raw.decode()
            except UnicodeDecodeError:
                logger.warning("a WebSocket frame that is not UTF-8 text was ignored")
                return
        if len(text) > MAX_FRAME:
            logger.warning("a WebSocket frame of %d characters (over %d) was ignored", len(text), MAX_FRAME)
            return
        try:
            envelope = pydantic_core.from_json(text)
        except ValueError:
            logger.warning("a WebSocket frame that is not JSON was ignored")
            return
        if not isinstance(envelope, dict):
            logger.warning("a WebSocket frame that is not a JSON object was ignored")
            return
        kind = envelope.get("type")
        if type(kind) is not str:
            return  # no message of jambonz's (and a list or an object cannot even be looked up)
        if kind in _CALL_HOOK_MESSAGES or kind in _NAMED_HOOK_MESSAGES:
            if self.link is None:
                self._link_call(kind, envelope)
            await self._start(self._answer(kind, envelope))
        elif kind == "call:status":
            await self._start(self._status(envelope.get("data")))
        elif kind == "llm:tool-call":
            await self._start(self._tool_call(envelope))
        elif kind in SOCKET_EVENT_MODELS:
            await self._event(kind, envelope)
        # Any other type is one jambonz added later: ignored, as its own server would want.

    def _link_call(self, kind: str, envelope: Mapping[str, Any]) -> None:
        """The socket's first message names its call: commands for the call go over it now.

        A reconnect, a redirect or an adult leg takes over the call's link from the socket that
        had it; a second ``session:new`` for a call whose socket is open does not (jambonz sends
        one per call: another is no socket of that call).
        """
        call_sid = _call_sid_of(envelope)
        if call_sid is None:
            return
        settings = self.settings
        held = settings.calls.get(call_sid)
        if kind == "session:new" and held is not None and held.attached:
            logger.warning("a second session:new for a call whose socket is open was not linked to it")
            return
        link = settings.calls.link(call_sid, settings.context(self.prefix))
        link.attach(self._sender)
        self.link = link
        current_link.set(link)  # in serve's context: every task started from now on has it

    async def _start(self, work: Coroutine[Any, Any, None]) -> None:
        await self._turns.acquire()
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def _event(self, kind: str, envelope: Mapping[str, Any]) -> None:
        """A notification: the call's token flow reads its own; the app's handler, if any, runs."""
        data = envelope.get("data")
        link = self.link
        if link is not None and kind in ("tts:tokens-result", "tts:streaming-event"):
            link.tokens_event(kind, data)
        pipeline = self.settings.events.get(kind)
        if kind == "llm:event":
            # An llm verb's eventHook names a hook: the one served at that path, as over HTTP.
            found = self._named(envelope.get("hook"))
            if found is not None:
                await self._start(self._notify(found[0], data, found[1]))
                return
        if pipeline is not None:
            await self._start(self._notify(pipeline, data))

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._turns.release()
        if not task.cancelled() and task.exception() is not None:
            call_sid = None if self.link is None else self.link.call_sid
            logger.error(
                "answering a WebSocket message of call %s failed", call_sid, exc_info=task.exception()
            )

    async def _answer(self, kind: str, envelope: Mapping[str, Any]) -> None:
        msgid = envelope.get("msgid")
        if type(msgid) is not str or not msgid or len(msgid) > 128:
            logger.warning("a WebSocket %s message without a usable msgid was ignored", kind)
            return
        call_sid = _call_sid_of(envelope)
        if kind == "session:reconnect" and call_sid is not None and await self._answered(call_sid):
            # jambonz keeps the running verbs: a reconnect's ack says only that the app is back
            # (the call hook must not run twice). Unanswered, its verbs become the call's.
            await self._ack(msgid, None)
            return
        if kind in _CALL_HOOK_MESSAGES:
            pipeline, params = self.call_hook, _NO_PARAMS
        else:
            found = self._named(envelope.get("hook"))
            if found is None:
                # A hook no route serves: acked without verbs, so the call's verbs run on.
                await self._ack(msgid, None)
                return
            pipeline, params = found
            if pipeline.kind is HookKind.STATUS:
                # A status hook a verb names (a conference's statusHook): answered at once, as
                # over HTTP (204), its handler runs after.
                await self._ack(msgid, None)
                await self._notify(pipeline, envelope.get("data"), params)
                return
        read = _decode(pipeline, envelope.get("data"))
        if read is None:
            # Not a payload jambonz sends (over HTTP, a 422): no handler runs and no verbs go
            # back, so a session:new's call fails at once (as a refused call hook fails it),
            # never greeted, and a hook's call goes on with its verbs.
            await self._ack(msgid, None)
            return
        verbs = await self._verbs(pipeline, params, read)
        if kind in _CALL_HOOK_MESSAGES and (verbs is None or verbs == b"[]"):
            verbs = pipeline.fallback_verbs(self.prefix)  # jambonz fails a call whose first ack has no verbs
        if verbs is not None and len(verbs) > MAX_ACK - 256:
            # jambonz drops a socket sent a frame over its limit: the caller hears the fallback.
            call = None if read[1].call is None else read[1].call.call_sid
            logger.error(
                "the verbs of %s hook %s for call %s are %d bytes, over the %d jambonz accepts "
                "over WebSocket: the fallback answered",
                pipeline.kind.value,
                pipeline.path,
                call,
                len(verbs),
                MAX_ACK,
            )
            verbs = pipeline.fallback_verbs(self.prefix)
        sent = await self._ack(msgid, verbs)
        # An ack that never left (the socket dropped meanwhile) answered nothing: jambonz's
        # reconnect then needs the call hook's verbs.
        if sent and kind in _CALL_HOOK_MESSAGES and call_sid is not None:
            await self._mark_answered(call_sid)

    async def _answered(self, call_sid: str) -> bool:
        """Whether this call's first message was answered (by any process sharing the store)."""
        try:
            return await self.settings.state.get(call_sid, ANSWERED_KEY) is not None
        except StateStoreError:
            return False  # then the call hook answers again: better twice than not at all

    async def _mark_answered(self, call_sid: str) -> None:
        with contextlib.suppress(StateStoreError):
            await self.settings.state.set(call_sid, {ANSWERED_KEY: b"true"})

    def _path_of(self, hook: Any) -> str | None:
        """The path within the app of a hook a message names, or None for no hook name.

        The name is as the verbs were written with it, the mount prefix included.
        """
        if type(hook) is not str or not hook or len(hook) > 2048:
            return None
        name: str = hook
        if "://" in name:
            # An absolute ws(s):// hook (a redirect to this app by URL) is sent with its URL.
            parts = urlsplit(name)
            if parts.scheme not in ("ws", "wss", "http", "https"):
                return None
            name = parts.path or "/"
        name = name.partition("#")[0]  # a retry policy (#rc=..&rp=..) is jambonz's, not the path's
        path = name if name.startswith("/") else "/" + name
        prefix = self.prefix
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix) :]
        return path.partition("?")[0]

    async def _tool_call(self, envelope: Mapping[str, Any]) -> None:
        """An LLM asks for a tool: the tool hook the verb named runs it.

        The answer goes back as the ``llm:tool-output`` command (jambonz wants no ack).
        """
        path = self._path_of(envelope.get("hook"))
        route = None if path is None else self.table.tools.get(path)
        link = self.link
        data = envelope.get("data")
        if route is None:
            pipeline = self.settings.events.get("llm:tool-call")
            if pipeline is not None:
                await self._notify(pipeline, data)  # the app's handler answers with tool_output
            else:
                logger.warning("an llm:tool-call for a hook no tool hook serves was ignored")
            return
        if link is None:
            logger.warning("an llm:tool-call on a socket that named no call was ignored")
            return
        try:
            if not isinstance(data, dict):
                raise ValueError("its data is not an object")
            tool_call_id, output = await route.answer(data, link.call_sid)
        except ValueError as exc:
            logger.warning("an llm:tool-call for call %s was ignored: %s", link.call_sid, exc)
            return
        control = CallControl(link.call_sid, link=link)
        with contextlib.suppress(CallEndedError):
            try:
                await control.tool_output(tool_call_id, output)
            except ValueError as exc:
                # Too large for jambonz: the model hears that the tool failed, not silence.
                logger.warning("the output of tool call %s of call %s: %s", tool_call_id, link.call_sid, exc)
                name = data.get("name")
                error = route.hook.error_output(tool_call_id, name if type(name) is str else "", "too large")
                await control.tool_output(tool_call_id, error)

    def _named(self, hook: Any) -> tuple[HookPipeline, dict[str, Any]] | None:
        """The pipeline of the hook a message names, and the values of its path's parameters.

        The name is as the verbs were written with it (with the mount prefix, if any).
        """
        path = self._path_of(hook)
        found = None if path is None else self.table.find(path)
        if found is None:
            return None
        route, params = found
        return route.pipeline, params

    async def _verbs(
        self, pipeline: HookPipeline, params: dict[str, Any], read: tuple[bytes, Decoded]
    ) -> bytes | None:
        """The JSON verbs ``pipeline`` answers a decoded payload with (its fallback if it fails)."""
        started = time.perf_counter()
        body, decoded = read
        link = self.link
        call = decoded.call
        if link is not None and link.call is None and call is not None:
            # What the call's REST client needs, not the whole session (a SIP INVITE and all,
            # held for the call's life).
            link.call = CallInfo.model_construct(
                call_sid=call.call_sid, account_sid=call.account_sid, api_base_url=call.api_base_url
            )
        outcome = await pipeline.answer(decoded, body, params, self.prefix, None, deadline=ACK_DEADLINE)
        self._log(pipeline, outcome, started)
        if outcome.status != 200:
            return pipeline.fallback_verbs(self.prefix)
        return outcome.body

    async def _status(self, data: Any) -> None:
        """A call status: the app's status hook runs (no ack: jambonz wants none).

        A final status ends the call's link (its tasks), status hook or not.
        """
        route = self.table.status
        if route is not None:
            await self._notify(route.pipeline, data)
        link = self.link
        if (
            link is not None
            and isinstance(data, dict)
            and data.get("call_status") in FINAL_CALL_STATUSES
            # A dialed leg's statuses come on its parent's socket: only the call's own end it.
            and data.get("call_sid", link.call_sid) == link.call_sid
        ):
            link.end()

    async def _notify(self, pipeline: HookPipeline, data: Any, params: dict[str, Any] = _NO_PARAMS) -> None:
        """Run a handler on a notification; whatever it answers goes nowhere (no ack)."""
        read = _decode(pipeline, data)
        if read is None:
            return
        body, decoded = read
        started = time.perf_counter()
        outcome = await pipeline.answer(decoded, body, params, self.prefix, None)
        after, outcome.after = outcome.after, None
        how = outcome.how if after is None else await after()
        outcome.how = how
        self._log(pipeline, outcome, started)

    def _log(self, pipeline: HookPipeline, outcome: Outcome, started: float) -> None:
        pipeline.log_answer({"method": "WS", "path": self.prefix + pipeline.path}, outcome, started)

    async def _send_text(self, text: str) -> None:
        """Send one text frame (acks and commands, from any task, one at a time).

        Raises:
            RuntimeError: the socket is closed.

        """
        send = self._send
        if send is None:
            raise RuntimeError("the socket is closed")
        async with self._sending:
            await send({"type": "websocket.send", "text": text})

    async def _ack(self, msgid: str, verbs: bytes | None) -> bool:
        """Send the ack of ``msgid``; False if the socket is gone."""
        head = b'{"type":"ack","msgid":' + pydantic_core.to_json(msgid)
        frame = head + (b"}" if verbs is None else b',"data":' + verbs + b"}")
        try:
            await self._send_text(frame.decode())
        except (OSError, RuntimeError):
            return False  # jambonz went away: nothing to answer any more
        return True


def _decode(pipeline: HookPipeline, data: Any) -> tuple[bytes, Decoded] | None:
    """A message's payload through the hook's decoding stage, as a request body goes.

    None (logged) when the hook refuses it.
    """
    try:
        if not isinstance(data, dict):
            raise HookError(422, "the message's data is not a JSON object")
        body = pydantic_core.to_json(data)
        return body, pipeline.reader.read(body, b"", False)
    except HookError as exc:
        logger.warning("%s hook %s over WebSocket: %s", pipeline.kind.value, pipeline.path, exc.message)
        return None
