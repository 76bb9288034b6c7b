"""Live control of a call from Python: the same handle over jambonz's WebSocket API and over HTTP.

A handler (or a task it started) asks for a :class:`CallControl` by annotation, or takes
``call.client``, and sends the call commands while it lives::

    @app.action_hook("/menu")
    async def menu(result: GatherResult, control: CallControl) -> WebhookResponse:
        control.start(watch_the_queue(control))   # kept with the call, cancelled when it ends
        await control.mute()
        ...

Over WebSocket a command is a ``command`` frame on the call's own socket (jambonz-feature-server
0.9.8, ``lib/utils/ws-requestor.js`` ``_recvCommand``, ``lib/session/call-session.js``
``_onCommand``); over HTTP it is the REST API's ``POST /Accounts/{sid}/Calls/{call_sid}`` where
the API has an equivalent, and :class:`CommandUnavailable` where it has none (a redirect to verbs
rather than a hook, ``config``, tool outputs, streamed text). A socket that drops is waited for:
jambonz reconnects within seconds, and the commands go on over the new socket.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterable, Awaitable, Callable, Coroutine, Iterable, Mapping
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Literal

import pydantic_core

from .errors import CallEndedError, CommandUnavailable, within_app_code
from .hooks import HookContext, current_context, write_hook
from .response import WebhookResponse, collect_verbs, encode_verbs
from .tokens import TokenFlow

if TYPE_CHECKING:
    from .payload import CallInfo
    from .rest.access import ApiAccess
    from .rest.client import AsyncJambonzClient
    from .rest.models import UpdateCallFields

__all__ = [
    "MAX_FRAME_TO_JAMBONZ",
    "RECONNECT_WAIT",
    "CallControl",
    "CallEndedError",
    "CallLink",
    "CommandUnavailable",
    "LiveCalls",
    "current_link",
]

logger = logging.getLogger("jambonz_webhooks")

RECONNECT_WAIT = 10.0
"""Seconds a command waits for a dropped socket to come back: jambonz's reconnects back off
0.5, 1, 2, 4 s, so a socket that is not back by then is not coming."""

MAX_FRAME_TO_JAMBONZ = 24 * 1024
"""Bytes of a frame jambonz accepts from the app (its ``maxPayload``): a larger one drops the
socket (1009), so a command that large is refused before it is sent."""

Status = Literal["pause", "resume"]
RecordAction = Literal["startCallRecording", "stopCallRecording", "pauseCallRecording", "resumeCallRecording"]


class CallLink:
    """What this process holds of one live call: its socket (if any), its tasks, its token flow.

    Made when a call's socket brings its first message, or when a handler served over HTTP
    starts a task for the call; ended when the call ends.
    """

    def __init__(self, calls: LiveCalls, call_sid: str, context: HookContext) -> None:
        self.calls = calls
        self.call_sid = call_sid
        self.context = context
        self.call: CallInfo | None = None
        """The call's information, when a message brought it (for the REST client)."""
        self.tasks: set[asyncio.Task[Any]] = set()
        self.ended = False
        self._send: Callable[[str], Awaitable[None]] | None = None
        self._socket_seen = False
        self._attached = asyncio.Event()
        self._expiry: asyncio.TimerHandle | None = None
        self._tokens: TokenFlow | None = None

    @property
    def tokens(self) -> TokenFlow:
        """The text streamed to the call (made when first streamed: most calls stream none)."""
        if self._tokens is None:
            self._tokens = TokenFlow(self)
        return self._tokens

    def tokens_event(self, kind: str, data: Any) -> None:
        """A ``tts:tokens-result`` or ``tts:streaming-event`` for the call's token flow, if any."""
        flow = self._tokens
        if flow is None:
            return
        if kind == "tts:tokens-result":
            flow.result(data)
        else:
            flow.event(data)

    @property
    def attached(self) -> bool:
        """Whether a socket serves the call now."""
        return self._send is not None

    @property
    def over_socket(self) -> bool:
        """Whether the call is served over WebSocket (its commands go over the socket)."""
        return self._socket_seen

    def attach(self, send: Callable[[str], Awaitable[None]]) -> None:
        """The call's socket is (again) this one: commands go over it."""
        self._send = send
        self._socket_seen = True
        self._attached.set()
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    def detach(self, send: Callable[[str], Awaitable[None]], *, graceful: bool) -> None:
        """The socket closed: the call is over when jambonz closed it normally (1000).

        Otherwise jambonz reconnects: commands wait for the socket to come back, here or on
        another process, and the call's tasks end if it does not come back here in time.
        """
        if self._send is not send:
            return  # a newer socket took over already
        self._send = None
        self._attached.clear()
        if graceful:
            self.end()
        elif self._expiry is None:
            loop = asyncio.get_running_loop()
            self._expiry = loop.call_later(RECONNECT_WAIT * 3, self.end)

    async def send(self, frame: str) -> None:
        """Send one frame on the call's socket, waiting (a little) for one that dropped.

        Raises:
            CallEndedError: the call is over, or its socket did not come back.

        """
        if self.ended:
            raise CallEndedError(f"call {self.call_sid} is over")
        send = self._send
        if send is None:
            try:
                await asyncio.wait_for(self._attached.wait(), RECONNECT_WAIT)
            except TimeoutError:
                raise CallEndedError(f"the socket of call {self.call_sid} is gone") from None
            send = self._send
            if send is None or self.ended:
                raise CallEndedError(f"call {self.call_sid} is over")
        try:
            await send(frame)
        except (OSError, RuntimeError):
            raise CallEndedError(f"the socket of call {self.call_sid} closed") from None

    async def command(
        self, name: str, data: Any = None, *, queue: bool = False, tool_call_id: str | None = None
    ) -> None:
        """Send the call one ``command`` frame (its ``data`` as given).

        Raises:
            ValueError: the frame is over the 24 KiB jambonz accepts (it would drop the socket).
            CallEndedError: as :meth:`send`.

        """
        frame: dict[str, Any] = {"type": "command", "command": name, "queueCommand": queue}
        if tool_call_id is not None:
            frame["tool_call_id"] = tool_call_id
        if data is not None:
            frame["data"] = data
        raw = pydantic_core.to_json(frame)
        if len(raw) > MAX_FRAME_TO_JAMBONZ:
            raise ValueError(
                f"a {name} command of {len(raw)} bytes is over the {MAX_FRAME_TO_JAMBONZ} "
                "jambonz accepts (it would drop the call's socket)"
            )
        await self.send(raw.decode())

    def keep(self, task: asyncio.Task[Any]) -> None:
        """Keep ``task`` with the call: it is cancelled when the call ends."""
        if self.ended:
            task.cancel()
            return
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a background task of call %s failed", self.call_sid, exc_info=task.exception())
        if not self.tasks and not self._socket_seen:
            self.end()  # a call served over HTTP is held here only for its tasks

    def end(self) -> None:
        """The call is over: cancel its tasks, stop its token stream, forget it."""
        if self.ended:
            return
        self.ended = True
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        self._send = None
        self._attached.set()  # wakes the commands waiting for a socket, which then raise
        if self._tokens is not None:
            self._tokens.close()
        for task in list(self.tasks):
            task.cancel()
        self.calls.forget(self)


