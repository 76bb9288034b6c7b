"""One webhook route: from the ASGI request to the JSON verbs, in one straight line.

    read body -> decode (JSON bytes or query string) -> models -> call the handler -> encode

Everything that depends only on the handler was worked out at registration
(:func:`~jambonz_webhooks.injection.plan_handler`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pydantic_core
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URLPath
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.routing import BaseRoute, Match, NoMatchFound, compile_path, replace_params
from starlette.types import Message, Receive, Scope, Send

from .decoding import DecodeError, expand_json_values, parse_query
from .deliveries import Answer, DeliveryCache, delivery_key
from .errors import HookError, error_body, invalid_json, validation_error
from .events import FINAL_CALL_STATUSES
from .hooks import HookContext, current_context
from .injection import HandlerPlan, HookKind, plan_handler
from .logs import ACCESS_LOGGER
from .payload import CallInfo
from .response import Response as VerbResponse
from .response import collect_verbs, encode_verbs
from .security import HookSecurity, SignatureError
from .state import SESSION_KEY, CallState, MemoryStore, StateStore, StateStoreError

__all__ = ["HookRoute", "HookSettings"]

logger = logging.getLogger("jambonz_webhooks")
access_logger = logging.getLogger(ACCESS_LOGGER)

_JSON_HEADERS = [(b"content-type", b"application/json")]
_WWW_AUTHENTICATE = [(b"www-authenticate", b'Basic realm="jambonz", charset="UTF-8"')]
_ALLOWED_METHODS = ("GET", "POST")
_ALLOW = [(b"allow", b"GET, POST, OPTIONS")]
_GET_HINT = " (jambonz sends GET hooks without the call's details: configure this hook to use POST)"


class HookSettings:
    """What the routes of one app share: handlers' paths, fallback, checks and declarations."""

    def __init__(
        self,
        fallback: VerbResponse | None,
        security: HookSecurity | None = None,
        deliveries: DeliveryCache | None = None,
        env_schema: bytes = b"{}",
        state: StateStore | None = None,
    ) -> None:
        self.paths: dict[Callable[..., Any], str] = {}
        self.fallback = fallback
        self.security = security or HookSecurity()
        self.deliveries = deliveries
        self.state: StateStore = state if state is not None else MemoryStore()
        self.env_schema = env_schema
        """The body of the answer to the portal's OPTIONS discovery request."""
        self._contexts: dict[str, HookContext] = {}

    def context(self, prefix: str) -> HookContext:
        """The hook context for an app mounted at ``prefix`` (one per prefix, made once)."""
        context = self._contexts.get(prefix)
        if context is None:
            context = self._contexts[prefix] = HookContext(prefix, self.paths)
        return context


