"""JambonzApp: a Starlette application whose routes are jambonz webhooks."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any, TypedDict, TypeVar, Unpack

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, compile_path
from starlette.types import ExceptionHandler, Lifespan, Message, Receive, Scope, Send

from .background import Background
from .continuation import RESUME_PATH
from .deliveries import DeliveryCache
from .draining import is_draining
from .env import EnvVar, EnvVars, declare, env_schema
from .errors import error_body, http_exception_handler, server_error_handler, too_large_message
from .events import SOCKET_EVENT_MODELS
from .hooks import RetryPolicy, retry_policy
from .injection import HookKind, plan_handler, warn_of_mismatches
from .logs import access_log
from .pipeline import HookPipeline, resume_handler
from .response import VerbLike, WebhookResponse, check_verb_names, prepare_verbs
from .rest.access import ApiAccess
from .routing import HookRoute, HookSettings, HookTable, route_path
from .security import DEFAULT_TOLERANCE, HookSecurity
from .state import ENV_REDIS_URL, MAX_SESSION_SIZE, MemoryStore, StateStore, default_store, serving_workers
from .targets import Release, as_release
from .tools import Toolbox, ToolRoute, tool_paths
from .websocket import CallSocket

__all__ = [
    "DEFAULT_FALLBACK",
    "DEFAULT_MAX_BODY_SIZE",
    "HOW_TO_PROTECT",
    "HookOptions",
    "HookRouter",
    "InsecureAppError",
    "JambonzApp",
]

DEFAULT_MAX_BODY_SIZE = 1024 * 1024
"""1 MiB: a call's payload, SIP INVITE and all, is a few kilobytes."""

H = TypeVar("H", bound=Callable[..., Any])

logger = logging.getLogger("jambonz_webhooks")

DEFAULT_FALLBACK: WebhookResponse = (
    WebhookResponse().say(text="We are sorry, something went wrong. Please call again later.").hangup()
)
"""What the caller hears when a call or action hook handler fails: an apology, then hangup."""


class HookOptions(TypedDict, total=False):
    """A hook's own settings, beside its path: ``@app.action_hook("/menu", deadline=3)``."""

    deadline: float | None
    """Seconds the handler has before the fallback answers (None: the app's)."""
    fallback: WebhookResponse | Iterable[VerbLike] | None
    """The verbs answered when this hook's handler fails or overruns (None: the app's)."""
    background: bool | Background
    """Continue in the background past a soft deadline: True for the app's settings, or its own."""


