"""Helpers for testing a jambonz-webhooks app: requests signed as jambonz signs them, a call simulator.

Sign a request by hand::

    body = json.dumps(payload, separators=(",", ":")).encode()
    client.post("/incoming", content=body, headers=signed_headers(body, secret="wh_secret"))

Or let :class:`CallSimulator` play jambonz for a whole call, in process or against a URL::

    with CallSimulator(app) as sim:
        call = sim.start(env_vars={"COMPANY_NAME": "Acme"})
        assert call.heard == ["Hello, and thank you for calling Acme.", "Press 1 for sales or 2 for support"]
        call.press("1")
        call.dial_busy()
        assert call.heard[-1] == "Sorry, we could not connect your call."
        assert call.hung_up_by == "app"
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote, urlsplit

import httpx2
from starlette.testclient import TestClient
from starlette.types import ASGIApp

from .app import JambonzApp
from .payload import CallInfo
from .security import SIGNATURE_HEADER, compute_signature

__all__ = [
    "Call",
    "CallSimulator",
    "SentRequest",
    "SimulatorError",
    "basic_auth_header",
    "jambonz_json",
    "sign",
    "signed_headers",
]


def sign(body: bytes, secret: str | bytes, *, timestamp: int | None = None) -> str:
    """The ``Jambonz-Signature`` header value jambonz would send with ``body``.

    ``timestamp`` defaults to now (unix seconds); give another to test the tolerance window.
    """
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={compute_signature(secret, t, body)}"


def signed_headers(body: bytes, secret: str | bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers of a POST hook as jambonz sends it with ``body``: content type and signature."""
    return {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret, timestamp=timestamp)}