class HookRoute(BaseRoute):
    """A route that serves one jambonz webhook with one handler, over POST and GET."""

    def __init__(
        self, path: str, handler: Callable[..., Any], kind: HookKind, settings: HookSettings
    ) -> None:
        if not path.startswith("/"):
            raise ValueError(f"a hook path must start with '/': {path!r}")
        self.path = path
        self.handler = handler
        self.kind = kind
        self.settings = settings
        self.name = getattr(handler, "__name__", "hook")
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        self.plan: HandlerPlan = plan_handler(handler, path_params=frozenset(self.param_convertors))
        # A body is always checked to be a call's payload, even when the handler asks for nothing.
        self._body_models: tuple[type[CallInfo], ...] = self.plan.models or (CallInfo,)
        # The common case, one model and no raw dict: validate straight from the bytes.
        self._direct_model = (
            self._body_models[0] if len(self._body_models) == 1 and not self.plan.wants_payload else None
        )
        # A query string is read into the models asked for; the call's state needs its call_sid.
        wants_state = any(param.source in ("state", "env") for param in self.plan.params)
        self._env_params = [param for param in self.plan.params if param.env is not None]
        self._query_models: tuple[type[CallInfo], ...] = self.plan.models or (
            (CallInfo,) if wants_state else ()
        )

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Match on the path alone; a wrong method gets our own 405."""
        if scope["type"] != "http":
            return Match.NONE, {}
        match = self.path_regex.match(_route_path(scope))
        if match is None:
            return Match.NONE, {}
        path_params = dict(scope.get("path_params", {}))
        for key, value in match.groupdict().items():
            path_params[key] = self.param_convertors[key].convert(value)
        return Match.FULL, {"endpoint": self.handler, "path_params": path_params}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The hook's path, found by its handler's name (as Starlette's ``url_path_for``)."""
        seen, expected = set(path_params), set(self.param_convertors)
        if name != self.name or seen != expected:
            raise NoMatchFound(name, path_params)
        path, _ = replace_params(self.path_format, self.param_convertors, path_params)
        return URLPath(path=path, protocol="http")

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one webhook request, and log it on ``jambonz_webhooks.access`` when enabled."""
        if not access_logger.isEnabledFor(logging.INFO):
            await self._handle(scope, receive, send)
            return
        started = time.perf_counter()
        answer: list[Any] = []

        async def recording(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer.append(message["status"])
            elif message["type"] == "http.response.body":
                answer.append(message.get("body", b""))
            await send(message)

        body_seen: list[bytes] = []

        async def reading() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                body_seen.append(message.get("body", b""))
            return message

        try:
            await self._handle(scope, reading, recording)
        finally:
            self._log_access(scope, b"".join(body_seen), answer, time.perf_counter() - started)

    def _log_access(self, scope: Scope, body: bytes, answer: list[Any], seconds: float) -> None:
        status = answer[0] if answer else 500
        payload = _json_object(body)
        sent = _json_object(b"".join(part for part in answer[1:] if isinstance(part, bytes)))
        verbs = (
            [verb.get("verb") for verb in sent if isinstance(verb, dict)] if isinstance(sent, list) else []
        )
        call_sid = payload.get("call_sid") if isinstance(payload, dict) else None
        trace_id = payload.get("trace_id") if isinstance(payload, dict) else None
        access_logger.info(
            "%s hook %s %s -> %d in %.1f ms, verbs %s, call_sid=%s",
            self.kind.value,
            scope["method"],
            scope["path"],
            status,
            seconds * 1000,
            ",".join(str(verb) for verb in verbs) or "-",
            call_sid,
            extra={
                "call_sid": call_sid,
                "trace_id": trace_id,
                "hook_kind": self.kind.value,
                "hook_path": self.path,
                "method": scope["method"],
                "status": status,
                "duration_ms": round(seconds * 1000, 3),
                "verbs": verbs,
            },
        )

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check who sends the request and what, then answer it."""
        method = scope["method"]
        settings = self.settings
        if method == "OPTIONS":
            # The portal's env-var discovery (sent to the call hook): unsigned and without
            # credentials by design, so it is answered before any check; it reveals nothing but
            # the declarations, and reads no body.
            await _send(send, 200, _JSON_HEADERS, settings.env_schema)
            return
        if method not in _ALLOWED_METHODS:
            await _send_error(send, HookError(405, "method not allowed", headers=_ALLOW))
            return
        headers = _RequestHeaders(scope)
        try:
            self._check_request(method, headers)
            try:
                body = await _read_body(receive)
            except ClientDisconnect:
                return
            security = settings.security
            if security.signed and method == "POST":
                try:
                    security.verify(headers.signature, body)
                except SignatureError as exc:
                    raise HookError(401, str(exc)) from None
        except HookError as exc:
            await _send_error(send, exc)
            return
        deliveries = settings.deliveries
        if deliveries is None:
            answer = await self._answer(scope, receive, body)
        else:
            query: bytes = scope.get("query_string", b"")
            key = delivery_key(method, scope["path"], query, headers.signature_raw, body)
            answer = await deliveries.answer(
                key, lambda: self._answer(scope, receive, body), repeatable=_repeatable
            )
        await _send(send, *answer)

    def _check_request(self, method: str, headers: _RequestHeaders) -> None:
        """Refuse, before the body is read, what must not be read: unauthenticated, not JSON.

        A body declared too big is answered 413 by the app's body-limit middleware, whatever
        the route sends, so it is not checked here.
        """
        security = self.settings.security
        credentials = security.basic_auth
        if credentials is not None and not credentials.check(headers.authorization):
            raise HookError(401, "missing or wrong credentials", headers=_WWW_AUTHENTICATE)
        if method == "GET":
            if security.signed and not security.allow_unsigned_get:
                raise HookError(
                    401,
                    "a GET hook cannot be verified (jambonz signs a body it does not send): "
                    "configure this hook to use POST",
                )
        elif not _is_json(headers.content_type):
            raise HookError(415, "the body must be JSON (Content-Type: application/json)")

    async def _answer(self, scope: Scope, receive: Receive, body: bytes) -> Answer:
        """Decode the payload, run the handler and encode its verbs (or the fallback's)."""
        try:
            arguments, call = self._arguments(scope, receive, body)
        except HookError as exc:
            return _error_answer(exc)
        call_sid = None if call is None else call.call_sid
        if call is not None and scope.get("starlette.opentelemetry"):
            _describe_span(call, self)
        if call is not None and self.kind is HookKind.CALL:
            await self._keep_session(call, body)
        prefix: str = scope.get("root_path", "")
        context = self.settings.context(prefix)
        # Verbs built while the handler runs write their hooks out as they are built.
        token = current_context.set(context)
        try:
            if self._env_params:
                assert call is not None  # required: a request without a payload was refused
                await self._add_env_vars(arguments, call)
            if self.plan.is_async:
                result = await self.handler(**arguments)
            else:
                result = await run_in_threadpool(self.handler, **arguments)
            if self.kind is HookKind.STATUS:
                if call is not None and call.call_status in FINAL_CALL_STATUSES:
                    await self._forget_call(call.call_sid)
                return 204, (), b""  # no content type: jambonz would try to parse an empty JSON body
            verbs = collect_verbs(result)
            if not verbs and self.kind is HookKind.CALL:
                raise _EmptyCallHookAnswer(
                    "the call hook handler answered no verbs; jambonz would fail the call"
                )
            payload = encode_verbs(verbs, context)
        except HTTPException:
            raise  # the handler chose its answer (a 403 for an unknown caller, say)
        except Exception as exc:
            self._log_failure(exc, call_sid, body)
            fallback = self._fallback(prefix)
            if fallback is None:
                return _error_answer(HookError(500, "the application failed to answer this hook"))
            payload = fallback
        finally:
            current_context.reset(token)
        return 200, _JSON_HEADERS, payload

    def _arguments(
        self, scope: Scope, receive: Receive, body: bytes
    ) -> tuple[dict[str, Any], CallInfo | None]:
        """Decode the payload and build each argument the handler asked for; and the call, if known."""
        plan = self.plan
        instances: dict[type[CallInfo], CallInfo | None] = {}
        raw: dict[str, Any] | None = None
        hint = ""
        try:
            if body:
                model = self._direct_model
                if model is not None:
                    instances[model] = model.model_validate_json(body, strict=True)
                else:
                    try:
                        raw = pydantic_core.from_json(body)
                    except ValueError as exc:
                        raise invalid_json(str(exc)) from None
                    if not isinstance(raw, dict):
                        raise HookError(422, "the payload must be a JSON object")
                    for model in self._body_models:
                        instances[model] = model.model_validate(raw, strict=True)
            else:
                query = scope.get("query_string", b"").decode("latin-1")
                raw = parse_query(query) if query else {}
                if scope["method"] == "GET":
                    hint = _GET_HINT
                if raw:
                    for model in self._query_models:
                        expand_json_values(raw, plan.shapes[model])
                        instances[model] = model.model_validate(raw)
                elif plan.requires_payload:
                    raise HookError(422, "the request carries no payload" + hint)
        except ValidationError as exc:
            raise validation_error(exc, hint=hint) from None
        except DecodeError as exc:
            raise HookError(400, str(exc)) from None

        arguments: dict[str, Any] = {}
        for param in plan.params:
            if param.source == "model":
                assert param.model is not None
                arguments[param.name] = instances.get(param.model)
            elif param.source == "path":
                arguments[param.name] = scope["path_params"][param.name]
            elif param.source == "payload":
                arguments[param.name] = raw  # set whenever a handler asks for it (no direct path then)
            elif param.source == "state":
                call = next(instance for instance in instances.values() if instance is not None)
                arguments[param.name] = CallState(self.settings.state, call.call_sid)
            else:
                request = Request(scope, receive)
                request._body = body  # already read from the socket; let the handler read it again
                arguments[param.name] = request
        return arguments, next((instance for instance in instances.values() if instance is not None), None)

    async def _add_env_vars(self, arguments: dict[str, Any], call: CallInfo) -> None:
        """Give each EnvVars parameter the call's variables: its own payload's, or its state's."""
        values: Any = getattr(call, "env_vars", None)  # a CallSession's field, or an extra of the payload
        if values is None:
            values = await CallState(self.settings.state, call.call_sid).env_vars()
        for param in self._env_params:
            assert param.env is not None
            arguments[param.name] = param.env.from_values(values)

    async def _keep_session(self, call: CallInfo, body: bytes) -> None:
        """Keep the call hook's payload in the call's state, for the hooks that come after."""
        # The bytes jambonz sent when there are some; a GET's query as its model read it.
        session = body or call.model_dump_json(by_alias=True, exclude_none=True).encode()
        try:
            await self.settings.state.set(call.call_sid, {SESSION_KEY: session})
        except StateStoreError as exc:
            # The handler still runs: it may not need the state, and if it does it gets the error.
            logger.warning(
                "could not keep call %s's session in the state store: %s",
                call.call_sid,
                exc,
                extra={"call_sid": call.call_sid, "hook_kind": self.kind.value, "hook_path": self.path},
            )

    async def _forget_call(self, call_sid: str) -> None:
        """Drop a call's state once a status hook says it is over (its TTL would, later)."""
        try:
            await self.settings.state.drop(call_sid)
        except StateStoreError as exc:
            logger.warning(
                "could not drop call %s's state (it expires by its TTL): %s",
                call_sid,
                exc,
                extra={"call_sid": call_sid, "hook_kind": self.kind.value, "hook_path": self.path},
            )

    def _log_failure(self, exc: Exception, call_sid: str | None, body: bytes) -> None:
        if call_sid is None:
            call_sid = _call_sid_from(body)
        logger.error(
            "%s hook %s (handler %s) failed for call_sid=%s: %s",
            self.kind.value,
            self.path,
            self.name,
            call_sid,
            exc,
            exc_info=exc,
            extra={"call_sid": call_sid, "hook_kind": self.kind.value, "hook_path": self.path},
        )

    def _fallback(self, prefix: str) -> bytes | None:
        """The verbs that keep the caller from silence when the handler failed, or None for a 500."""
        fallback = self.settings.fallback
        if fallback is None or self.kind is HookKind.STATUS:
            return None
        try:
            return encode_verbs(fallback.verbs, self.settings.context(prefix))
        except Exception:  # a broken fallback must not turn into a traceback for jambonz
            logger.exception("the fallback verbs cannot be encoded")
            return None

    def __repr__(self) -> str:
        return f"HookRoute(path={self.path!r}, kind={self.kind.value!r}, handler={self.name!r})"