class _HookRegistry:
    """The hook decorators, shared by :class:`JambonzApp` and :class:`HookRouter`."""

    def add_hook(
        self, path: str, handler: Callable[..., Any], kind: HookKind, **options: Unpack[HookOptions]
    ) -> None:
        """Register ``handler`` for the hook ``path`` (the decorators call this)."""
        raise NotImplementedError

    def call_hook(self, path: str, **options: Unpack[HookOptions]) -> Callable[[H], H]:
        """Register the handler of a call hook: a new call arrives; answer its first verbs.

        ``deadline`` (seconds) and ``fallback`` (verbs) override the app's for this hook.
        """
        return self._decorator("call_hook", path, HookKind.CALL, options)

    def action_hook(self, path: str, **options: Unpack[HookOptions]) -> Callable[[H], H]:
        """Register the handler of an action hook: a verb (gather, dial, ...) finished.

        ``deadline`` (seconds) and ``fallback`` (verbs) override the app's for this hook.
        """
        return self._decorator("action_hook", path, HookKind.ACTION, options)

    def status_hook(self, path: str, **options: Unpack[HookOptions]) -> Callable[[H], H]:
        """Register the handler of a call status hook; it is answered 204 at once.

        The handler runs after the answer went out, bounded by ``deadline`` (or the app's).
        """
        return self._decorator("status_hook", path, HookKind.STATUS, options)

    def tool_hook(self, path: str, toolbox: Toolbox | None = None) -> Toolbox:
        """Serve a toolbox's tools to the model of an ``llm`` verb: the tool hook at ``path``.

        Each vendor is answered at its own path, ``<path>/<vendor>`` (``/tools/openai``,
        ``/tools/google``, ``/tools/ultravox``, ``/tools/elevenlabs``, ``/tools/deepgram``),
        since a tool call does not say which vendor made it and each wants its own result
        shape; a verb given ``tools=toolbox`` writes its vendor's path as its ``toolHook``.
        Returns the toolbox (a new one when none is given), to register tools on::

            tools = app.tool_hook("/tools")

            @tools.tool
            async def lookup_order(order_id: str) -> dict[str, str]: ...

        Tools registered after the toolbox is served are served too.
        """
        if toolbox is None:
            toolbox = Toolbox()
        elif not isinstance(toolbox, Toolbox):
            raise TypeError(f"tool_hook serves a Toolbox, not {type(toolbox).__name__}")
        self.add_tool_hook(path, toolbox)
        return toolbox

    def add_tool_hook(self, path: str, toolbox: Toolbox) -> None:
        """Serve ``toolbox`` at the tool hook ``path`` (:meth:`tool_hook` calls this)."""
        raise NotImplementedError

    def include_router(self, router: HookRouter, prefix: str = "") -> None:
        """Serve every hook of ``router``, under ``prefix``."""
        _check_prefix(prefix)
        for path, handler, kind, options in router.hooks:
            self.add_hook(prefix + path, handler, kind, **options)
        for path, toolbox in router.tool_hooks:
            self.add_tool_hook(prefix + path, toolbox)

    def _decorator(self, name: str, path: str, kind: HookKind, options: HookOptions) -> Callable[[H], H]:
        if not isinstance(path, str):
            # ``@app.call_hook`` without parentheses hands the handler over as the path.
            given = getattr(path, "__name__", type(path).__name__)
            raise TypeError(
                f'{name} takes the hook\'s path: write @app.{name}("/{given}"), with parentheses'
                if callable(path)
                else f"{name} takes the hook's path as a string, not {type(path).__name__}"
            )

        def register(handler: H) -> H:
            self.add_hook(path, handler, kind, **options)
            return handler

        return register


class HookRouter(_HookRegistry):
    """A group of hooks, to split a big application across modules.

    Register hooks on it exactly as on the app, then ``app.include_router(router)``::

        billing = HookRouter(prefix="/billing")

        @billing.action_hook("/menu")
        async def menu(result: GatherResult) -> WebhookResponse: ...

        app.include_router(billing)  # serves /billing/menu
    """

    def __init__(self, prefix: str = "") -> None:
        _check_prefix(prefix)
        self.prefix = prefix
        self.hooks: list[tuple[str, Callable[..., Any], HookKind, HookOptions]] = []
        self.tool_hooks: list[tuple[str, Toolbox]] = []

    def add_tool_hook(self, path: str, toolbox: Toolbox) -> None:
        """Serve ``toolbox`` at the tool hook ``path`` once the router is included."""
        _check_hook_path(path)
        self.tool_hooks.append((self.prefix + path, toolbox))

    def add_hook(
        self, path: str, handler: Callable[..., Any], kind: HookKind, **options: Unpack[HookOptions]
    ) -> None:
        """Register ``handler`` for the hook ``path`` (the decorators call this)."""
        # Fail at registration, not on the first call.
        plan_handler(handler, path_params=frozenset(compile_path(self.prefix + path)[2]))
        self.hooks.append((self.prefix + path, handler, kind, options))


