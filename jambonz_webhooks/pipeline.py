"""One hook's request path, built once when the hook is registered, read top to bottom.

    method -> declared size -> security.authenticate -> decoding.check_media_type
      -> asgi.read_body -> security.verify_body -> decoding.PayloadReader.read
      -> state.keep_session -> injection.build_arguments -> the handler, under the hook's deadline
      -> response.encode_verbs, or the fallback -> asgi.send_answer -> logs.access_log

Each arrow is a call into the module named after its job; this module only strings them
together and decides what the outcome was (which the access line is written from). Everything
that depends on the handler alone (its plan, how its payload is read, its fallback) is worked
out in :class:`HookPipeline`'s constructor, never per request. :meth:`HookPipeline.answer` is
the part after the transport: it takes a decoded payload, not an HTTP request.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import anyio.to_thread
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive, Scope, Send

from .asgi import CLOSE, JSON_HEADERS, RequestHeaders, read_body, send_answer
from .background import Background, Continuation
from .continuation import RESUME_PATH, ContinuationError, ContinuationFailed, Continuations
from .control import LiveCalls
from .deadline import deadlines
from .decoding import Decoded, PayloadReader, check_media_type
from .deliveries import LEASE_MARGIN, DeliveryCache, StoredAnswer, delivery_key
from .errors import AppExit, HookError, error_body, http_error, too_large_message
from .events import FINAL_CALL_STATUSES, LlmToolCall
from .hooks import HookContext, RetryPolicy, current_context
from .injection import HandlerPlan, HookKind, build_arguments, env_values, kept_session, plan_handler
from .logs import access_log, verb_names
from .payload import CallInfo
from .response import WebhookResponse, collect_verbs, encode_verbs
from .rest.access import ApiAccess
from .security import HookSecurity
from .session import CallSession, LaterCallSession
from .state import (
    MAX_SESSION_SIZE,
    MemoryStore,
    StateStore,
    StateStoreError,
    forget_call,
    has_session,
    keep_session,
    keep_session_at_once,
    session_to_keep,
    store_outage,
)
from .targets import Release

__all__ = [
    "CALL_HOOK_METHODS",
    "DEFAULT_DEADLINE",
    "ENV_DEADLINE",
    "HOOK_METHODS",
    "EmptyCallHookAnswer",
    "EncodedVerbs",
    "HookPipeline",
    "HookSettings",
    "Outcome",
    "resume_path",
]

logger = logging.getLogger("jambonz_webhooks")

DEFAULT_DEADLINE = 8.0
"""Seconds a hook's handler has to answer: under jambonz's own 10 s, so the fallback gets there first."""

ENV_DEADLINE = "JAMBONZ_HOOK_DEADLINE"

CALL_HOOK_METHODS = ("GET", "POST", "OPTIONS")
"""What a call hook answers: jambonz's GET and POST, and the portal's OPTIONS (its env-var discovery)."""
HOOK_METHODS = ("GET", "POST")
"""What an action or status hook answers (OPTIONS too would tell anyone which paths are hooks)."""
_NO_HEADERS: Sequence[tuple[bytes, bytes]] = ()


def deadline_from(value: float | None, environ: Mapping[str, str] | None = None) -> float:
    """A hook deadline: ``value``, else ``JAMBONZ_HOOK_DEADLINE``, else :data:`DEFAULT_DEADLINE`.

    Raises:
        ValueError: not a positive, finite number of seconds.

    """
    if value is None:
        text = (os.environ if environ is None else environ).get(ENV_DEADLINE)
        try:
            value = DEFAULT_DEADLINE if text is None else float(text)
        except ValueError:
            raise ValueError(f"{ENV_DEADLINE} must be a number of seconds, not {text!r}") from None
    # Written so that NaN fails too.
    if not 0 < value < math.inf:
        raise ValueError(f"a hook deadline must be a positive number of seconds, not {value!r}")
    return value


class HookSettings:
    """What the hooks of one app share: handlers' paths, checks, fallback, deadline, state."""

    def __init__(
        self,
        fallback: WebhookResponse | None,
        security: HookSecurity | None = None,
        deliveries: DeliveryCache | None = None,
        env_schema: bytes = b"{}",
        state: StateStore | None = None,
        *,
        max_body_size: int | None = None,
        deadline: float | None = None,
        background: Background | None = None,
        api: ApiAccess | None = None,
        max_session_size: int = MAX_SESSION_SIZE,
    ) -> None:
        self.paths: dict[Callable[..., Any], str] = {}
        self.fallback = fallback
        self.security = security or HookSecurity()
        self.api = api if api is not None else ApiAccess(trust_payloads=self.security.verifies_all)
        """The app's REST client for ``call.client``, and where it may send the API key."""
        self.deliveries = deliveries
        self.state: StateStore = state if state is not None else MemoryStore()
        self.env_schema = env_schema
        """The body of the answer to the portal's OPTIONS discovery request."""
        self.max_body_size = max_body_size
        self.max_session_size = max_session_size
        """Bytes of a call hook's payload kept for the later hooks at most."""
        self.deadline = deadline_from(deadline)
        self.uses_state = False
        """Whether any hook reads the call's state: only then is the call hook's payload kept."""
        self.may_continue = False
        """Whether any hook may continue in the background (decided at registration)."""
        self.app_handles_http_errors = False
        """Whether the app has its own handler for HTTPException: a handler's is then raised to it."""
        self.background = background or Background()
        """The app's settings for hooks that continue in the background."""
        self.target: Release | None = None
        """The jambonz release the app's answers are checked against (None: not checked)."""
        self._continuations: Continuations | None = None
        self._contexts: dict[str, HookContext] = {}
        self.events: dict[str, HookPipeline] = {}
        """The handlers of notifications over a call's socket (``app.on``), by message type."""
        self.calls = LiveCalls()
        """The calls this process holds a socket or background tasks of (for :class:`CallControl`)."""
        self.retry: RetryPolicy | None = None
        """The app's default retry policy, written on its hooks (``JambonzApp(retries=...)``)."""

    @property
    def continuations(self) -> Continuations:
        """The work of hooks continuing in the background (made when first needed)."""
        if self._continuations is None:
            self._continuations = Continuations(self.state, limit=self.background.limit)
        return self._continuations

    async def aclose(self) -> None:
        """The app is shutting down: cancel work continuing in the background, close the REST client."""
        try:
            await self.calls.aclose()
            if self._continuations is not None:
                await self._continuations.aclose()
                self._continuations = None
        finally:
            await self.api.aclose()

    async def end_call(self, call_sid: str) -> None:
        """A status hook said the call is over: stop its background work, drop its state.

        The state is dropped when a hook reads it or may continue in the background (the
        continuations' records are there, and a worker running one stops when they go).
        """
        self.calls.end(call_sid)
        continuations = self._continuations
        if continuations is not None:
            continuations.end_call(call_sid)
        if self.uses_state or self.may_continue:
            await forget_call(self.state, call_sid)

    def context(self, prefix: str) -> HookContext:
        """The hook context for an app mounted at ``prefix`` (one per prefix, made once)."""
        context = self._contexts.get(prefix)
        if context is None:
            context = self._contexts[prefix] = HookContext(
                prefix, self.paths, self.api, self.calls, self.retry, self.target
            )
        return context