class _EmptyCallHookAnswer(Exception):
    pass


def _describe_span(call: CallInfo, route: HookRoute) -> None:
    """Name the call and the hook on the request's OpenTelemetry span (when one is recording)."""
    from opentelemetry import trace

    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute("jambonz.call_sid", call.call_sid)
        span.set_attribute("jambonz.hook.kind", route.kind.value)
        span.set_attribute("jambonz.hook.path", route.path)
        if call.trace_id:
            span.set_attribute("jambonz.trace_id", call.trace_id)


def _json_object(data: bytes) -> Any:
    """The JSON value of ``data``, or None; only for logging, never for deciding anything."""
    try:
        return pydantic_core.from_json(data) if data else None
    except ValueError:
        return None


def _call_sid_from(body: bytes) -> str | None:
    """Best effort, for the log line of a failure: the call_sid of a payload not validated."""
    try:
        data = pydantic_core.from_json(body) if body else None
    except ValueError:
        return None
    sid = data.get("call_sid") if isinstance(data, Mapping) else None
    return sid if isinstance(sid, str) else None


def _route_path(scope: Scope) -> str:
    """The path within the app: what is left after the prefix it is mounted under."""
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path) and path[len(root_path) : len(root_path) + 1] in ("/", ""):
        return path[len(root_path) :]
    return path


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _repeatable(answer: Answer) -> bool:
    """Whether a repeated delivery may get this answer: not a server error (a retry may pass)."""
    return answer[0] < 500


