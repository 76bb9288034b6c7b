"""Helpers for testing a jambonz-webhooks app: requests signed as jambonz signs them, a call simulator.

Sign a request by hand::

    body = json.dumps(payload, separators=(",", ":")).encode()
    client.post("/incoming", content=body, headers=signed_headers(body, secret="wh_secret"))

Or let :class:`CallSimulator` play jambonz for a whole call, in process or against a URL, over
HTTP webhooks or jambonz's WebSocket API (the transport a parameter, the test the same)::

    with CallSimulator(app) as sim:  # CallSimulator(app, transport="websocket"), or "ws://host:3000"
        call = sim.start(env_vars={"COMPANY_NAME": "Acme"})
        assert call.heard == ["Hello, and thank you for calling Acme.", "Press 1 for sales or 2 for support"]
        call.press("1")
        call.dial_busy()
        assert call.heard[-1] == "Sorry, we could not connect your call."
        assert call.hung_up_by == "app"
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import urlsplit

import httpx2
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from .app import JambonzApp
from .payload import CallInfo
from .routing import HookSettings
from .security import SIGNATURE_HEADER, HookSecurity
from .simulator_transport import (
    ACK_TIMEOUT,
    Channel,
    Command,
    HttpTransport,
    RequestKind,
    SentRequest,
    SimulatorError,
    WebSocketChannel,
    WebSocketTransport,
    basic_auth_header,
    http_url,
    jambonz_json,
    sign,
    verbs_of,
    websocket_url,
)

__all__ = [
    "CallSimulator",
    "Command",
    "RequestKind",
    "SentRequest",
    "SimulatedCall",
    "SimulatorError",
    "basic_auth_header",
    "jambonz_json",
    "sign",
    "signed_headers",
]

Transport = Literal["http", "websocket"]


def signed_headers(body: bytes, secret: str | bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers of a POST hook as jambonz sends it with ``body``: content type and signature."""
    return {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret, timestamp=timestamp)}


# --------------------------------------------------------------------------- the call simulator


# The keys of the call hook's payload that jambonz repeats in every later hook of the call: the
# call information every payload carries (CallInfo's JSON names), and a few more it keeps.
_CALL_INFO_KEYS = (
    *(field.alias or name for name, field in CallInfo.model_fields.items()),
    "caller_name",
    "parent_call_sid",
    "fs_sip_address",
)

_DIAL_SIP_STATUS = {"completed": 200, "busy": 486, "no-answer": 487, "failed": 503}
_SIP_IP = "192.0.2.10"  # TEST-NET-1: the carrier's SBC the simulated call comes from
_DTMF = frozenset("0123456789*#ABCDabcd")
# Verbs that hold the call in a conversation with an LLM (and its tool calls) until it ends.
_LLM_VERBS = frozenset(
    {
        "llm",
        "s2s",
        "agent",
        "openai_s2s",
        "google_s2s",
        "ultravox_s2s",
        "deepgram_s2s",
        "elevenlabs_s2s",
        "gptlive_s2s",
        "qwen_s2s",
    }
)
# Verbs jambonz holds the call in until something outside the app ends them: another caller
# (a queue, a conference), the far end of a REFER, an audio stream's server.
_HOLDING_VERBS = frozenset({"enqueue", "dequeue", "conference", "sip:refer", "listen"})
# What the answer to a hook fs plays to the waiting caller may hold; the rest is refused there
# (fs lib/tasks/enqueue.js and conference.js _playHook).
_ENQUEUE_PLAYS = frozenset({"play", "say", "pause", "leave", "tag"})
_CONFERENCE_PLAYS = frozenset({"play", "say", "pause"})