def basic_auth_header(username: str, password: str) -> dict[str, str]:
    """The ``Authorization`` header jambonz sends for a hook configured with credentials."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# --------------------------------------------------------------------------- the call simulator


def jambonz_json(payload: Any) -> bytes:
    """The body jambonz sends: ``JSON.stringify`` of the payload (compact, raw UTF-8)."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class SimulatorError(Exception):
    """The app answered what jambonz could not use, or the test scripted what cannot happen now.

    ``status_code`` and ``body`` are set when the error is an HTTP answer (a non-2xx status, or a
    body that is not a JSON array of verbs); both are None for a scripting mistake (pressing a
    key while the call waits on a dial, acting on a call that is over, ...).
    """

    def __init__(self, message: str, *, status_code: int | None = None, body: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


HookKind = Literal["call", "action", "status"]


@dataclass(frozen=True)
class SentRequest:
    """One request the simulator sent, and what came back."""

    kind: HookKind
    """``call`` (the call hook), ``action`` (a verb's hook: gather, dial, redirect, play) or ``status``."""
    method: str
    url: str
    payload: dict[str, Any]
    headers: dict[str, str]
    status_code: int
    answer: list[dict[str, Any]] | None
    """The verbs answered (call and action hooks); None for a status hook."""


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


class Call:
    """One simulated call: what the app answered, what the caller heard and did, what was sent.

    Made by :meth:`CallSimulator.start`. The verbs run in order as jambonz runs them: ``say``
    and ``play`` are heard; the call stops at a ``gather`` until the test scripts what the
    caller does (:meth:`press`, :meth:`speak`, :meth:`silence`), and at a ``dial`` until it
    scripts how the dialed call went (:meth:`dial_answered`, :meth:`dial_busy`, ...). The
    verb's action hook gets the outcome; a non-empty answer replaces the verbs left, an empty
    one lets them run on. ``hangup``, or running out of verbs, ends the call.
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
        """Every verb the app answered, in order, each as ``{"verb": name, ...}``."""
        self.dialed: list[dict[str, Any]] = []
        """The targets of every ``dial``, in order."""
        self.requests: list[SentRequest] = []
        """Every request sent for this call, status hooks included."""
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

    # ----------------------------------------------------------------- what the test reads

    @property
    def waiting_for(self) -> str | None:
        """The verb the call waits on (``"gather"`` or ``"dial"``), or None."""
        return None if self._waiting is None else str(self._waiting["verb"])

    @property
    def waiting_verb(self) -> dict[str, Any] | None:
        """The ``gather`` or ``dial`` the call waits on, as the app wrote it."""
        return self._waiting

    @property
    def info(self) -> dict[str, Any]:
        """The call information every hook of this call carries from now on (a copy)."""
        return dict(self._info)

    def __repr__(self) -> str:
        state = "ended" if self.ended else f"waiting for {self.waiting_for}"
        return f"<Call {self.sid} {state}:\n  " + "\n  ".join(self.log) + "\n>"

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

    def hangup(self) -> Self:
        """The caller hangs up: the status hook gets ``completed``, nothing else runs."""
        self._check_live("hang up")
        self._waiting = None
        self._pending.clear()
        self.log.append("caller hangs up")
        self._end("caller")
        return self

    # ----------------------------------------------------------------- running the verbs

    def _expect(self, verb: str, action: str) -> dict[str, Any]:
        self._check_live(action)
        if self._waiting is None or self._waiting["verb"] != verb:
            waiting = self.waiting_for or "nothing"
            raise SimulatorError(f"cannot {action}: the call waits for {waiting}, not a {verb} ({self!r})")
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

    def _action(self, hook: Any, payload: dict[str, Any]) -> None:
        """Call an action hook; its verbs, if any, replace the ones left."""
        if hook is None:
            return
        answer = self._simulator._send(self, "action", hook, payload)
        if answer:
            self._pending = deque(answer)

    def _answered(self, answer: list[dict[str, Any]]) -> None:
        self.verbs.extend(answer)
        self.last_answer = answer

    def _run(self) -> None:
        """Run verbs until one waits for the caller or the call ends."""
        while self._pending and not self.ended:
            verb = self._pending.popleft()
            name = verb["verb"]
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
            elif name == "hangup":
                self.log.append("app hangs up")
                self._end("app")
                return
            elif name == "redirect":
                self.log.append(f"app redirects to {_hook_url(verb.get('actionHook'))}")
                self._action(verb.get("actionHook"), dict(self._info))
            elif name == "pause":
                self.log.append(f"app pauses {verb.get('length')}s")
            elif name == "tag":
                # jambonz sends the tagged data with every later hook of the call.
                if isinstance(verb.get("data"), dict):
                    self._info["customerData"] = verb["data"]
                self.log.append("app tags the call")
            else:
                self.log.append(f"app runs {name} (not simulated, skipped)")
        if not self.ended and self._waiting is None:
            # No verbs left: jambonz hangs the call up.
            self.log.append("no verbs left: jambonz hangs up")
            self._end("app")

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


def _normalize(item: Any) -> dict[str, Any] | None:
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


class CallSimulator:
    """Plays jambonz for an app: sends a call's hooks the way jambonz sends them, and runs its verbs.

    The target is an ASGI app, called in process through Starlette's ``TestClient``, or the URL
    the app is served at (``"http://127.0.0.1:3000"``, or with the path it is mounted under),
    called over real HTTP. Either way each request is what jambonz sends: a compact JSON body
    (or, with ``method="GET"``, the payload in the query string), signed with ``secret``, with
    ``basic_auth`` credentials; a hook in a verb is resolved as jambonz resolves it, a path
    against the origin of the call hook, and a hook object's own method and credentials are
    used.

    Args:
        target: the ASGI app, or the URL the app is served at.
        call_hook: the application's call hook: a path under ``target``, or a URL.
        status_hook: its call status hook, likewise; None sends no status hooks.
        secret: the webhook secret to sign with. None: the app's own first secret when
            ``target`` is a :class:`~jambonz_webhooks.JambonzApp`, else no signature.
            False: never sign.
        basic_auth: ``(username, password)`` to send. None: the app's own when ``target`` is
            a :class:`~jambonz_webhooks.JambonzApp`. False: never send credentials.
        method: how hooks are called (a hook object's own ``method`` wins).
        timeout: seconds to wait for an answer over HTTP.
        payload: keys to set in every call hook payload (a key set to None is left out).

    Status hooks: ``in-progress`` once the call hook answered, then ``completed`` when the call
    ends (with ``call_termination_by`` and ``duration``). Verbs that need media or a far end
    beyond ``say``, ``play``, ``gather``, ``dial``, ``pause``, ``redirect``, ``tag`` and
    ``hangup`` are recorded in :attr:`Call.verbs` and skipped.

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
        secret: str | bytes | Literal[False] | None = None,
        basic_auth: tuple[str, str] | Literal[False] | None = None,
        method: Literal["POST", "GET"] = "POST",
        timeout: float = 10.0,
        **payload: Any,
    ) -> None:
        if isinstance(target, str):
            base = target.rstrip("/")
            if urlsplit(base).scheme not in ("http", "https"):
                raise ValueError(f"the target URL must be http(s): {target!r}")
            self.client: httpx2.Client = httpx2.Client(
                timeout=timeout, trust_env=False, follow_redirects=False
            )
        else:
            base = "http://testserver"
            # No exception raised through the test: a failing app answers 500, as it does over HTTP.
            self.client = TestClient(
                target, base_url=base, raise_server_exceptions=False, follow_redirects=False
            )
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
        parts = urlsplit(self.call_hook_url)
        self.origin = f"{parts.scheme}://{parts.netloc}"
        """What a hook path in a verb is resolved against, as jambonz does: the call hook's origin."""
        self.payload = payload
        self.account_sid = str(uuid.uuid4())
        self.application_sid = str(uuid.uuid4())
        self.calls: list[Call] = []
        """Every call started, in order."""
        self._entered = False
        # The last timestamp signed for each hook URL and body (a digest of it); see _timestamp.
        self._signed_at: dict[tuple[str, bytes], int] = {}

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
        """Close the HTTP client (in process: run the app's lifespan shutdown)."""
        if isinstance(self.client, TestClient) and self._entered:
            self._entered = False
            self.client.__exit__(None, None, None)
        else:
            self.client.close()

    # ----------------------------------------------------------------- calls

    def start(
        self,
        *,
        from_: str = "+15551230000",
        to: str = "+15559870000",
        env_vars: Mapping[str, Any] | None = None,
        call_sid: str | None = None,
        **payload: Any,
    ) -> Call:
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
        call = Call(self, session)
        self.calls.append(call)
        call.log.append(f"call from {session.get('from')} to {session.get('to')}")
        answer = self._send(call, "call", self.call_hook_url, session)
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

    # ----------------------------------------------------------------- HTTP

    @staticmethod
    def _absolute(base: str, hook: str) -> str:
        return hook if urlsplit(hook).scheme else base + hook

    def _resolve(self, hook: Any) -> tuple[str, str, tuple[str, str] | None]:
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

    def _send(self, call: Call, kind: HookKind, hook: Any, payload: dict[str, Any]) -> list[dict[str, Any]]:
        """Send one hook request for ``call``; return the verbs answered (none for a status hook)."""
        url, method, credentials = self._resolve(hook)
        body = jambonz_json(payload)
        headers: dict[str, str] = {}
        if self.secret is not None:
            # jambonz signs the JSON payload whatever the method (a GET's cannot be verified).
            headers[SIGNATURE_HEADER] = sign(body, self.secret, timestamp=self._timestamp(url, body))
        if credentials is not None:
            headers.update(basic_auth_header(*credentials))
        if method == "GET":
            query = _query(payload)
            separator = "&" if "?" in url else "?"
            response = self.client.request("GET", f"{url}{separator}{query}", headers=headers)
        else:
            headers["Content-Type"] = "application/json"
            response = self.client.request(method, url, content=body, headers=headers)
        text = response.text
        if not 200 <= response.status_code < 300:
            call.requests.append(SentRequest(kind, method, url, payload, headers, response.status_code, None))
            raise SimulatorError(
                f"the {kind} hook {method} {url} answered {response.status_code}: {text[:1000]}",
                status_code=response.status_code,
                body=text,
            )
        answer: list[dict[str, Any]] | None = None
        if kind != "status":
            answer = self._verbs(kind, url, response.status_code, response.content, text)
            call._answered(answer)
        call.requests.append(SentRequest(kind, method, url, payload, headers, response.status_code, answer))
        return answer or []

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

    @staticmethod
    def _verbs(kind: str, url: str, status: int, content: bytes, text: str) -> list[dict[str, Any]]:
        if not content.strip():
            return []  # jambonz: no verbs, carry on with the ones left
        try:
            data = json.loads(content)
        except ValueError:
            raise SimulatorError(
                f"the {kind} hook {url} answered {status} with a body that is not JSON: {text[:1000]}",
                status_code=status,
                body=text,
            ) from None
        verbs = [_normalize(item) for item in data] if isinstance(data, list) else [None]
        if any(verb is None for verb in verbs):
            raise SimulatorError(
                f"the {kind} hook {url} answered {status} with something else than a list of verbs: "
                f"{text[:1000]}",
                status_code=status,
                body=text,
            )
        return [verb for verb in verbs if verb is not None]

    def _status(self, call: Call, fields: Mapping[str, Any]) -> None:
        if self.status_hook_url is not None:
            self._send(call, "status", self.status_hook_url, {**call._info, **fields})
            call.log.append(f"status: {call._info.get('call_status')}")