class Outcome:
    """What a hook request came to: the answer to send, and what the access line says of it."""

    __slots__ = ("after", "body", "call", "headers", "how", "status", "verbs")

    def __init__(
        self,
        status: int,
        headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
        call: CallInfo | None = None,
        verbs: Sequence[Any] = (),
        how: str = "handler",
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.call = call
        """The validated payload's call, or None (then nothing of the payload is logged)."""
        self.verbs = verbs
        self.how = how
        """``handler``, ``fallback``, ``deadline``, ``continued``, ``refused`` or ``repeat``."""
        self.after: Callable[[], Awaitable[str]] | None = None
        """Work to do once the answer is sent (a status hook's handler); run once, then cleared."""

    @classmethod
    def refusal(cls, error: HookError, call: CallInfo | None = None) -> Outcome:
        """A request refused: ``{"error": ...}`` with its status and extra headers."""
        headers = [*JSON_HEADERS, *error.headers] if error.headers else JSON_HEADERS
        return cls(error.status_code, headers, error_body(error.message, error.fields), call, how="refused")


class HookPipeline:
    """Serves one hook: every stage between the request and the answer, in order.

    Args:
        path: the hook's path within its app.
        handler: the function that answers it.
        kind: call, action or status hook.
        settings: what the app's hooks share.
        deadline: seconds the handler has; None takes the app's.
        fallback: this hook's own fallback verbs; None takes the app's.

    """

    def __init__(
        self,
        path: str,
        handler: Callable[..., Any],
        kind: HookKind,
        settings: HookSettings,
        *,
        path_params: Mapping[str, type] | None = None,
        deadline: float | None = None,
        fallback: WebhookResponse | None = None,
        background: Background | None = None,
    ) -> None:
        self.path = path
        self.handler = handler
        self.kind = kind
        self.settings = settings
        self.name = getattr(handler, "__name__", "hook")
        self.plan: HandlerPlan = plan_handler(handler, path_params=path_params or {})
        plan = self.plan
        if kind is not HookKind.STATUS and any(issubclass(model, LlmToolCall) for model in plan.models):
            # A hook answers verbs, and jambonz would hand them to the model as the tool's output.
            raise TypeError(
                f"handler {self.name} asks for LlmToolCall on a {kind.value} hook, which answers verbs: "
                "serve tools with app.tool_hook (a Toolbox), or over WebSocket with "
                "@app.on('llm:tool-call') and CallControl.tool_output"
            )
        # A CallSession after the call hook is the call hook's, kept in the call's state: the
        # hook's payload needs only the call_sid (what it lacks comes from the kept session).
        self._session_model = plan.session_model if kind is not HookKind.CALL else None
        lenient: dict[type[CallInfo], type[CallInfo]] | None = (
            {CallSession: LaterCallSession} if self._session_model is CallSession else None
        )
        self.background = background
        """Set when the hook continues in the background at its soft deadline whatever the handler says."""
        # Such a handler runs as a task of its own, so that it can go on after the answer.
        self.continues = background is not None or plan.wants_continuation
        if self.continues:
            settings.may_continue = True
        self.reader = PayloadReader(
            plan.models,
            raw=plan.wants_payload,
            needs_call=plan.uses_state,
            required=plan.requires_payload,
            validate_as=lenient,
            # An action hook whose handler needs nothing of the call serves any JSON object
            # (jambonz sends some without a call: a sip:refer eventHook); the call hook and
            # status hook keep or end the call's state, and need it.
            call_optional=kind is HookKind.ACTION
            and not (plan.uses_state or plan.reads_env or self.continues),
        )
        if plan.uses_state or self._session_model is not None:
            settings.uses_state = True
        self.deadline = settings.deadline if deadline is None else deadline_from(deadline)
        self._own_fallback = fallback
        self._wants_request = any(param.source == "request" for param in plan.params)
        self._reads_env = plan.reads_env
        self._fallbacks: dict[str, bytes | None] = {}
        self._access_log = access_log.hook(kind.value, path)
        self.methods: tuple[str, ...] = CALL_HOOK_METHODS if kind is HookKind.CALL else HOOK_METHODS
        """The HTTP methods this hook answers; any other gets a 405 whose Allow header lists these."""
        self._allow = ((b"allow", ", ".join(self.methods).encode("ascii")),)

    # -- the HTTP transport ------------------------------------------------------------------

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request for this hook, start to end; never raises for a bad request."""
        started = time.perf_counter()
        method: str = scope["method"]
        settings = self.settings
        if method == "OPTIONS" and "OPTIONS" in self.methods:
            # The portal's env-var discovery, sent to the call hook only: unsigned and without
            # credentials by design, so it is answered before any check; it reveals the
            # declarations only (no obscure default), and reads no body.
            await send_answer(send, 200, JSON_HEADERS, settings.env_schema)
            return
        body: bytes | None = None
        try:
            if method != "POST" and method != "GET":
                # Other hooks answer no OPTIONS: which paths are hooks is not told to anyone.
                raise HookError(405, "method not allowed", headers=self._allow)
            headers = RequestHeaders(scope["headers"])
            limit = settings.max_body_size
            if limit is not None and headers.content_length > limit:
                raise HookError(413, too_large_message(limit))
            security = settings.security
            signature = security.authenticate(method, headers.authorization, headers.signature)
            if method == "POST":
                check_media_type(headers.content_type)
            body = await read_body(receive, limit)
            if signature is not None:
                security.verify_body(signature, body)
        except HookError as exc:
            if body is None and method == "POST" and CLOSE[0] not in exc.headers:
                # Refused unread (no credentials, a stale signature, ...): the connection is
                # closed after the answer, not held open for a body nobody reads.
                exc.headers = (*exc.headers, *CLOSE)
            outcome = Outcome.refusal(exc)
        except ClientDisconnect:
            return
        else:
            deliveries = settings.deliveries
            # Only a verified request is deduplicated (an unsigned GET cannot be told from another).
            if deliveries is None or signature is None:
                outcome = await self._respond(scope, receive, body)
            else:
                key = delivery_key(self._hook_of(scope), signature.timestamp, body)
                outcome = await deliveries.answer(
                    key,
                    lambda: self._respond(scope, receive, body),
                    rebuild=_repeated,
                    lease=self.deadline + LEASE_MARGIN,
                )
        await send_answer(send, outcome.status, outcome.headers, outcome.body)
        answered = time.perf_counter()
        after, outcome.after = outcome.after, None
        how = outcome.how if after is None else await after()
        if access_log.enabled():
            self._log(scope, outcome, how, started, answered)

    def _respond(self, scope: Scope, receive: Receive, body: bytes) -> Awaitable[Outcome]:
        """Decode an authenticated request's payload, and answer it.

        Not a coroutine itself: it hands back :meth:`answer`'s, so that a request awaits one
        coroutine fewer (each costs a loaded server a good deal more than its few lines).
        """
        try:
            decoded = self.reader.read(body, scope["query_string"], scope["method"] == "GET")
        except HookError as exc:
            return _ready(Outcome.refusal(exc))
        if decoded.call is not None and scope.get("starlette.opentelemetry"):
            _describe_span(decoded.call, self)
        request = functools.partial(_request, scope, receive, body) if self._wants_request else None
        path_params: Mapping[str, Any] = scope.get("path_params") or {}
        return self.answer(decoded, body, path_params, scope.get("root_path", ""), request)

    def _hook_of(self, scope: Scope) -> str:
        """The hook as a delivery names it: its path with its parameters, where it is mounted."""
        hook = scope.get("root_path", "") + self.path
        params: Mapping[str, Any] | None = scope.get("path_params")
        # Converted values: /menu/01 and /menu/1 are one hook when the parameter is an int.
        return f"{hook} {sorted(params.items())!r}" if params else hook

    def _log(
        self, scope: Mapping[str, Any], outcome: Outcome, how: str, started: float, answered: float
    ) -> None:
        call = outcome.call
        if call is None:
            call_sid = trace_id = None
        else:
            call_sid, trace_id = call.call_sid, call.trace_id
        self._access_log.write(
            scope["method"],
            scope["path"],
            outcome.status,
            answered - started,
            call_sid,
            trace_id,
            verb_names(outcome.verbs),
            how,
            answered,
        )

    # -- after the transport: a decoded payload to an answer ---------------------------------

    async def answer(
        self,
        decoded: Decoded,
        body: bytes,
        path_params: Mapping[str, Any],
        prefix: str,
        request: Callable[[], Request] | None = None,
        *,
        deadline: float | None = None,
    ) -> Outcome:
        """Run the handler on a decoded payload, under the deadline, and encode its verbs.

        A status hook is answered at once (204) and its handler runs after the answer is sent
        (``Outcome.after``). A call or action hook whose handler fails, answers nothing (call
        hook) or passes the deadline is answered with the fallback verbs.

        Args:
            decoded: the payload.
            body: the payload's JSON text as received (kept as the call's session by a call hook).
            path_params: the values of the hook path's parameters.
            prefix: the path the app is mounted under (hooks are written with it).
            request: makes the Starlette request for a handler that asks for it.
            deadline: seconds the transport allows, if fewer than the hook's (a WebSocket ack
                is due within 5 s).

        """
        if self.kind is HookKind.STATUS:
            outcome = Outcome(204, _NO_HEADERS, b"", decoded.call)
            outcome.after = functools.partial(self._status, decoded, path_params, prefix, request)
            return outcome
        limit = self.deadline if deadline is None else min(deadline, self.deadline)
        if self.continues and decoded.call is not None:
            return await self._answer_or_continue(decoded, body, path_params, prefix, request, limit)
        call = decoded.call
        context = self.settings.context(prefix)
        token = current_context.set(context)  # REST calls from the handler write hooks with it
        watch = deadlines.start(limit)
        try:
            data, verbs = await self.produce(decoded, body, path_params, context, request)
            return Outcome(200, JSON_HEADERS, data, call, verbs)
        except asyncio.CancelledError as exc:
            if watch.finish():
                self._log_deadline(call, "the fallback answered", limit)
                return self._fallback_outcome(call, prefix, "deadline")
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the server is cancelling this request: let it
            return self._failed(exc, call, prefix)  # the handler raised it itself
        except Exception as exc:
            return self._error_outcome(exc, call, prefix)
        finally:
            watch.finish()
            current_context.reset(token)

    async def produce(
        self,
        decoded: Decoded,
        body: bytes,
        path_params: Mapping[str, Any],
        context: HookContext,
        request: Callable[[], Request] | None,
        continuation: Continuation | None = None,
    ) -> tuple[bytes, list[Any]]:
        """Keep the session, build the arguments, run the handler, encode its verbs.

        Awaited by the request itself, or run as a task of its own when the hook may continue
        in the background (it may then outlive the request). There is no fallback here: what
        the handler raises is raised (:meth:`answer` turns it into the fallback), so
        ``jambonz-webhooks routes`` runs sample payloads through it to see why a handler fails.
        The caller sets ``current_context`` to ``context`` (REST calls write hooks with it).

        Raises:
            EmptyCallHookAnswer: a call hook's handler answered no verbs.
            ReleaseError: the app targets a release that refuses one of the verbs.

        """
        call = decoded.call
        settings = self.settings
        if (
            call is not None
            and settings.uses_state
            and self.kind is HookKind.CALL
            # A call hook reached again by a redirect brings no INVITE (nor env vars): it must
            # not replace the session kept from the call's first hook.
            and (getattr(call, "sip", None) is not None or not await has_session(settings.state, call))
        ):
            session = body or call.model_dump_json(by_alias=True, exclude_none=True).encode()
            call_sid = str(call.call_sid)
            if len(session) > settings.max_session_size:
                session = session_to_keep(call_sid, session, settings.max_session_size)
            if not keep_session_at_once(settings.state, call_sid, session):
                await keep_session(settings.state, call_sid, session)
        env = await self._env(decoded) if self._reads_env else None
        kept = await self._session(decoded) if self._session_model is not None else None
        arguments = build_arguments(
            self.plan, decoded, path_params, settings.state, request, continuation, env, kept
        )
        # An async handler is awaited here rather than through _call: one coroutine fewer a request.
        try:
            result = await (self.handler(**arguments) if self.plan.is_async else self._call(arguments))
        except (SystemExit, KeyboardInterrupt) as exc:
            raise AppExit.of(exc) from exc
        if type(result) is EncodedVerbs:
            return result.data, []
        verbs = collect_verbs(result)
        if settings.target is not None:
            settings.target.check(verbs)  # a refused verb fails here: the fallback answers
        if not verbs and self.kind is HookKind.CALL:
            raise EmptyCallHookAnswer()
        return encode_verbs(verbs, context), verbs

    async def _answer_or_continue(
        self,
        decoded: Decoded,
        body: bytes,
        path_params: Mapping[str, Any],
        prefix: str,
        request: Callable[[], Request] | None,
        limit: float,
    ) -> Outcome:
        """Run the handler as its own task; past the soft deadline, answer filler if it may go on.

        ``limit`` is the hook's deadline, or the transport's when that is shorter (a WebSocket
        ack is due within 5 s): the soft deadline is never later.
        """
        call = decoded.call
        assert call is not None
        context = self.settings.context(prefix)
        continuation = Continuation(allowed=self.background is not None)
        token = current_context.set(context)  # copied into the task: REST calls write hooks with it
        try:
            work = asyncio.ensure_future(
                self.produce(decoded, body, path_params, context, request, continuation)
            )
        finally:
            current_context.reset(token)
        background = self.background or self.settings.background
        soft = min(background.after, limit)
        try:
            await asyncio.wait((work,), timeout=soft)
            if not work.done() and not continuation.allowed:
                await asyncio.wait((work,), timeout=limit - soft)
        except asyncio.CancelledError:
            work.cancel()  # the request itself is cancelled (the server stops): so is its work
            raise
        if work.done():
            return self._finished(work, call, prefix)
        if not continuation.allowed:
            work.cancel()
            self._log_deadline(call, "the fallback answered", limit)
            return self._fallback_outcome(call, prefix, "deadline")
        resume = self.settings.continuations.start(str(call.call_sid), _encoded_of(work))
        filler = continuation.filler or background.filler
        verbs = [*filler.verbs, *WebhookResponse().redirect(action_hook=resume_path(resume)).verbs]
        return Outcome(200, JSON_HEADERS, encode_verbs(verbs, context), call, verbs, "continued")

    def _finished(
        self, work: asyncio.Future[tuple[bytes, list[Any]]], call: CallInfo, prefix: str
    ) -> Outcome:
        """The outcome of a handler that ended in time."""
        if work.cancelled():
            return self._failed(asyncio.CancelledError(), call, prefix)
        exc = work.exception()
        if exc is None:
            data, verbs = work.result()
            return Outcome(200, JSON_HEADERS, data, call, verbs)
        return self._error_outcome(exc, call, prefix)

    def _error_outcome(self, exc: BaseException, call: CallInfo | None, prefix: str) -> Outcome:
        """The answer to a hook whose handler (or what came before it) raised ``exc``."""
        if isinstance(exc, HookError):
            return Outcome.refusal(exc, call)  # a path parameter that does not convert
        if isinstance(exc, HTTPException):
            if self.settings.app_handles_http_errors:
                raise exc  # the app's own exception handler answers it, as in Starlette
            return _http_outcome(exc, call)  # the handler chose its answer (a 403, say)
        return self._failed(exc, call, prefix)

    def _env(self, decoded: Decoded) -> Awaitable[Any]:
        """The call's env vars, for a handler that asks for them (``_reads_env``)."""
        assert decoded.call is not None  # required: a request without a payload was refused
        return env_values(decoded.call, self.settings.state)

    async def _session(self, decoded: Decoded) -> CallSession | None:
        """The kept session, updated, for a handler that asks for a CallSession after the call hook."""
        call = decoded.models.get(self._session_model) if self._session_model is not None else None
        if not isinstance(call, CallSession):
            return None  # an optional parameter, and no payload
        return await kept_session(call, self.settings.state)

    async def _call(self, arguments: dict[str, Any]) -> Any:
        try:
            if self.plan.is_async:
                return await self.handler(**arguments)
            # A thread cannot be stopped: at the deadline it is abandoned (its result dropped).
            return await anyio.to_thread.run_sync(
                functools.partial(self.handler, **arguments), abandon_on_cancel=True
            )
        except (SystemExit, KeyboardInterrupt) as exc:
            raise AppExit.of(exc) from exc

    async def _status(
        self,
        decoded: Decoded,
        path_params: Mapping[str, Any],
        prefix: str,
        request: Callable[[], Request] | None,
    ) -> str:
        """A status hook's handler, after its 204 went out: bounded by the deadline, then the state."""
        call = decoded.call
        settings = self.settings
        how = "handler"
        token = current_context.set(settings.context(prefix))
        deadline = deadlines.start(self.deadline)
        try:
            env = await self._env(decoded) if self._reads_env else None
            session = await self._session(decoded) if self._session_model is not None else None
            arguments = build_arguments(
                self.plan, decoded, path_params, settings.state, request, env=env, session=session
            )
            await self._call(arguments)
        except asyncio.CancelledError as exc:
            if deadline.finish():
                self._log_deadline(call, "cancelled")
                how = "deadline"
            else:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                self._log_failure(exc, call)
                how = "error"
        except Exception as exc:
            self._log_failure(exc, call)
            how = "error"
        finally:
            deadline.finish()
            current_context.reset(token)
        if call is not None and call.call_status in FINAL_CALL_STATUSES:
            await settings.end_call(str(call.call_sid))
        return how

    def _log_deadline(self, call: CallInfo | None, what: str, limit: float | None = None) -> None:
        logger.warning(
            "%s hook %s (handler %s) passed its %.1f s deadline for call_sid=%s: %s",
            self.kind.value,
            self.path,
            self.name,
            self.deadline if limit is None else limit,
            None if call is None else call.call_sid,
            what,
            extra=self._extra(call),
        )

    def _failed(self, exc: BaseException, call: CallInfo | None, prefix: str) -> Outcome:
        self._log_failure(exc, call)
        return self._fallback_outcome(call, prefix, "fallback")

    def _fallback_outcome(self, call: CallInfo | None, prefix: str, how: str) -> Outcome:
        fallback = self.fallback_verbs(prefix)
        if fallback is None:
            error = HookError(500, "the application failed to answer this hook")
            outcome = Outcome.refusal(error, call)
            outcome.how = how
            return outcome
        verbs = self._own_fallback or self.settings.fallback
        return Outcome(200, JSON_HEADERS, fallback, call, verbs.verbs if verbs is not None else (), how)

    def log_answer(self, scope: Mapping[str, Any], outcome: Outcome, started: float) -> None:
        """Write the access line of an answer given another way than :meth:`serve` (a WebSocket)."""
        if access_log.enabled():
            self._log(scope, outcome, outcome.how, started, time.perf_counter())

    def fallback_verbs(self, prefix: str) -> bytes | None:
        """The hook's fallback verbs as encoded for an app mounted at ``prefix``, or None.

        Encoded once per prefix; None when the hook has none (a 500 over HTTP).
        """
        try:
            return self._fallbacks[prefix]
        except KeyError:
            pass
        verbs = self._own_fallback or self.settings.fallback
        encoded = None
        if verbs is not None:
            try:
                encoded = encode_verbs(verbs.verbs, self.settings.context(prefix))
            except Exception:  # a broken fallback must not turn into a traceback for jambonz
                logger.exception("the fallback verbs of hook %s cannot be encoded", self.path)
        self._fallbacks[prefix] = encoded
        return encoded

    def _log_failure(self, exc: BaseException, call: CallInfo | None) -> None:
        message = "%s hook %s (handler %s) failed for call_sid=%s: %s"
        call_sid = None if call is None else call.call_sid
        args = (self.kind.value, self.path, self.name, call_sid, exc)
        if isinstance(exc, StateStoreError):
            # An outage fails every hook: one line each, rate-limited, no traceback.
            store_outage.warn(message, *args, call_sid=None if call_sid is None else str(call_sid))
        else:
            logger.error(message, *args, exc_info=exc, extra=self._extra(call))

    def _extra(self, call: CallInfo | None) -> dict[str, Any]:
        return {
            "call_sid": None if call is None else call.call_sid,
            "hook_kind": self.kind.value,
            "hook_path": self.path,
        }