class LiveCalls:
    """The live calls this process holds a link to, by call_sid (one registry per app)."""

    def __init__(self) -> None:
        self._links: dict[str, CallLink] = {}

    def __len__(self) -> int:
        return len(self._links)

    def get(self, call_sid: str) -> CallLink | None:
        """The link of a call, if this process holds one."""
        return self._links.get(call_sid)

    def link(self, call_sid: str, context: HookContext) -> CallLink:
        """The call's link, made if this process holds none."""
        link = self._links.get(call_sid)
        if link is None or link.ended:
            link = self._links[call_sid] = CallLink(self, call_sid, context)
        return link

    def forget(self, link: CallLink) -> None:
        """Drop a link that ended."""
        if self._links.get(link.call_sid) is link:
            del self._links[link.call_sid]

    def end(self, call_sid: str) -> None:
        """The call is over (a final status arrived): end its link, if any."""
        link = self._links.get(call_sid)
        if link is not None:
            link.end()

    async def aclose(self) -> None:
        """The app is shutting down: end every call's link and wait (briefly) for its tasks."""
        tasks = [task for link in self._links.values() for task in link.tasks]
        for link in list(self._links.values()):
            link.end()
        if tasks:
            await asyncio.wait(tasks, timeout=2.0)


current_link: ContextVar[CallLink | None] = ContextVar("jambonz_call_link", default=None)
"""The link of the call whose socket message is being answered (and of the tasks it starts)."""