def _error_answer(error: HookError) -> Answer:
    headers = [*_JSON_HEADERS, *error.headers] if error.headers else _JSON_HEADERS
    return error.status_code, headers, error_body(error.message, error.fields)


def _is_json(content_type: bytes | None) -> bool:
    """``application/json`` or a ``+json`` type, with any parameters (``; charset=utf-8``)."""
    if content_type is None:
        return False
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json" or (
        media_type.startswith(b"application/") and media_type.endswith(b"+json")
    )


class _RequestHeaders:
    """The few request headers the checks read, found in one pass over the raw list."""

    __slots__ = ("authorization", "content_type", "signature_raw")

    def __init__(self, scope: Scope) -> None:
        self.content_type: bytes | None = None
        self.authorization: str | None = None
        self.signature_raw: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"content-type":
                self.content_type = value
            elif name == b"authorization":
                self.authorization = value.decode("latin-1")
            elif name == b"jambonz-signature":
                self.signature_raw = value

    @property
    def signature(self) -> str | None:
        return None if self.signature_raw is None else self.signature_raw.decode("latin-1")


async def _send(send: Send, status: int, headers: Sequence[tuple[bytes, bytes]], body: bytes) -> None:
    if status != 204:  # a 204 carries no content, and says nothing of its length
        headers = [*headers, (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_error(send: Send, error: HookError) -> None:
    await _send(send, *_error_answer(error))