class SimulatedCall:
    """One simulated call: what the app answered, what the caller heard and did, what was sent.

    Made by :meth:`CallSimulator.start`. The verbs run in order as jambonz runs them: ``say``
    and ``play`` are heard; the call stops at a ``gather`` until the test scripts what the
    caller does (:meth:`press`, :meth:`speak`, :meth:`silence`), and at a ``dial`` until it
    scripts how the dialed call went (:meth:`dial_answered`, :meth:`dial_busy`, ...). The
    verb's action hook gets the outcome; a non-empty answer replaces the verbs left, an empty
    one lets them run on. ``hangup`` ends the call, and so does running out of verbs over HTTP
    (over WebSocket jambonz keeps the call and waits for a command, as the simulator does).

    Over WebSocket the app may send commands on the call's socket at any time: each is recorded
    in :attr:`commands` and acted on as jambonz would (a ``redirect`` replaces the verbs, a
    ``call:status`` completed hangs up, ``tts:tokens`` are answered). Those sent while the test
    does nothing with the call are read at its next step, :meth:`poll` or :meth:`wait_for_command`.
    """

    def __init__(self, simulator: CallSimulator, session: dict[str, Any]) -> None:
        self._simulator = simulator
        self.session = session
        """The call hook's payload, as sent."""
        self.sid: str = session["call_sid"]
        self.heard: list[str] = []
        """What the caller heard, in order: each ``say``'s text and each ``play``'s URL,
        gather prompts included. A ``say`` with a list of texts (jambonz picks one at random)
        is heard as its first."""
        self.verbs: list[dict[str, Any]] = []
        """Every verb the app answered (or sent in a ``redirect`` command), in order, each as
        ``{"verb": name, ...}``."""
        self.dialed: list[dict[str, Any]] = []
        """The targets of every ``dial``, in order."""
        self.requests: list[SentRequest] = []
        """Every request (or WebSocket message) sent for this call, status hooks included."""
        self.commands: list[Command] = []
        """Every command the app sent on the call's socket, in order (none over HTTP, where
        commands go through the REST API)."""
        self.tokens: list[str] = []
        """The text of every ``tts:tokens`` command accepted, in order."""
        self.tokens_paused = False
        """Whether the last ``tts:tokens`` was refused as ``full``, and no ``stream_resumed`` sent since."""
        self.log: list[str] = []
        """The call as lines of text: ``app says: ...``, ``caller presses 1``, ``app hangs up``."""
        self.last_answer: list[dict[str, Any]] = []
        """The verbs of the last call or action hook answer (empty when it answered none)."""
        self.ended = False
        self.hung_up_by: Literal["app", "caller"] | None = None
        self._info = {key: session[key] for key in _CALL_INFO_KEYS if key in session}
        self._pending: deque[dict[str, Any]] = deque()
        self._waiting: dict[str, Any] | None = None
        self._answered_at = time.monotonic()
        self._held_at = self._answered_at
        """When the verb the call waits in began (jambonz counts ``queue_time`` from it)."""
        self._channel: Channel | None = None
        self._running = False
        self._claimed: set[int] = set()
        self._refuse_tokens = 0

    # ----------------------------------------------------------------- what the test reads

    @property
    def transport(self) -> Transport:
        """``"http"`` or ``"websocket"``: how this call reaches the app."""
        return self._simulator.transport

    @property
    def waiting_for(self) -> str | None:
        """The verb the call waits on (``"gather"``, ``"dial"``, ``"llm"`` or another LLM verb), or None."""
        return None if self._waiting is None else str(self._waiting["verb"])

    @property
    def waiting_verb(self) -> dict[str, Any] | None:
        """The ``gather``, ``dial`` or LLM verb the call waits on, as the app wrote it."""
        return self._waiting

    @property
    def info(self) -> dict[str, Any]:
        """The call information every hook of this call carries from now on (a copy)."""
        return dict(self._info)

    @property
    def tokens_text(self) -> str:
        """The text streamed with ``tts:tokens`` and accepted, joined."""
        return "".join(self.tokens)

    def __repr__(self) -> str:
        state = "ended" if self.ended else f"waiting for {self.waiting_for}"
        return f"<SimulatedCall {self.sid} {state}:\n  " + "\n  ".join(self.log) + "\n>"

    # ----------------------------------------------------------------- what the caller does

    def press(self, digits: str) -> Self:
        """The caller presses keys during the ``gather``: its hook gets ``reason: dtmfDetected``.

        As jambonz does, digits stop at the gather's ``finishOnKey`` (not included) and at
        ``numDigits`` or ``maxDigits``.
        """
        if not digits or not set(digits) <= _DTMF:
            raise SimulatorError(f"not DTMF keys: {digits!r}")
        gather = self._expect("gather", f"press {digits!r}")
        if "digits" not in _gather_input(gather):
            raise SimulatorError(f"the gather does not listen for digits (input={_gather_input(gather)})")
        finish = gather.get("finishOnKey")
        if isinstance(finish, str) and finish and finish in digits:
            digits = digits[: digits.index(finish)]
        limit = gather.get("numDigits", gather.get("maxDigits"))
        if isinstance(limit, int | float) and limit > 0:
            digits = digits[: int(limit)]
        self.log.append(f"caller presses {digits}")
        return self._finish(gather, {"reason": "dtmfDetected", "digits": digits})

    def speak(
        self,
        transcript: str,
        *,
        confidence: float = 0.92,
        language: str | None = None,
        alternatives: Iterable[str] = (),
    ) -> Self:
        """The caller speaks during the ``gather``: its hook gets ``reason: speechDetected``.

        ``alternatives`` are other, less likely readings; ``language`` defaults to the gather's
        recognizer language, else ``en-US``.
        """
        gather = self._expect("gather", f"speak {transcript!r}")
        if "speech" not in _gather_input(gather):
            raise SimulatorError(f"the gather does not listen for speech (input={_gather_input(gather)})")
        recognizer = gather.get("recognizer")
        if language is None:
            language = str(recognizer.get("language", "en-US")) if isinstance(recognizer, dict) else "en-US"
        readings = [{"confidence": confidence, "transcript": transcript}]
        readings += [{"confidence": round(confidence / 2, 4), "transcript": text} for text in alternatives]
        speech = {"language_code": language, "channel_tag": 1, "is_final": True, "alternatives": readings}
        self.log.append(f"caller says: {transcript}")
        return self._finish(gather, {"reason": "speechDetected", "speech": speech})

    def silence(self) -> Self:
        """The caller does nothing until the ``gather`` times out: its hook gets ``reason: timeout``."""
        gather = self._expect("gather", "stay silent")
        self.log.append("caller is silent")
        return self._finish(gather, {"reason": "timeout"})

    say = speak
    """The caller says something: the same as :meth:`speak`."""
    timeout = silence
    """The gather times out: the same as :meth:`silence`."""

    def gather_result(self, **fields: Any) -> Self:
        """Any other outcome of the ``gather``: ``fields`` go into its hook's payload as they are.

        ``call.gather_result(reason="error", details={"msg": "stt failed"})``
        """
        gather = self._expect("gather", "end the gather")
        self.log.append(f"gather ends: {fields.get('reason')}")
        return self._finish(gather, fields)

    def dial_answered(self, **fields: Any) -> Self:
        """The dialed party answers, talks, and hangs up: ``dial_call_status: completed``."""
        return self.dial_result("completed", **fields)

    def dial_busy(self, **fields: Any) -> Self:
        """The dialed party is busy (SIP 486)."""
        return self.dial_result("busy", **fields)

    def dial_no_answer(self, **fields: Any) -> Self:
        """Nobody answers before the dial's timeout (SIP 487, the call cancelled)."""
        return self.dial_result("no-answer", **fields)

    def dial_failed(self, **fields: Any) -> Self:
        """The dial fails (SIP 503)."""
        return self.dial_result("failed", **fields)

    def dial_result(self, status: str, *, dial_sip_status: int | None = None, **fields: Any) -> Self:
        """How the ``dial`` ended: its hook gets ``dial_call_status`` and ``dial_sip_status``."""
        dial = self._expect("dial", f"end the dial as {status!r}")
        sip_status = dial_sip_status if dial_sip_status is not None else _DIAL_SIP_STATUS.get(status, 500)
        payload = {
            "dial_call_status": status,
            "dial_sip_status": sip_status,
            "dial_call_sid": str(uuid.uuid4()),
            "dial_sbc_callid": f"{uuid.uuid4().hex}@{_SIP_IP}",
            **fields,
        }
        self.log.append(f"dial ends: {status}")
        return self._finish(dial, payload)

    def verb_result(self, **fields: Any) -> Self:
        """The verb the call waits in ends: its ``actionHook`` gets the call's information and ``fields``.

        For the verbs without a step of their own: ``call.verb_result(queue_result="bridged")``
        ends an ``enqueue``, ``dequeue_result``/``refer_status`` the others, as jambonz names
        them. The fields jambonz always sends are filled in, ``fields`` overriding them: an
        ``enqueue``'s ``queue_sid`` (``queue:<account_sid>:<name>``), ``queue_time`` (the
        seconds it held the call) and ``queue_result`` (``hangup``, as jambonz starts it), a
        ``dequeue``'s ``dequeue_result`` (``timeout``), a ``sip:refer``'s ``refer_status``
        (``202``); a ``conference`` or ``listen`` sends the call's information only. A verb
        without an ``actionHook`` (a held ``pause``) lets the next verbs run.
        """
        verb = self._expect_any("end the verb")
        self.log.append(f"{verb['verb']} ends")
        return self._finish(verb, {**_held_hook(verb, "actionHook").defaults(self, verb), **fields})

    def verb_hook(self, name: str, message: str = "verb:hook", **fields: Any) -> list[dict[str, Any]]:
        """Send the waiting verb's hook ``name``, as jambonz does while the verb runs; return the answer.

        ``name`` is the verb's property as jambonz spells it (``"waitHook"``, ``"statusHook"``,
        ``"eventHook"``). The payload is what jambonz sends to that hook, ``fields`` overriding
        it: an ``enqueue``'s ``waitHook`` gets the queue's figures (``queue_sid``,
        ``queue_time``, ``queue_size`` and ``queue_position`` counted among the simulator's
        calls in that queue) with ``call_sid``, ``call_id`` and ``customerData`` only; a
        ``conference``'s ``waitHook`` and ``enterHook`` the call's information; its
        ``statusHook`` the ``event`` (required, one of the verb's ``statusEvents``) with
        ``conference_sid``, ``friendly_name``, ``duration``, ``time``, ``members`` and the
        call's information; a ``sip:refer``'s ``eventHook`` ``{event: transfer-status,
        call_status}`` only (a SIP status, 100 unless given), and a final one (200 or more) ends
        the verb (``refer_status: 202`` and ``final_referred_call_status``); any other hook the
        call's information and ``fields``.

        The answer does not replace the verbs. Those of an ``enqueue``'s ``waitHook`` and a
        ``conference``'s ``waitHook`` and ``enterHook`` are played to the caller as jambonz
        plays them (``say`` and ``play`` heard, ``tag`` kept, and an ``enqueue``'s ``leave``
        ends it with ``queue_result: leave``); verbs jambonz refuses there (anything but
        ``play``, ``say``, ``pause``, and for an ``enqueue`` ``leave`` and ``tag``) raise
        :class:`SimulatorError`. Other hooks' answers are ignored, as jambonz ignores them.
        """
        verb = self._expect_any(f"send its {name}")
        hook = verb.get(name)
        if hook is None:
            raise SimulatorError(f"the {verb['verb']} the call waits in has no {name} ({self!r})")
        held = _held_hook(verb, name)
        if held.events is not None and fields.get("event") not in (events := verb.get(held.events) or []):
            raise SimulatorError(
                f"jambonz sends the {verb['verb']}'s {name} only for its {held.events} {events}, "
                f"not event={fields.get('event')!r}"
            )
        info = (
            self._info
            if held.call_info is None
            else {k: self._info[k] for k in held.call_info if k in self._info}
        )
        payload = {**held.defaults(self, verb), **info, **fields}
        self.log.append(f"jambonz sends the {verb['verb']}'s {name}")
        answer = self._live(f"send a {name}").hook("action", message, hook, payload) or []
        if self.ended:
            return answer
        if held.plays is not None:
            refused = sorted({str(each.get("verb")) for each in answer} - held.plays)
            if refused:
                raise SimulatorError(
                    f"jambonz refuses {refused} in a {name} answer to the {verb['verb']}: "
                    f"only {sorted(held.plays)}"
                )
            self._play_held(verb, answer, payload)
        outcome = held.ends(payload) if held.ends is not None else None
        if outcome is not None and self._waiting is verb:
            self.log.append(f"{verb['verb']} ends")
            self._finish(verb, outcome)
        return answer

    def _play_held(
        self, verb: dict[str, Any], answer: list[dict[str, Any]], payload: Mapping[str, Any]
    ) -> None:
        """Play a waitHook's (or enterHook's) answer to the waiting caller, as jambonz does."""
        for each in answer:
            if each["verb"] == "leave":
                # fs enqueue.js _playHook: the verbs before leave run, then the enqueue ends.
                self.log.append("app takes the caller out of the queue")
                outcome = _held_hook(verb, "actionHook").defaults(self, verb)
                outcome.update(
                    queue_time=payload.get("queue_time", outcome.get("queue_time")), queue_result="leave"
                )
                self._finish(verb, outcome)
                return
            self._run_short(each)

    def send_hook(
        self,
        hook: str | Mapping[str, Any],
        message: str = "verb:hook",
        *,
        replace: bool = True,
        **fields: Any,
    ) -> list[dict[str, Any]]:
        """Send ``hook`` now, as jambonz sends one apart from any verb's end; return the answer.

        The payload is the call's information and ``fields``: ``call.send_hook("/amd",
        type="amd_machine_detected")`` is an AMD event. Verbs answered replace the verbs left,
        the one the call waits in too, and run (jambonz's performHook); an empty answer changes
        nothing. ``replace=False`` is for a hook of another leg of the call (the dialed party's
        leg, in a dial's ``confirmHook`` session): its answer runs there, not on this call, so
        it is only returned.
        """
        self._sync()
        answer = self._live("send a hook").hook("action", message, hook, {**self._info, **fields}) or []
        if replace and answer and not self.ended:
            self._answered(answer)
            self._pending, self._waiting = deque(answer), None
            self._run()
        return answer

    def llm_ended(self, completion_reason: str = "normal conversation end", **fields: Any) -> Self:
        """The conversation of the LLM verb the call waits on ends: its action hook gets the reason."""
        verb = self._expect_llm("end the LLM conversation")
        self.log.append(f"llm conversation ends: {completion_reason}")
        return self._finish(verb, {"completion_reason": completion_reason, **fields})

    def hangup(self) -> Self:
        """The caller hangs up: the status hook gets ``completed``, nothing else runs."""
        self._sync()
        self._check_live("hang up")
        self._waiting = None
        self._pending.clear()
        self.log.append("caller hangs up")
        self._end("caller")
        return self

    # ----------------------------------------------------------------- commands, tools, events

    def poll(self, timeout: float = 0.0) -> Self:
        """Read what the app sent on the call's socket, act on it, and run the verbs it gave.

        Waits ``timeout`` seconds for the first frame. Nothing to read over HTTP.
        """
        self._sync(timeout)
        return self

    def wait_for_command(
        self,
        name: str,
        timeout: float = ACK_TIMEOUT,
        *,
        tool_call_id: str | None = None,
        where: Callable[[Command], bool] | None = None,
    ) -> Command:
        """The first command named ``name`` not returned by an earlier wait (waiting ``timeout`` s).

        Only one with that ``tool_call_id``, and ``where`` true of it, if they are given.

        Raises:
            SimulatorError: none came in time, or the call is over HTTP (commands go through
                the REST API there, not the call).

        """
        channel = self._live_channel(f"wait for the command {name!r}")
        deadline = time.monotonic() + timeout
        while True:
            for index, command in enumerate(self.commands):
                if (
                    index not in self._claimed
                    and command.name == name
                    and (tool_call_id is None or command.tool_call_id == tool_call_id)
                    and (where is None or where(command))
                ):
                    self._claimed.add(index)
                    self._sync()
                    return command
            remaining = deadline - time.monotonic()
            if remaining <= 0 or channel.closed:
                sent = ", ".join(command.name for command in self.commands) or "none"
                raise SimulatorError(
                    f"no {name!r} command"
                    + (f" for the tool call {tool_call_id!r}" if tool_call_id else "")
                    + f" within {timeout:g} s (commands received: {sent})"
                )
            channel.poll(remaining)
            self._sync()

    def tool_call(
        self,
        name: str,
        args: Mapping[str, Any] | None = None,
        *,
        hook: Any = "/tools",
        tool_call_id: str | None = None,
        timeout: float = ACK_TIMEOUT,
    ) -> Command:
        """The LLM asks for a tool: the tool hook gets ``{tool_call_id, name, args}``; its answer.

        Over WebSocket this is an ``llm:tool-call`` message named with the tool hook, and the
        answer is the ``llm:tool-output`` command carrying its ``tool_call_id`` (waited for up
        to ``timeout`` seconds). Over HTTP it is a POST of the tool hook, and the answer its
        JSON body, returned as the same :class:`Command`.
        """
        channel = self._live("call a tool")
        call_id = tool_call_id or f"call_{uuid.uuid4().hex[:24]}"
        data = {"tool_call_id": call_id, "name": name, "args": dict(args or {})}
        self.log.append(f"llm calls the tool {name}")
        answer = channel.tool_call(hook, data)
        if answer is None:
            answer = self.wait_for_command("llm:tool-output", timeout, tool_call_id=call_id)
        return answer

    def send_event(self, message: str, data: Any, *, hook: Any = None) -> Self:
        """Send a notification as jambonz does (no answer expected).

        ``message`` is ``verb:status``, ``jambonz:error``, ``llm:event``, ``tts:streaming-event``,
        ...; ``hook`` names the verb's hook the notification goes to (``llm:event``'s eventHook).
        Over HTTP only such a one is sent (a POST of that hook).
        """
        self._live(f"send {message}").event(message, data, hook)
        self._sync()
        return self

    def refuse_tokens(self, count: int = 1) -> Self:
        """Answer the next ``count`` ``tts:tokens`` commands ``{status: failed, reason: full}``.

        That is what jambonz answers when its buffer is full; :meth:`resume_tokens` says it has
        room again.
        """
        self._refuse_tokens = count
        return self

    def resume_tokens(self) -> Self:
        """Send ``tts:streaming-event`` ``{event_type: stream_resumed}``: the app may stream again."""
        self.tokens_paused = False
        return self.send_event("tts:streaming-event", {"event_type": "stream_resumed"})

    # ----------------------------------------------------------------- running the verbs

    def _live(self, action: str) -> Channel:
        self._sync()
        self._check_live(action)
        assert self._channel is not None
        return self._channel

    def _live_channel(self, action: str) -> WebSocketChannel:
        channel = self._channel
        if not isinstance(channel, WebSocketChannel):
            raise SimulatorError(f"cannot {action}: over HTTP commands go through the REST API, not the call")
        return channel

    def _sync(self, timeout: float = 0.0) -> None:
        """Read what the app sent meanwhile; run the verbs a command gave, if the call is idle."""
        if self._channel is None or self._running:
            return
        self._channel.poll(timeout)
        if self._pending and self._waiting is None and not self.ended:
            self._run()

    def _expect(self, verb: str, action: str) -> dict[str, Any]:
        self._sync()
        self._check_live(action)
        if self._waiting is None or self._waiting["verb"] != verb:
            waiting = self.waiting_for or "nothing"
            raise SimulatorError(f"cannot {action}: the call waits for {waiting}, not a {verb} ({self!r})")
        return self._waiting

    def _expect_any(self, action: str) -> dict[str, Any]:
        self._sync()
        self._check_live(action)
        if self._waiting is None:
            raise SimulatorError(f"cannot {action}: the call waits in no verb ({self!r})")
        return self._waiting

    def _expect_llm(self, action: str) -> dict[str, Any]:
        self._sync()
        self._check_live(action)
        if self._waiting is None or self._waiting["verb"] not in _LLM_VERBS:
            raise SimulatorError(
                f"cannot {action}: the call waits for {self.waiting_for or 'nothing'}, not an LLM"
            )
        return self._waiting

    def _check_live(self, action: str) -> None:
        if self.ended:
            raise SimulatorError(f"cannot {action}: the call is over ({self!r})")

    def _finish(self, verb: dict[str, Any], outcome: Mapping[str, Any]) -> Self:
        """Send a waiting verb's outcome to its action hook and run what follows."""
        self._waiting = None
        self._action(verb.get("actionHook"), {**self._info, **outcome})
        self._run()
        return self

    def _action(self, hook: Any, payload: dict[str, Any], message: str = "verb:hook") -> None:
        """Call an action hook; its verbs, if any, replace the ones left."""
        if hook is None or self._channel is None:
            return
        answer = self._channel.hook("action", message, hook, payload)
        if self.ended:
            return
        self._answered(answer or [])
        if answer:
            self._pending = deque(answer)

    def _answered(self, answer: list[dict[str, Any]]) -> None:
        self.verbs.extend(answer)
        self.last_answer = answer

    def _run(self) -> None:
        """Run verbs until one waits for the caller or the call ends."""
        self._running = True
        try:
            self._run_verbs()
        finally:
            self._running = False
        if self.transport == "websocket" and self._pending and self._waiting is None and not self.ended:
            self._run()  # a command read at the last moment gave more verbs

    def _run_verbs(self) -> None:
        while self._pending and not self.ended:
            verb = self._pending.popleft()
            name = verb["verb"]
            if name in self._simulator.holds:
                # Held by the test's choice: what jambonz sends while it runs can be scripted.
                if name == "say":
                    self._hear_say(verb)
                elif name == "play":
                    self._hear_play(verb)
                self.log.append(_holding(verb))
                self._waiting, self._held_at = verb, time.monotonic()
                return
            if name == "say":
                self._hear_say(verb)
            elif name == "play":
                self._hear_play(verb)
                if verb.get("actionHook") is not None:
                    played = {"reason": "playCompleted", "playback_seconds": 1, "playback_milliseconds": 1000}
                    self._action(verb["actionHook"], {**self._info, **played})
            elif name == "gather":
                if isinstance(verb.get("say"), dict):
                    self._hear_say(verb["say"])
                elif isinstance(verb.get("play"), dict):
                    self._hear_play(verb["play"])
                self.log.append(f"app gathers {'/'.join(_gather_input(verb))}")
                self._waiting = verb
                return
            elif name == "dial":
                given = verb.get("target")
                targets = (
                    [target for target in given if isinstance(target, dict)]
                    if isinstance(given, list)
                    else []
                )
                self.dialed.extend(targets)
                self.log.append("app dials " + ", ".join(_describe_target(target) for target in targets))
                self._waiting = verb
                return
            elif name in _LLM_VERBS:
                self.log.append(f"app talks with an LLM ({name} {verb.get('vendor', '')})".replace(" )", ")"))
                self._waiting = verb
                return
            elif name in _HOLDING_VERBS:
                self.log.append(_holding(verb))
                self._waiting, self._held_at = verb, time.monotonic()
                return
            elif name == "hangup":
                self.log.append("app hangs up")
                self._end("app")
                return
            elif name == "redirect":
                self.log.append(f"app redirects to {_hook_url(verb.get('actionHook'))}")
                self._action(verb.get("actionHook"), dict(self._info), "session:redirect")
            elif name in ("pause", "tag"):
                self._run_short(verb)
            else:
                self.log.append(f"app runs {name} (not simulated, skipped)")
        if self.ended or self._waiting is not None:
            return
        if self.transport == "websocket":
            # jambonz keeps a WebSocket call when its verbs run out, and waits for a command.
            self.log.append("no verbs left: jambonz waits for a command")
        else:
            self.log.append("no verbs left: jambonz hangs up")
            self._end("app")

    def _run_short(self, verb: Mapping[str, Any]) -> None:
        """Run a ``say``, ``play``, ``pause`` or ``tag`` (what a waitHook's answer may hold)."""
        name = verb["verb"]
        if name == "say":
            self._hear_say(verb)
        elif name == "play":
            self._hear_play(verb)
        elif name == "pause":
            self.log.append(f"app pauses {verb.get('length')}s")
        elif name == "tag":
            # jambonz sends the tagged data with every later hook of the call.
            if isinstance(verb.get("data"), dict):
                self._info["customerData"] = verb["data"]
            self.log.append("app tags the call")

    def _hear_say(self, say: Mapping[str, Any]) -> None:
        text = say.get("text")
        if isinstance(text, list):
            text = text[0] if text else None
        if isinstance(text, str):
            self.heard.append(text)
            self.log.append(f"app says: {text}")

    def _hear_play(self, play: Mapping[str, Any]) -> None:
        urls = play.get("url")
        for url in urls if isinstance(urls, list) else [urls]:
            if isinstance(url, str):
                self.heard.append(url)
                self.log.append(f"app plays: {url}")

    def _end(self, by: Literal["app", "caller"]) -> None:
        if self.ended:
            return
        self.ended = True
        self.hung_up_by = by
        self._waiting = None
        self._pending.clear()
        self._info.update(call_status="completed", sip_status=200, sip_reason="OK")
        final = {
            "call_termination_by": "caller" if by == "caller" else "jambonz",
            "duration": int(time.monotonic() - self._answered_at),
        }
        self._simulator._status(self, final)
        if self._channel is not None:
            self._channel.close()  # jambonz closes the call's socket once it is over

    # ----------------------------------------------------------------- what the channel tells

    def _sent(self, request: SentRequest) -> None:
        self.requests.append(request)

    def _note(self, line: str) -> None:
        self.log.append(line)

    def _received(self, command: Command) -> None:
        """A command the app sent: recorded, and acted on where it changes the call."""
        self.commands.append(command)
        name, data = command.name, command.data
        self.log.append(f"app sends the command {name}" + (" (queued)" if command.queue else ""))
        if self.ended:
            return
        if name == "redirect" and isinstance(data, list):
            verbs = verbs_of(data, "the app's redirect command came")
            self.verbs.extend(verbs)
            if command.queue:
                self._pending.extend(verbs)
            else:
                # jambonz kills the running verb (a gather or dial waited on) and runs these.
                self._pending, self._waiting = deque(verbs), None
        elif name == "redirect" and isinstance(data, dict) and data.get("call_hook") is not None:
            assert self._channel is not None
            answer = self._channel.hook("action", "session:redirect", data["call_hook"], dict(self._info))
            if answer is not None and not self.ended:
                self._answered(answer)
                self._pending, self._waiting = deque(answer), None
        elif name == "call:status" and isinstance(data, dict) and data.get("call_status") == "completed":
            self.log.append("app hangs up")
            self._end("app")
        elif name == "tts:tokens":
            self._tokens(data)

    def _tokens(self, data: Any) -> None:
        """Answer a ``tts:tokens`` command with ``tts:tokens-result``, as jambonz does."""
        fields = data if isinstance(data, dict) else {}
        if self._refuse_tokens > 0:
            self._refuse_tokens -= 1
            self.tokens_paused = True
            result: dict[str, Any] = {"id": fields.get("id"), "status": "failed", "reason": "full"}
        else:
            tokens = fields.get("tokens")
            if isinstance(tokens, str):
                self.tokens.append(tokens)
            result = {"id": fields.get("id"), "status": "ok"}
        channel = self._channel
        if isinstance(channel, WebSocketChannel):
            channel.notify("tts:tokens-result", result)