def _verbs_json(verbs: Any, context: HookContext) -> bytes:
    return encode_verbs(collect_verbs(verbs.verbs if isinstance(verbs, WebhookResponse) else verbs), context)


def _is_hook(target: Any) -> bool:
    """Whether a redirect's target is a hook (a path, a URL, a handler, a hook object)."""
    if isinstance(target, str) or (callable(target) and not isinstance(target, type | WebhookResponse)):
        return True
    return isinstance(target, Mapping) and "url" in target and "verb" not in target


class CallControl:
    """Live control of one call: commands over its socket, or the REST API over HTTP.

    Ask for it in a handler by annotation (``control: CallControl``) or take ``call.client``;
    keep it in a task started with :meth:`start` for as long as the call lives. Every method is
    a coroutine that returns once the command is sent (jambonz answers none of them, except
    streamed text, see :meth:`send_tokens`).

    Raises (every command):
        CommandUnavailable: the transport has no such command (over HTTP, see the module doc).
        CallEndedError: the call is over.

    """

    __slots__ = ("_access", "_call", "_client", "_link", "call_sid")

    def __init__(
        self,
        call_sid: str,
        *,
        link: CallLink | None = None,
        call: CallInfo | None = None,
        access: ApiAccess | None = None,
    ) -> None:
        self.call_sid = call_sid
        self._link = link
        self._call = call if call is not None or link is None else link.call
        self._access = access if access is not None or link is None else link.context.api
        self._client: AsyncJambonzClient | None = None

    @classmethod
    def of(cls, call: CallInfo | None = None) -> CallControl:
        """The control of ``call`` (None: the call whose message is being answered).

        Over WebSocket, the call's socket; over HTTP, the app's REST client (made when the first
        command is sent).

        Raises:
            RuntimeError: outside a hook of a :class:`~jambonz_webhooks.JambonzApp` (or a task
                one started), or with no call to control.

        """
        link = current_link.get()
        call_sid = None if call is None else call.call_sid
        if link is not None and (call_sid is None or call_sid == link.call_sid):
            return cls(link.call_sid, link=link, call=call)
        context = current_context.get()
        if context is None:
            raise RuntimeError(
                "call.client works inside a hook of a JambonzApp (or a task it started); "
                "elsewhere, build an AsyncJambonzClient"
            )
        if call is None or call_sid is None:
            raise RuntimeError("this payload names no call to control")
        return cls(str(call_sid), call=call, access=context.api)

    def __repr__(self) -> str:
        return f"CallControl(call_sid={self.call_sid!r}, transport={self.transport!r})"

    @property
    def transport(self) -> Literal["websocket", "http"]:
        """How the commands travel: over the call's socket, or through the REST API."""
        return "websocket" if self._link is not None and self._link.over_socket else "http"

    @property
    def client(self) -> AsyncJambonzClient:
        """The REST API client for this call's account (the app's own, see ``rest.access``).

        Raises:
            RuntimeError: no call information to find the account with.
            UntrustedAddressError: the app has no API address it may send the key to.
            ValueError: no API key.

        """
        if self._client is None:
            if self._access is None or self._call is None:
                raise RuntimeError(f"call {self.call_sid}: no account to reach the REST API with")
            self._client = self._access.client(self._call)
        return self._client

    # -- the two ways a command travels ----------------------------------------------------

    async def command(
        self,
        name: str,
        data: Any = None,
        *,
        queue: bool = False,
        tool_call_id: str | None = None,
    ) -> None:
        """Send a command as it is (WebSocket only): ``name`` and its ``data``, unchecked.

        For commands jambonz added after this framework's methods; prefer the methods.
        """
        await self._over_socket(name).command(name, data, queue=queue, tool_call_id=tool_call_id)

    async def _send(self, name: str, data: Any, rest: UpdateCallFields | None) -> None:
        link = self._link
        if link is not None and link.over_socket:
            await self.command(name, data)
        elif rest is None:
            raise CommandUnavailable(
                f"{name} has no equivalent in jambonz's REST API: it needs the call served over WebSocket"
            )
        else:
            await self.client.calls.update(self.call_sid, **rest)

    def _over_socket(self, name: str) -> CallLink:
        link = self._link
        if link is None or not link.over_socket:
            raise CommandUnavailable(
                f"{name} is a WebSocket command: this call is served over HTTP (use the REST API's "
                "methods, or serve the call hook over WebSocket)"
            )
        return link

    def _context(self) -> HookContext:
        if self._link is not None:
            return self._link.context
        context = current_context.get()
        if context is None:
            raise RuntimeError("verbs are written inside a hook of a JambonzApp (or a task it started)")
        return context

    def _verbs(self, verbs: Any) -> Any:
        """The verbs' JSON form, checked against the release the app targets (if it names one).

        Raises:
            ReleaseError: the target does not accept a verb or property (a ``ValueError``).

        """
        context = self._context()
        written = pydantic_core.from_json(_verbs_json(verbs, context))
        if context.target is not None:
            context.target.check(written)
        return written

    # -- commands -------------------------------------------------------------------------

    async def redirect(self, target: Any, *, queue: bool = False) -> None:
        """Replace the call's verbs: by these verbs (a WebhookResponse or a list), or by a hook's answer.

        A hook is a handler of this app, a path or a URL (``call_hook``): jambonz asks it for
        the new verbs. ``queue=True`` appends the verbs instead (WebSocket only). Over HTTP only
        a hook can be redirected to (the REST API takes no verbs).
        """
        if _is_hook(target):
            if queue:
                raise CommandUnavailable("a redirect to a hook replaces the verbs: queue is for verbs")
            await self._send("redirect", {"call_hook": self._hook(target)}, {"call_hook": target})
            return
        link = self._link
        if link is None or not link.over_socket:
            raise CommandUnavailable(
                "a redirect to verbs needs the call served over WebSocket: over HTTP, redirect to "
                "a hook (a handler of this app) that answers them"
            )
        await self.command("redirect", self._verbs(target), queue=queue)

    async def redirect_child(self, hook: Any) -> None:
        """Give the other leg of a dial (the child call) a new hook's verbs."""
        await self._send("redirect", {"child_call_hook": self._hook(hook)}, {"child_call_hook": hook})

    def _hook(self, hook: Any) -> Any:
        if isinstance(hook, Mapping):
            written = dict(hook)
            written["url"] = write_hook(hook["url"], self._context())
            return written
        return write_hook(hook, self._context())

    async def hangup(self, status: Literal["completed", "no-answer"] = "completed") -> None:
        """End the call (``no-answer``: reject or cancel a call not answered yet)."""
        await self._send("call:status", {"call_status": status}, {"call_status": status})

    async def mute(self) -> None:
        """Mute the caller (during a dial or a conference)."""
        await self._send("mute:status", {"mute_status": "mute"}, {"mute_status": "mute"})

    async def unmute(self) -> None:
        """Unmute the caller."""
        await self._send("mute:status", {"mute_status": "unmute"}, {"mute_status": "unmute"})

    async def whisper(self, verbs: Any) -> None:
        """Play a say or play verb (or a list of them) to the caller during a dial or listen."""
        written = self._verbs(verbs if isinstance(verbs, WebhookResponse | list | tuple) else [verbs])
        rest: UpdateCallFields | None = None if len(written) != 1 else {"whisper": written[0]}
        await self._send("whisper", {"whisper": written}, rest)

    async def pause_listen(self) -> None:
        """Pause a running listen (audio stream to a WebSocket)."""
        await self._listen("listen", "pause")

    async def resume_listen(self) -> None:
        """Resume a paused listen."""
        await self._listen("listen", "resume")

    async def pause_stream(self) -> None:
        """Pause a running stream."""
        await self._listen("stream", "pause")

    async def resume_stream(self) -> None:
        """Resume a paused stream."""
        await self._listen("stream", "resume")

    async def _listen(self, what: Literal["listen", "stream"], status: Status) -> None:
        # jambonz treats both alike; its REST API knows listen_status only.
        await self._send(f"{what}:status", {f"{what}_status": status}, {"listen_status": status})

    async def pause_transcription(self) -> None:
        """Pause a running transcribe."""
        await self._transcribe("pause")

    async def resume_transcription(self) -> None:
        """Resume a paused transcribe."""
        await self._transcribe("resume")

    async def _transcribe(self, status: Status) -> None:
        await self._send("transcribe:status", {"transcribe_status": status}, {"transcribe_status": status})

    async def record(
        self,
        action: RecordAction,
        *,
        type: Literal["siprec", "cloud"] | None = None,
        recording_id: str | None = None,
        siprec_server_url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Start, stop, pause or resume recording the call (SIPREC, or cloud with ``type``)."""
        data: dict[str, Any] = {"action": action}
        for key, value in (
            ("type", type),
            ("recordingID", recording_id),
            ("siprecServerURL", siprec_server_url),
            ("headers", None if headers is None else dict(headers)),
        ):
            if value is not None:
                data[key] = value
        await self._send("record", data, {"record": data})

    async def sip_request(
        self,
        method: str,
        *,
        content_type: str | None = None,
        content: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """Send a SIP request (INFO, NOTIFY, ...) within the call's dialog."""
        request: dict[str, Any] = {"method": method}
        if content_type is not None:
            request["content_type"] = content_type
        if content is not None:
            request["content"] = content
        if headers is not None:
            request["headers"] = dict(headers)
        await self._send("sip:request", {"sip_request": request}, {"sip_request": request})

    async def dtmf(self, digits: str, *, duration: int = 250) -> None:
        """Send DTMF digits to the far end, ``duration`` milliseconds each.

        One command a digit: jambonz sends each as a SIP INFO whose ``Signal`` is one digit.
        """
        if not digits or len(digits) > 64 or any(digit not in "0123456789*#ABCDabcd" for digit in digits):
            raise ValueError(f"DTMF digits are 1 to 64 of 0-9, *, # and A-D, not {digits!r}")
        for digit in digits:
            dtmf = {"digit": digit, "duration": duration}
            await self._send("dtmf", {"dtmf": dtmf}, {"dtmf": dtmf})

    async def config(self, config: Any = None, **fields: Any) -> None:
        """Change the session's settings at once, as a ``config`` verb would (WebSocket only).

        Give a :class:`~jambonz_webhooks.verbs.Config` or its fields as keywords.
        """
        data = self._verb_fields("config", config, fields)
        await self._send("config", data, None)

    async def dub(self, dub: Any = None, **fields: Any) -> None:
        """Add, change or remove a dub track at once, as a ``dub`` verb would."""
        data = self._verb_fields("dub", dub, fields)
        await self._send("dub", data, {"dub": data})

    def _verb_fields(self, verb: str, given: Any, fields: Mapping[str, Any]) -> dict[str, Any]:
        if given is None:
            given = {"verb": verb, **fields}
        elif fields:
            raise TypeError(f"give the {verb} as one value or as keywords, not both")
        (written,) = self._verbs([given])
        if written.get("verb") != verb:
            raise TypeError(f"expected a {verb} verb, not {written.get('verb')!r}")
        written.pop("verb")
        return dict(written)

    async def conference_mute(self, mute: bool = True) -> None:
        """Mute (or unmute) this call as a conference participant."""
        status: Literal["mute", "unmute"] = "mute" if mute else "unmute"
        await self._send("conf:mute-status", {"conf_mute_status": status}, {"conf_mute_status": status})

    async def conference_hold(self, hold: bool = True) -> None:
        """Put this conference participant on hold (or take it off)."""
        status: Literal["hold", "unhold"] = "hold" if hold else "unhold"
        await self._send("conf:hold-status", {"conf_hold_status": status}, {"conf_hold_status": status})

    async def conference_action(
        self,
        action: Literal["tag", "untag", "coach", "uncoach", "mute", "unmute", "hold", "unhold"],
        *,
        tag: str | None = None,
    ) -> None:
        """An action on this call as a conference participant (tag, coach, mute, hold, ...)."""
        data: dict[str, Any] = {"action": action}
        if tag is not None:
            data["tag"] = tag
        await self._send("conf:participant-action", data, {"conference_participant_action": data})

    async def tool_output(self, tool_call_id: str, output: Any) -> None:
        """Answer an LLM's tool call (WebSocket only: over HTTP the tool hook's answer is it).

        ``output`` goes to the vendor as it is: in its shape (see :mod:`jambonz_webhooks.tools`).
        """
        await self.command("llm:tool-output", output, tool_call_id=tool_call_id)

    async def update_llm(self, data: Mapping[str, Any]) -> None:
        """Send the running LLM verb a vendor-specific update (WebSocket only)."""
        await self.command("llm:update", dict(data))

    # -- streamed text ------------------------------------------------------------------------

    async def send_tokens(self, text: str) -> bool:
        """Stream text to the running TTS stream, honouring jambonz's flow control.

        Waits for jambonz's ``tts:tokens-result``; when its buffer is full, waits for
        ``stream_resumed`` and sends again. WebSocket only. Returns False when the stream was
        cleared meanwhile (a barge-in, say): the text is dropped.

        Raises:
            TokensRefused: jambonz refused the text for another reason (no TTS stream, ...).

        """
        return await self._over_socket("tts:tokens").tokens.send(text)

    async def stream_tokens(self, source: AsyncIterable[str] | Iterable[str], *, flush: bool = True) -> bool:
        """Stream each piece of ``source`` (an LLM's output, say) as it comes, then flush.

        Returns False when the stream was cleared before the end (the caller barged in, the
        stream closed, or :meth:`clear_tokens`): the rest of ``source`` is not read.
        """
        flow = self._over_socket("tts:tokens").tokens
        start = flow.generation
        if isinstance(source, AsyncIterable):
            async for piece in source:
                if not await flow.send(piece, start):
                    return False
        else:
            for piece in source:
                if not await flow.send(piece, start):
                    return False
        if flush:
            await self.flush_tokens()
        return True

    async def flush_tokens(self) -> None:
        """Have jambonz speak the text it holds now, without waiting for a sentence's end."""
        await self.command("tts:flush")

    async def clear_tokens(self) -> None:
        """Drop the text jambonz holds and stop speaking it (the caller interrupted, say).

        Text being streamed now is dropped too (:meth:`stream_tokens` returns False).
        """
        link = self._over_socket("tts:clear")
        link.tokens.clear()
        await self.command("tts:clear")

    # -- tasks ----------------------------------------------------------------------------

    def start(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``work`` as a task kept with the call, cancelled when the call ends.

        The task may send the call commands while it lives; it ends with the call's final
        status, or its socket's close. A task's failure is logged with the call_sid.
        """
        link = self._link
        if link is None:
            context = current_context.get()
            if context is None:
                work.close()
                raise RuntimeError("tasks are started inside a hook of a JambonzApp")
            calls = _live_calls(context)
            link = calls.link(self.call_sid, context)
            if self._call is not None and link.call is None:
                link.call = self._call
            self._link = link
        task = asyncio.get_running_loop().create_task(_with_link(link, work))
        link.keep(task)
        return task


async def _with_link(link: CallLink, work: Coroutine[Any, Any, Any]) -> Any:
    current_link.set(link)  # the task's own context: commands from it find the call
    return await within_app_code(work)


def _live_calls(context: HookContext) -> LiveCalls:
    calls = context.calls
    if calls is None:
        raise RuntimeError("tasks are started inside a hook of a JambonzApp")
    return calls