class EncodedVerbs:
    """Verbs already encoded as jambonz's JSON (what a resumed hook hands back as it is)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


async def _encoded_of(work: asyncio.Future[tuple[bytes, list[Any]]]) -> bytes:
    data, _ = await work
    return data


def resume_path(token: str) -> str:
    """The resume hook's path for ``token`` within the app (the prefix is added when encoded)."""
    return RESUME_PATH.format(token=token)


class ContinuedWorkFailed(Exception):
    """A hook's handler that went on in the background failed or ran out of time."""


def resume_handler(settings: HookSettings) -> Callable[..., Awaitable[WebhookResponse | EncodedVerbs]]:
    """The handler of the resume hook (:data:`~jambonz_webhooks.continuation.RESUME_PATH`).

    It answers the verbs of the work ``token`` names as soon as they are ready, waiting up to
    the soft deadline; else the hold verbs and a redirect to itself again. A failed or timed-out
    work gets the fallback; an unknown token (or another call's) a 404.
    """

    async def resume(call: CallInfo, token: str) -> WebhookResponse | EncodedVerbs:
        background = settings.background
        try:
            data = await settings.continuations.wait(str(call.call_sid), token, background.after)
        except ContinuationFailed as exc:
            raise ContinuedWorkFailed(str(exc)) from None
        except ContinuationError:
            raise HookError(404, "no such continuation: unknown, expired, or another call's") from None
        if data is None:
            hold = background.hold or background.filler
            return WebhookResponse(hold.verbs).redirect(action_hook=resume_path(token))
        return EncodedVerbs(data)

    return resume