def _gather_input(gather: Mapping[str, Any]) -> list[str]:
    value = gather.get("input")
    return [str(item) for item in value] if isinstance(value, list) else ["digits"]  # jambonz's default


def _describe_target(target: Mapping[str, Any]) -> str:
    for key in ("number", "name", "sipUri", "uri"):
        if isinstance(target.get(key), str):
            return str(target[key])
    return str(target.get("type", "?"))


def _hook_url(hook: Any) -> Any:
    return hook.get("url") if isinstance(hook, dict) else hook


_HOLDING_LINES = {
    "enqueue": "app puts the caller in queue {name}",
    "dequeue": "app takes a caller from queue {name}",
    "conference": "app joins conference {name}",
    "sip:refer": "app refers the call to {referTo}",
    "listen": "app streams the call's audio to {url}",
    "pause": "app pauses {length}s (held)",
    "say": "the say plays on (held)",
    "play": "the play plays on (held)",
}


def _holding(verb: Mapping[str, Any]) -> str:
    """The log line of a verb the call waits in."""
    line = _HOLDING_LINES.get(verb["verb"], "app runs {verb} (held)")
    return line.format_map(
        {"name": None, "referTo": None, "length": None, **verb, "url": _hook_url(verb.get("url"))}
    )


def _nothing(call: SimulatedCall, verb: Mapping[str, Any]) -> dict[str, Any]:
    return {}