class JambonzApp(Starlette, _HookRegistry):
    """An ASGI application serving jambonz webhooks; a Starlette app in every other respect.

    ::

        app = JambonzApp()

        @app.call_hook("/incoming")
        async def incoming(call: CallSession) -> WebhookResponse:
            return WebhookResponse().say(text="Hello").hangup()

    Run it with ``uvicorn module:app``, or mount it in another Starlette or FastAPI application
    (``outer.mount("/voice", app)``): hook references are then written with the ``/voice``
    prefix, since jambonz resolves a relative hook against the host only.

    Args:
        fallback: the verbs answered when a call or action hook handler raises (or a call hook
            answers nothing), so the caller is not left in silence. None answers a plain 500.
        webhook_secret: the account's webhook secret, or several while one is rotated out;
            every hook request must then carry a valid ``Jambonz-Signature`` (401 otherwise).
            None reads ``JAMBONZ_WEBHOOK_SECRET`` (several separated by commas); an empty list
            turns the check off whatever the environment says.
        signature_tolerance: seconds a signature's timestamp may be from the clock, either way.
        allow_unsigned_get: with a secret, accept GET hooks unverified instead of refusing them
            (jambonz signs a GET over a body it does not send, so it cannot be verified).
        basic_auth: ``(username, password)`` that requests must carry; None reads
            ``JAMBONZ_WEBHOOK_USERNAME`` and ``JAMBONZ_WEBHOOK_PASSWORD``.
        insecure: serve hooks with neither a webhook secret nor basic auth. Without either
            (and without this), the app fails closed: it refuses to start, and a hook request
            reaching it anyway (mounted in an app that never starts it) is answered 503. True
            logs a warning at every start. None reads ``JAMBONZ_WEBHOOK_INSECURE`` (``1``).
        api_base_url: the jambonz REST API's address, where ``call.client`` sends
            ``JAMBONZ_API_KEY``; None reads ``JAMBONZ_API_BASE_URL``. Without either, a
            payload's ``api_base_url`` is used only when every request's signature is verified
            (never the address an unauthenticated request names); ``http://`` only to a
            loopback address unless ``JAMBONZ_API_ALLOW_HTTP=1``.
        max_body_size: the largest request body, in bytes (413 beyond it, unread); None for
            no limit.
        max_session_size: bytes of a call hook's payload kept in the call's state for the later
            hooks (64 KiB by default); a larger payload is kept without its largest parts (the
            SIP details first; env_vars and the call's identity last), and a warning says which.
        deduplicate: answer a repeated delivery of a hook (jambonz retries with the same body
            and signature) with the first answer instead of running the handler again: True,
            or a :class:`~jambonz_webhooks.deliveries.DeliveryCache` to size it. It needs a
            webhook secret (ValueError otherwise): only a signed request can be told from a
            new one. Shared by every worker when ``state`` is a Redis store.
        retries: the retry policy jambonz is asked for on every hook the app writes (a path or
            a handler; a URL is written as given): a number of retries (0 to 5, on connection
            errors), or a :class:`~jambonz_webhooks.RetryPolicy`; a hook overrides it with its
            own (:func:`~jambonz_webhooks.hook`). With retries, set ``deduplicate`` too: a retry
            repeats a request the handler may already have answered.
        state: where calls' state lives (:class:`~jambonz_webhooks.CallState`); None: a
            :class:`~jambonz_webhooks.RedisStore` on ``JAMBONZ_REDIS_URL`` when it is set, else
            a :class:`~jambonz_webhooks.MemoryStore` (one worker only).
        env_vars: the application's environment variables: an :class:`~jambonz_webhooks.EnvVars`
            class (typed, injectable), or their declarations by name. The jambonz portal
            discovers them with an ``OPTIONS`` request on the call hook and lets you set them
            per application; the values arrive in the call hook's ``env_vars``.
        opentelemetry: True (or a ``TracerProvider``) for a server span per request through
            Starlette's ``OpenTelemetryMiddleware`` (needs opentelemetry-api: the ``otel`` extra),
            a child of jambonz's own span when it sends a ``traceparent``, with the call_sid,
            the hook and jambonz's trace_id as attributes.
        health_path: a path (``"/health"``) answering ``GET`` with ``{"status": "ok"}`` and 200,
            for a container's or a load balancer's health check; it needs no signature. While
            the process drains before it stops (:mod:`jambonz_webhooks.draining`), it answers
            ``{"status": "draining"}`` and 503.
        deadline: seconds a call or action hook's handler has to answer before the fallback
            answers instead (and the handler is cancelled, or abandoned if it is sync); a status
            hook's handler is cancelled then. None reads ``JAMBONZ_HOOK_DEADLINE``, default 8
            (jambonz gives up on a hook after 10). Each hook may set its own.
        background: the app's settings for hooks that continue in the background
            (:class:`~jambonz_webhooks.Background`: the soft deadline, the filler, the hold
            verbs, the total limit); a hook asks for it with ``background=True``, or its handler
            with a :class:`~jambonz_webhooks.Continuation` parameter.
        prepare_verbs: the verbs the app answers with (``("say", "gather", "hangup")``),
            whose validators are then built when the app starts rather than on the first call
            that uses each (a few milliseconds for the large ones). Import stays lean either way.
        target: the jambonz release the app answers (``"0.9.8"``, ``"11.x"``; see
            :class:`~jambonz_webhooks.targets.Release`): an answer holding a verb or property
            it does not accept fails where it is built, so the fallback answers and the log
            says which and the release that added it. None (the default) accepts the whole
            catalogue and checks nothing. The fallback itself is checked here.
        debug, routes, middleware, exception_handlers, lifespan: as for Starlette.

    """

    def __init__(
        self,
        *,
        fallback: WebhookResponse | Iterable[VerbLike] | None = DEFAULT_FALLBACK,
        webhook_secret: str | Sequence[str] | None = None,
        signature_tolerance: float = DEFAULT_TOLERANCE,
        allow_unsigned_get: bool = False,
        basic_auth: tuple[str, str] | None = None,
        insecure: bool | None = None,
        api_base_url: str | None = None,
        max_body_size: int | None = DEFAULT_MAX_BODY_SIZE,
        max_session_size: int = MAX_SESSION_SIZE,
        deduplicate: bool | DeliveryCache = False,
        retries: int | RetryPolicy | None = None,
        state: StateStore | None = None,
        env_vars: Mapping[str, EnvVar | Mapping[str, Any]] | type[EnvVars] | None = None,
        opentelemetry: bool | Any = False,
        health_path: str | None = None,
        deadline: float | None = None,
        background: Background | None = None,
        prepare_verbs: Iterable[str] = (),
        target: str | Release | None = None,
        debug: bool = False,
        routes: Sequence[BaseRoute] | None = None,
        middleware: Sequence[Middleware] | None = None,
        exception_handlers: Mapping[Any, ExceptionHandler] | None = None,
        lifespan: Lifespan[Any] | None = None,
    ) -> None:
        handlers: dict[Any, ExceptionHandler] = {
            HTTPException: http_exception_handler,
            Exception: server_error_handler,
        }
        handlers.update(exception_handlers or {})
        if opentelemetry is not False:
            middleware = [_opentelemetry(opentelemetry), *(middleware or ())]
        super().__init__(
            debug=debug,
            routes=routes,
            middleware=middleware,
            exception_handlers=handlers,
            lifespan=_framework_lifespan(lifespan, self),
            max_body_size=max_body_size,
        )
        security = HookSecurity.configure(
            webhook_secret=webhook_secret,
            basic_auth=basic_auth,
            tolerance=signature_tolerance,
            allow_unsigned_get=allow_unsigned_get,
            insecure=insecure,
        )
        store = state if state is not None else default_store()
        deliveries = _deliveries(deduplicate, security, store)
        declared = declare(env_vars or {})
        # A copy: appending to one app's fallback must not change another's (or the default).
        self.hook_settings = HookSettings(
            None if fallback is None else WebhookResponse(fallback),
            security=security,
            deliveries=deliveries,
            state=store,
            env_schema=env_schema(declared),
            max_body_size=max_body_size,
            deadline=deadline,
            background=background,
            api=ApiAccess(api_base_url, trust_payloads=security.verifies_all),
            max_session_size=max_session_size,
        )
        self.hook_settings.target = as_release(target)
        if self.hook_settings.target is not None and self.hook_settings.fallback is not None:
            self.hook_settings.target.check(self.hook_settings.fallback.verbs)
        self.hook_settings.retry = retry_policy(retries)
        self.hook_table = HookTable()
        self.prepared_verbs = check_verb_names(prepare_verbs)
        """The verbs whose validators are built when the app starts."""
        # Decided at the first request, when the middleware stack is built for good.
        self._direct: bool | None = None
        if health_path is not None:
            self.add_route(health_path, _health, methods=["GET"], include_in_schema=False)
        self.env_vars: Mapping[str, EnvVar] = declared
        """The declared environment variables (their ``default`` is what to use when one is unset)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a request: a hook straight through its pipeline, anything else as Starlette does.

        A hook request goes through no middleware layer unless the app has middleware of its
        own (then it goes through all of it, as any Starlette route). A body declared too large
        for another route is refused in the framework's JSON shape.
        """
        if scope["type"] == "http":
            direct = self._direct
            if direct is None:
                direct = self._direct = self._decide_direct()
            if direct:
                path = route_path(scope)
                found = self.hook_table.find(path)
                if found is not None:
                    route, params = found
                    scope["app"] = self
                    if params:
                        scope["path_params"] = {**scope.get("path_params", {}), **params}
                    await route.pipeline.serve(scope, receive, send)
                    return
                tool = self.hook_table.tools.get(path)
                if tool is not None:
                    scope["app"] = self
                    await tool.serve(scope, receive, send)
                    return
        elif scope["type"] == "websocket":
            # jambonz's WebSocket API: a socket opened on a call hook's path carries the call (and
            # one on <path>/adulting, a dialed leg become a call of its own).
            path = route_path(scope)
            found = self.hook_table.find(path)
            if found is None and path.endswith("/adulting"):
                found = self.hook_table.find(path.removesuffix("/adulting"))
            if found is not None and found[0].serves_websocket:
                scope["app"] = self
                socket = CallSocket(found[0].pipeline, self.hook_table, self.hook_settings, scope)
                await socket.serve(receive, send)
                return
        limit = self.max_body_size
        if limit is not None and scope["type"] == "http" and _declared_length(scope) > limit:
            # Starlette's RequestBodyLimitMiddleware answers such a request itself, in plain text,
            # whatever the route sent: translate its answer rather than redo its work.
            send = _json_too_large(send, limit)
        await super().__call__(scope, receive, send)

    def _decide_direct(self) -> bool:
        """Whether hook requests may skip the middleware stack: nothing of the user's is in it."""
        handles = self.exception_handlers
        own = handles.get(HTTPException) is not http_exception_handler or any(
            isinstance(key, int) for key in handles
        )
        self.hook_settings.app_handles_http_errors = own
        return not self.user_middleware and not own

    @property
    def fallback(self) -> WebhookResponse | None:
        """The verbs answered when a handler fails (None: a plain 500)."""
        return self.hook_settings.fallback

    @property
    def hooks(self) -> list[HookRoute]:
        """Every webhook route of the app."""
        return [route for route in self.router.routes if isinstance(route, HookRoute)]

    def add_hook(
        self, path: str, handler: Callable[..., Any], kind: HookKind, **options: Unpack[HookOptions]
    ) -> None:
        """Register ``handler`` for the hook ``path`` (the decorators call this)."""
        if any(route.path == path for route in self.hooks) or path in self.hook_table.tools:
            raise ValueError(f"a hook is already registered at {path!r}")
        fallback = options.get("fallback")
        background = options.get("background")
        route = HookRoute(
            path,
            handler,
            kind,
            self.hook_settings,
            deadline=options.get("deadline"),
            fallback=None if fallback is None else WebhookResponse(fallback),
            background=self.hook_settings.background if background is True else background or None,
        )
        warn_of_mismatches(route.plan, kind, self.env_vars)
        self.router.routes.append(route)
        self.hook_table.add(route)
        if route.pipeline.continues and not any(hook.path == RESUME_PATH for hook in self.hooks):
            # The hook jambonz is redirected to while a handler goes on in the background.
            self.add_hook(RESUME_PATH, resume_handler(self.hook_settings), HookKind.ACTION)
        # The first path a handler is registered at is the one verbs refer to.
        self.hook_settings.paths.setdefault(handler, path)

    def on(self, event: str, *, deadline: float | None = None) -> Callable[[H], H]:
        """Register the handler of a notification jambonz sends over a call's socket.

        ``event`` is the message type: ``verb:status``, ``jambonz:error``, ``llm:event``,
        ``llm:tool-call``, ``tts:streaming-event`` or ``tts:tokens-result``. The handler is
        injected as a hook's (the event's model, :class:`~jambonz_webhooks.CallControl`, ...) and
        answers nothing; it runs under ``deadline`` (or the app's). An ``llm:event`` naming a
        hook of the app (the verb's ``eventHook``) goes to that hook instead, as it would over
        HTTP; an
        ``llm:tool-call`` naming a tool hook (``app.tool_hook``) goes to its toolbox, and the
        handler of the others answers with ``CallControl.tool_output``.
        """
        if event not in SOCKET_EVENT_MODELS:
            raise ValueError(
                f"{event!r} is not a notification jambonz sends over a socket: "
                f"one of {', '.join(SOCKET_EVENT_MODELS)}"
            )
        settings = self.hook_settings

        def register(handler: H) -> H:
            if event in settings.events:
                raise ValueError(f"a handler is already registered for {event!r}")
            settings.events[event] = HookPipeline(
                event, handler, HookKind.STATUS, settings, deadline=deadline
            )
            return handler

        return register

    def add_tool_hook(self, path: str, toolbox: Toolbox) -> None:
        """Serve ``toolbox`` at the tool hook ``path`` (:meth:`tool_hook` calls this)."""
        _check_hook_path(path)
        paths = tool_paths(path)
        for taken in paths.values():
            if any(route.path == taken for route in self.hooks) or taken in self.hook_table.tools:
                raise ValueError(f"a hook is already registered at {taken!r}")
        for vendor, taken in paths.items():
            hook = toolbox.hook(vendor)
            route = ToolRoute(taken, hook, self.hook_settings)
            self.router.routes.append(route)
            self.hook_table.tools[taken] = route
            # What a verb given this toolbox writes as its toolHook (the first path serving it).
            self.hook_settings.paths.setdefault(hook, taken)

    def hook_path(self, handler: Callable[..., Any]) -> str:
        """The path (within this app) of the hook served by ``handler``."""
        try:
            return self.hook_settings.paths[handler]
        except KeyError:
            raise LookupError(
                f"{getattr(handler, '__qualname__', handler)!r} serves no hook of this app"
            ) from None