class EmptyCallHookAnswer(Exception):
    """A call hook's handler answered no verbs: jambonz would fail the call, so the fallback answers."""

    def __init__(self) -> None:
        super().__init__("the call hook handler answered no verbs; jambonz would fail the call")


def _http_outcome(exc: HTTPException, call: CallInfo | None) -> Outcome:
    """The answer a handler chose by raising an HTTPException (a 403 for an unknown caller)."""
    if exc.status_code in (204, 304):
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in (exc.headers or {}).items()]
        return Outcome(exc.status_code, headers, b"", call, how="refused")
    return Outcome.refusal(http_error(exc), call)


async def _ready(outcome: Outcome) -> Outcome:
    return outcome


def _repeated(answer: StoredAnswer) -> Outcome:
    """The outcome of a repeated delivery: the first one's answer again."""
    return Outcome(*answer, how="repeat")


def _request(scope: Scope, receive: Receive, body: bytes) -> Request:
    request = Request(scope, receive)
    request._body = body  # already read from the socket: the handler may read it again
    return request


def _describe_span(call: CallInfo, pipeline: HookPipeline) -> None:
    """Name the call and the hook on the request's OpenTelemetry span (when one is recording)."""
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute("jambonz.call_sid", str(call.call_sid))
        span.set_attribute("jambonz.hook.kind", pipeline.kind.value)
        span.set_attribute("jambonz.hook.path", pipeline.path)
        if call.trace_id:
            span.set_attribute("jambonz.trace_id", call.trace_id)