@dataclasses.dataclass(frozen=True)
class _HeldHook:
    """What jambonz sends to one hook of a verb it holds the call in, and what it does with the answer."""

    defaults: Callable[[SimulatedCall, Mapping[str, Any]], dict[str, Any]] = _nothing
    """The fields jambonz always sends (the test's override them), from the call and the verb."""
    call_info: tuple[str, ...] | None = None
    """The keys of the call's information the payload carries; None: all of it."""
    plays: frozenset[str] | None = None
    """The verbs the answer may hold, played to the caller; None: the answer is ignored."""
    events: str | None = None
    """The verb's property listing the ``event`` values jambonz sends this hook for."""
    ends: Callable[[Mapping[str, Any]], dict[str, Any] | None] | None = None
    """The action hook's outcome when this payload ends the verb (None: it does not)."""


def _held_calls(call: SimulatedCall, verb: Mapping[str, Any]) -> list[SimulatedCall]:
    """The simulator's calls waiting in a verb like ``verb`` (same kind, same name), longest first."""
    alike = [
        other
        for other in call._simulator.calls
        if not other.ended
        and other._waiting is not None
        and other._waiting["verb"] == verb["verb"]
        and other._waiting.get("name") == verb.get("name")
    ]
    return sorted(alike, key=lambda other: other._held_at)