def _deliveries(
    deduplicate: bool | DeliveryCache, security: HookSecurity, store: StateStore
) -> DeliveryCache | None:
    """The app's record of deliveries, fitted to its tolerance and store; None without one."""
    # Not "if not deduplicate": an empty DeliveryCache has a length of 0, so it is falsy.
    if not isinstance(deduplicate, DeliveryCache) and not deduplicate:
        return None
    if not security.signed:
        raise ValueError(
            "deduplicate needs a webhook secret: without a signature nothing tells jambonz's retry "
            "of a request from a new request with the same body (the caller pressing the same digit "
            "again). Set webhook_secret= (or JAMBONZ_WEBHOOK_SECRET), or leave deduplicate off"
        )
    cache = deduplicate if isinstance(deduplicate, DeliveryCache) else DeliveryCache()
    cache.fit(security.tolerance, store)
    return cache


async def _health(request: Request) -> Response:
    """The process answers HTTP (200), or is draining before it stops (503: take it out of service)."""
    if is_draining():
        return Response(b'{"status":"draining"}', 503, media_type="application/json")
    return Response(b'{"status":"ok"}', media_type="application/json")


def _opentelemetry(setting: Any) -> Middleware:
    try:
        from starlette.middleware.opentelemetry import OpenTelemetryMiddleware
    except ImportError:
        raise ImportError(
            "opentelemetry=... needs opentelemetry-api: pip install 'opentelemetry-api>=1.20' (or, in a"
            " clone of jambonz-webhooks, pip install '.[otel]')"
        ) from None
    provider = None if setting is True else setting
    return Middleware(OpenTelemetryMiddleware, tracer_provider=provider)