def _queue_fields(call: SimulatedCall, verb: Mapping[str, Any]) -> dict[str, Any]:
    """The queue's key in redis and the whole seconds the call has waited (fs enqueue.js)."""
    return {
        "queue_sid": f"queue:{call.info.get('account_sid')}:{verb.get('name')}",
        "queue_time": int(time.monotonic() - call._held_at),
    }


def _queue_wait(call: SimulatedCall, verb: Mapping[str, Any]) -> dict[str, Any]:
    """The queue's figures, the caller's place counted from 0 (fs enqueue.js _playHook)."""
    queue = _held_calls(call, verb)
    place = queue.index(call) if call in queue else 0
    return {**_queue_fields(call, verb), "queue_size": len(queue), "queue_position": place}


def _conference_status(call: SimulatedCall, verb: Mapping[str, Any]) -> dict[str, Any]:
    """The conference's key and figures (fs conference.js _notifyConferenceEvent), all but ``event``."""
    now = time.time()
    return {
        "duration": round(time.monotonic() - call._held_at, 3),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z",
        "members": max(len(_held_calls(call, verb)), 1),
        "conference_sid": f"conf:{call.info.get('account_sid')}:{verb.get('name')}",
        "friendly_name": verb.get("name"),
    }


def _refer_final(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """A final status in a NOTIFY ends the REFER (fs sip_refer.js _handleNotify)."""
    status = payload.get("call_status")
    if isinstance(status, int) and status >= 200:
        return {"refer_status": 202, "final_referred_call_status": status}
    return None


# The hooks of the verbs jambonz holds a call in, as fs 0.9.8 sends them (lib/tasks/*.js); a hook
# not listed gets the call's information and the test's fields, and its answer is ignored.
_HELD_HOOKS: dict[tuple[str, str], _HeldHook] = {
    ("enqueue", "waitHook"): _HeldHook(_queue_wait, ("call_sid", "call_id", "customerData"), _ENQUEUE_PLAYS),
    ("enqueue", "actionHook"): _HeldHook(
        lambda call, verb: {**_queue_fields(call, verb), "queue_result": "hangup"}
    ),
    ("dequeue", "actionHook"): _HeldHook(lambda call, verb: {"dequeue_result": "timeout"}),
    ("conference", "waitHook"): _HeldHook(plays=_CONFERENCE_PLAYS),
    ("conference", "enterHook"): _HeldHook(plays=_CONFERENCE_PLAYS),
    ("conference", "statusHook"): _HeldHook(_conference_status, events="statusEvents"),
    ("sip:refer", "eventHook"): _HeldHook(
        lambda call, verb: {"event": "transfer-status", "call_status": 100}, (), ends=_refer_final
    ),
    ("sip:refer", "actionHook"): _HeldHook(lambda call, verb: {"refer_status": 202}),
}


def _held_hook(verb: Mapping[str, Any], name: str) -> _HeldHook:
    return _HELD_HOOKS.get((str(verb["verb"]), name), _HeldHook())


class CallSimulator:
    """Plays jambonz for an app: sends a call's hooks the way jambonz sends them, and runs its verbs.

    The target is an ASGI app, called in process through Starlette's ``TestClient``, or the URL
    the app is served at (``"http://127.0.0.1:3000"``, ``"ws://127.0.0.1:3000"``, or with the
    path it is mounted under), called over a real socket.

    Over HTTP (``transport="http"``) each request is what jambonz sends: a compact JSON body
    (or, with ``method="GET"``, the payload in the query string), signed with ``secret``, with
    ``basic_auth`` credentials; a hook in a verb is resolved as jambonz resolves it, a path
    against the origin of the call hook, and a hook object's own method and credentials are
    used.

    Over WebSocket (``transport="websocket"``, or a ``ws://``/``wss://`` URL) each call opens
    one socket on the call hook's path, with the subprotocol ``ws.jambonz.org`` and the
    ``basic_auth`` credentials (a refused upgrade raises :class:`SimulatorError` with its
    status). The call hook is a ``session:new`` message with the payload the HTTP call hook
    gets, each verb's hook a ``verb:hook`` (``session:redirect`` for ``redirect``) whose
    ``hook`` is the name written in the verb, the status hook ``call:status`` (no ack). Each
    answer is the ``ack`` of the message's msgid, waited for ``ack_timeout`` seconds (jambonz's
    5); an ack's verbs replace the verbs left, none (or ``[]``) lets them run on, and a
    ``session:new`` ack without verbs fails the call. Commands the app sends on the socket are
    recorded on the call and acted on (see :class:`SimulatedCall`). Nothing is signed: jambonz signs
    nothing over WebSocket. A hook written as an absolute http(s) URL leaves the socket, as in
    jambonz, and so does a status hook given as one.

    Args:
        target: the ASGI app, or the URL the app is served at.
        call_hook: the application's call hook: a path under ``target``, or a URL.
        status_hook: its call status hook, likewise; None sends no status hooks.
        transport: ``"http"`` or ``"websocket"``. None: from the URL's scheme (HTTP for an app).
        secret: the webhook secret to sign with. None: the app's own first secret when
            ``target`` is a :class:`~jambonz_webhooks.JambonzApp`, else no signature.
            False: never sign. An app with neither a secret nor basic auth, which would refuse
            to start, is lent a secret and credentials of the simulator's while it is open (in
            process there is no network to protect): its hooks run signed, as in production.
        basic_auth: ``(username, password)`` to send. None: the app's own when ``target`` is
            a :class:`~jambonz_webhooks.JambonzApp`. False: never send credentials.
        method: how hooks are called over HTTP (a hook object's own ``method`` wins).
        timeout: seconds to wait for an answer over HTTP, or for a socket to open.
        ack_timeout: seconds to wait for a WebSocket ack (jambonz's ``5``).
        holds: more verbs the call waits in until the test ends them (:meth:`SimulatedCall.verb_result`):
            ``("pause",)`` holds a ``pause`` (a ``say`` or ``play`` is heard, then held), to send
            what jambonz sends while it runs (:meth:`SimulatedCall.send_hook`, an AMD event).
        payload: keys to set in every call hook payload (a key set to None is left out).

    Status hooks: ``in-progress`` once the call hook answered, then ``completed`` when the call
    ends (with ``call_termination_by`` and ``duration``). Their answers are recorded and
    ignored, as jambonz ignores them: a 500, or the 404 of an app with no status hook, does
    not stop the call. The call waits in ``gather`` and ``dial`` for the test's step
    (:meth:`SimulatedCall.press`, :meth:`SimulatedCall.dial_answered`, ...), in the LLM verbs (``llm``,
    ``openai_s2s``, ...) for :meth:`SimulatedCall.tool_call` and :meth:`SimulatedCall.llm_ended`,
    and in the verbs jambonz holds a call in (``enqueue``, ``dequeue``, ``conference``,
    ``sip:refer``, ``listen``) for :meth:`SimulatedCall.verb_hook` (their ``waitHook``,
    ``statusHook``, ...) and :meth:`SimulatedCall.verb_result`. ``say``, ``play``, ``pause``,
    ``redirect``, ``tag`` and ``hangup`` run; other verbs are recorded in
    :attr:`SimulatedCall.verbs` and skipped.

    In process, a request the app fails on is a 500 (:class:`SimulatorError`), as over HTTP.
    Use it as a context manager (or call :meth:`close`); in process this also runs the app's
    lifespan and keeps one event loop for the whole simulation.

    """

    def __init__(
        self,
        target: ASGIApp | str,
        *,
        call_hook: str = "/incoming",
        status_hook: str | None = "/status",
        transport: Transport | None = None,
        secret: str | bytes | Literal[False] | None = None,
        basic_auth: tuple[str, str] | Literal[False] | None = None,
        method: Literal["POST", "GET"] = "POST",
        timeout: float = 10.0,
        ack_timeout: float = ACK_TIMEOUT,
        holds: Iterable[str] = (),
        **payload: Any,
    ) -> None:
        if isinstance(target, str):
            base = target.rstrip("/")
            scheme = urlsplit(base).scheme
            if scheme not in ("http", "https", "ws", "wss"):
                raise ValueError(f"the target URL must be http(s) or ws(s): {target!r}")
            if transport is None:
                transport = "websocket" if scheme in ("ws", "wss") else "http"
            elif transport == "http" and scheme in ("ws", "wss"):
                raise ValueError(f"a ws(s) URL is served over WebSocket, not HTTP: {target!r}")
            self.client: httpx2.Client = httpx2.Client(
                timeout=timeout, trust_env=False, follow_redirects=False
            )
        else:
            base = "http://testserver"
            # No exception raised through the test: a failing app answers 500, as it does over HTTP.
            self.client = TestClient(
                target, base_url=base, raise_server_exceptions=False, follow_redirects=False
            )
        if transport not in (None, "http", "websocket"):
            raise ValueError(f"the transport is 'http' or 'websocket', not {transport!r}")
        self.transport: Transport = transport or "http"
        """``"http"`` or ``"websocket"``: how calls reach the app."""
        self._lent: tuple[HookSettings, HookSecurity] | None = None
        if isinstance(target, JambonzApp) and target.hook_settings.security.closed:
            self._lend_credentials(target.hook_settings)
        security = target.hook_settings.security if isinstance(target, JambonzApp) else None
        if secret is None and security is not None and security.secrets:
            secret = security.secrets[0]
        if basic_auth is None and security is not None and security.basic_auth is not None:
            basic_auth = (security.basic_auth.username, security.basic_auth.password)
        self.secret: str | bytes | None = secret or None
        self.basic_auth: tuple[str, str] | None = basic_auth or None
        self.method = method
        self.call_hook_url = self._absolute(base, call_hook)
        self.status_hook_url = None if status_hook is None else self._absolute(base, status_hook)
        if self.transport == "websocket":
            self.call_hook_url = websocket_url(self.call_hook_url)
        parts = urlsplit(http_url(self.call_hook_url))
        self.origin = f"{parts.scheme}://{parts.netloc}"
        """What a hook path in a verb is resolved against over HTTP: the call hook's origin."""
        self._http = HttpTransport(
            self.client,
            origin=self.origin,
            secret=self.secret,
            basic_auth=self.basic_auth,
            method=method,
            status_hook_url=self.status_hook_url,
        )
        self._websocket: WebSocketTransport | None = None
        if self.transport == "websocket":
            status_scheme = None if status_hook is None else urlsplit(status_hook).scheme
            self._websocket = WebSocketTransport(
                client=self.client if isinstance(self.client, TestClient) else None,
                call_hook_url=self.call_hook_url,
                # call:status goes on the socket unless the status hook is an http(s) URL.
                status_on_socket=status_hook is not None and status_scheme not in ("http", "https"),
                basic_auth=self.basic_auth,
                ack_timeout=ack_timeout,
                open_timeout=timeout,
                http=self._http,
            )
        self.ack_timeout = ack_timeout
        self.holds = frozenset(holds)
        """Verbs the call waits in beyond those it always waits in."""
        self.payload = payload
        self.account_sid = str(uuid.uuid4())
        self.application_sid = str(uuid.uuid4())
        self.calls: list[SimulatedCall] = []
        """Every call started, in order."""
        self._entered = False

    # ----------------------------------------------------------------- lifecycle

    def __enter__(self) -> Self:
        if isinstance(self.client, TestClient):
            self.client.__enter__()  # lifespan startup, and one event loop from now on
            self._entered = True
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the calls' sockets and the HTTP client (in process: run the app's lifespan shutdown).

        An app the simulator lent credentials to gets its own settings back.
        """
        for call in self.calls:
            if call._channel is not None:
                call._channel.close()
        if isinstance(self.client, TestClient) and self._entered:
            self._entered = False
            self.client.__exit__(None, None, None)
        else:
            self.client.close()
        if self._lent is not None:
            settings, security = self._lent
            settings.security, self._lent = security, None

    def _lend_credentials(self, settings: HookSettings) -> None:
        """Give a closed app (neither secret nor basic auth) a secret and credentials of the simulator's.

        Such an app refuses to start and answers 503 (it fails closed); in process there is no
        network to protect, so while the simulator is open the app checks the simulator's
        signature and credentials, as it would jambonz's in production.
        """
        security = settings.security
        self._lent, settings.security = (settings, security), security.with_stand_in("simulator")

    # ----------------------------------------------------------------- calls

    def start(
        self,
        *,
        from_: str = "+15551230000",
        to: str = "+15559870000",
        env_vars: Mapping[str, Any] | None = None,
        call_sid: str | None = None,
        **payload: Any,
    ) -> SimulatedCall:
        """A new inbound call: send the call hook and run its verbs until the caller's turn.

        ``env_vars`` are the application's environment variables (jambonz sends them with the
        call hook only). ``payload`` sets (or, as None, removes) keys of the call hook's
        payload, after the simulator's own; the call information in it (``from``, ``to``,
        ``customerData``, ...) is repeated in the call's later hooks, as jambonz does.
        """
        session = self.session_payload(from_=from_, to=to, call_sid=call_sid or str(uuid.uuid4()))
        if env_vars is not None:
            session["env_vars"] = dict(env_vars)
        for key, value in {**self.payload, **payload}.items():
            if value is None:
                session.pop(key, None)
            else:
                session[key] = value
        call = SimulatedCall(self, session)
        self.calls.append(call)
        call.log.append(f"call from {session.get('from')} to {session.get('to')}")
        if self._websocket is not None:
            call._channel = self._websocket.channel(call)
        else:
            call._channel = self._http.channel(call)
        answer = call._channel.hook("call", "session:new", self.call_hook_url, session) or []
        call._answered(answer)
        call._info.update(call_status="in-progress", sip_status=200, sip_reason="OK")
        call._answered_at = time.monotonic()
        self._status(call, {})
        call._pending = deque(answer)
        call._run()
        return call

    def session_payload(self, *, from_: str, to: str, call_sid: str) -> dict[str, Any]:
        """The call hook payload of a new inbound call (jambonz's ``session-new``), with a minimal INVITE."""
        call_id = f"{uuid.uuid4().hex}@{_SIP_IP}"
        sdp = (
            f"v=0\r\no=- 1 1 IN IP4 {_SIP_IP}\r\ns=-\r\nc=IN IP4 {_SIP_IP}\r\nt=0 0\r\n"
            "m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n"
        )
        return {
            "call_sid": call_sid,
            "account_sid": self.account_sid,
            "application_sid": self.application_sid,
            "direction": "inbound",
            "from": from_,
            "to": to,
            "call_id": call_id,
            "sbc_callid": f"{uuid.uuid4().hex}@{_SIP_IP}",
            "call_status": "trying",
            "sip_status": 100,
            "sip_reason": "Trying",
            "caller_name": from_,
            "caller_id": from_,
            "trace_id": uuid.uuid4().hex,
            "originating_sip_ip": _SIP_IP,
            "originating_sip_trunk_name": "simulated-carrier",
            "api_base_url": "https://jambonz.invalid/v1",
            "fs_sip_address": "10.0.0.5:5060",
            "sip": {
                "headers": {
                    "Via": f"SIP/2.0/UDP {_SIP_IP}:5060;branch=z9hG4bK{uuid.uuid4().hex[:12]}",
                    "From": f"<sip:{from_}@{_SIP_IP}>;tag={uuid.uuid4().hex[:10]}",
                    "To": f"<sip:{to}@jambonz.invalid>",
                    "Call-ID": call_id,
                    "CSeq": "1 INVITE",
                    "Contact": f"<sip:{from_}@{_SIP_IP}:5060>",
                    "Content-Type": "application/sdp",
                },
                "body": sdp,
                "method": "INVITE",
                "uri": f"sip:{to}@jambonz.invalid",
                "calledNumber": to,
                "callingNumber": from_,
                "protocol": "udp",
                "source_address": _SIP_IP,
                "source_port": 5060,
            },
        }

    # ----------------------------------------------------------------- hooks

    @staticmethod
    def _absolute(base: str, hook: str) -> str:
        return hook if urlsplit(hook).scheme else base + hook

    def _timestamp(self, url: str, body: bytes) -> int:
        """The second a request to ``url`` with ``body`` is signed at (HttpTransport's rule)."""
        return self._http._timestamp(url, body)

    def _status(self, call: SimulatedCall, fields: Mapping[str, Any]) -> None:
        if self.status_hook_url is not None and call._channel is not None:
            call._channel.status({**call._info, **fields})
            call.log.append(f"status: {call._info.get('call_status')}")