def _declared_length(scope: Scope) -> int:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else -1
    return -1


def _json_too_large(send: Send, limit: int) -> Send:
    """Wrap ``send`` so that a plain-text 413 goes out as ``{"error": ...}``."""
    body = error_body(too_large_message(limit))
    rewriting = False

    async def send_json(message: Message) -> None:
        nonlocal rewriting
        if message["type"] == "http.response.start" and message["status"] == 413:
            headers = dict(message.get("headers", []))
            rewriting = not headers.get(b"content-type", b"").startswith(b"application/json")
            if rewriting:
                length = b"%d" % len(body)
                message = {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", length)],
                }
        elif message["type"] == "http.response.body" and rewriting:
            if message.get("more_body", False):
                return  # the plain text's next part: the JSON body goes out whole with the last
            message = {"type": "http.response.body", "body": body}
        await send(message)

    return send_json


def _framework_lifespan(lifespan: Lifespan[Any] | None, jambonz_app: JambonzApp) -> Lifespan[Any]:
    """The app's lifespan; when it ends, background work is cancelled and access lines written out."""

    @contextlib.asynccontextmanager
    async def framework(app: Any) -> AsyncIterator[Any]:
        try:
            if lifespan is None:
                _started(jambonz_app)
                yield None
            else:
                async with lifespan(app) as state:
                    _started(jambonz_app)
                    yield state
        finally:
            try:
                await jambonz_app.hook_settings.aclose()
            finally:
                access_log.flush()

    return framework


def _started(app: JambonzApp) -> None:
    """What the app does once it has started: check its protection, build its verbs, freeze."""
    if app.hooks or app.hook_table.tools:
        _check_protected(app.hook_settings.security)
        _check_state_is_shared(app.hook_settings)
    prepare_verbs(*app.prepared_verbs)
    _freeze_startup_objects()


HOW_TO_PROTECT = (
    "set JAMBONZ_WEBHOOK_SECRET (the account's webhook secret) or JAMBONZ_WEBHOOK_USERNAME and "
    "JAMBONZ_WEBHOOK_PASSWORD; to serve without (a local test), set JAMBONZ_WEBHOOK_INSECURE=1 or "
    "JambonzApp(insecure=True)"
)
"""What an app with no authentication is told to do, wherever it is refused."""


class InsecureAppError(RuntimeError):
    """An app with hooks but neither a webhook secret nor basic auth, and not opened explicitly."""


def _check_protected(security: HookSecurity) -> None:
    """Fail closed: refuse to start unprotected, unless opened; then say so at every start."""
    if security.closed:
        raise InsecureAppError(f"refusing to serve jambonz hooks with no authentication: {HOW_TO_PROTECT}")
    if not security.protected:
        logger.warning(
            "hooks are served WITHOUT authentication (insecure): anyone who reaches this server can "
            "act as jambonz; set JAMBONZ_WEBHOOK_SECRET for production"
        )


def _check_state_is_shared(settings: HookSettings) -> None:
    """Warn when several workers each keep calls' state in their own memory: it is lost between them."""
    if not (settings.uses_state or settings.may_continue) or not isinstance(settings.state, MemoryStore):
        return
    workers = serving_workers()
    if workers > 1:
        logger.warning(
            "calls' state is kept in this process's memory, but %d workers serve the app: a call's "
            "later hooks reaching another worker find no state; set %s to share it in Redis",
            workers,
            ENV_REDIS_URL,
        )


def _freeze_startup_objects() -> None:
    """Keep what start-up built (models, validators, routes) out of the garbage collector's sweeps.

    A full collection walks every tracked object: some 100,000 of them once the models are
    built, 60 ms during which no request is answered, a spike in every latency percentile.
    What exists when the app has started lives as long as the process, so it is frozen.
    """
    gc.collect()
    gc.freeze()


def _check_hook_path(path: str) -> None:
    if not isinstance(path, str) or not path.startswith("/") or "{" in path:
        raise ValueError(f"a tool hook's path is a fixed path starting with '/': {path!r}")


def _check_prefix(prefix: str) -> None:
    if prefix and (not prefix.startswith("/") or prefix.endswith("/")):
        raise ValueError(f"a prefix must start with '/' and not end with one: {prefix!r}")
