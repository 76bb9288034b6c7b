"""Finding a request's hook and running its pipeline; nothing else.

:class:`HookRoute` is the hook as a Starlette route (``url_path_for``, the router when the app
has middleware of its own); :class:`HookTable` finds a hook in constant time for the direct
dispatch of :class:`~jambonz_webhooks.JambonzApp`: a dict for fixed paths, regexes only for
paths with parameters. Either way the request goes to the hook's
:class:`~jambonz_webhooks.pipeline.HookPipeline`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from starlette.convertors import Convertor, FloatConvertor, IntegerConvertor, UUIDConvertor
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound, compile_path, replace_params
from starlette.types import Receive, Scope, Send

from .background import Background
from .injection import HandlerPlan, HookKind
from .pipeline import HookPipeline, HookSettings
from .response import WebhookResponse

if TYPE_CHECKING:
    from .tools import ToolRoute

__all__ = ["HookRoute", "HookSettings", "HookTable", "drop_fragment", "route_path"]


class HookRoute(BaseRoute):
    """A route that serves one jambonz webhook with one handler, over POST and GET."""

    def __init__(
        self,
        path: str,
        handler: Callable[..., Any],
        kind: HookKind,
        settings: HookSettings,
        *,
        deadline: float | None = None,
        fallback: WebhookResponse | None = None,
        background: Background | None = None,
    ) -> None:
        if not path.startswith("/"):
            raise ValueError(f"a hook path must start with '/': {path!r}")
        self.path = path
        self.handler = handler
        self.kind = kind
        self.settings = settings
        self.name = getattr(handler, "__name__", "hook")
        self.path_regex, self.path_format, self.param_convertors = compile_path(path)
        converted = {name: _given_type(convertor) for name, convertor in self.param_convertors.items()}
        self.pipeline = HookPipeline(
            path,
            handler,
            kind,
            settings,
            path_params=converted,
            deadline=deadline,
            fallback=fallback,
            background=background,
        )

    @property
    def plan(self) -> HandlerPlan:
        """What the handler asks for, worked out at registration."""
        return self.pipeline.plan

    @property
    def methods(self) -> tuple[str, ...]:
        """The HTTP methods the hook answers (its pipeline's; any other is answered 405)."""
        return self.pipeline.methods

    @property
    def serves_websocket(self) -> bool:
        """Whether a WebSocket opened on this path carries a call (jambonz's WebSocket API).

        Call hooks only: the app serves a socket opened on a call hook's path (or on
        ``<path>/adulting``, a dialed leg become a call of its own) as that call.
        """
        return self.kind is HookKind.CALL

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Match on the path alone; a wrong method gets the hook's own 405."""
        if scope["type"] != "http":
            return Match.NONE, {}
        params = self.match_path(route_path(scope))
        if params is None:
            return Match.NONE, {}
        path_params = dict(scope.get("path_params", {}))
        path_params.update(params)
        return Match.FULL, {"endpoint": self.handler, "path_params": path_params}

    def match_path(self, path: str) -> dict[str, Any] | None:
        """The path parameters if ``path`` (within the app) is this hook's, else None."""
        match = self.path_regex.match(path)
        if match is None:
            return None
        convertors = self.param_convertors
        return {key: convertors[key].convert(value) for key, value in match.groupdict().items()}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        """The hook's path, found by its handler's name (as Starlette's ``url_path_for``)."""
        seen, expected = set(path_params), set(self.param_convertors)
        if name != self.name or seen != expected:
            raise NoMatchFound(name, path_params)
        path, _ = replace_params(self.path_format, self.param_convertors, path_params)
        return URLPath(path=path, protocol="http")

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one webhook request (the router found it)."""
        await self.pipeline.serve(scope, receive, send)

    def __repr__(self) -> str:
        return f"HookRoute(path={self.path!r}, kind={self.kind.value!r}, handler={self.name!r})"


class HookTable:
    """The hooks of one app by path: a fixed path in one dict lookup, whatever their number."""

    def __init__(self) -> None:
        self.fixed: dict[str, HookRoute] = {}
        self.parametrized: list[HookRoute] = []
        self.status: HookRoute | None = None
        """The first status hook registered: where a status that names no hook goes (WebSocket)."""
        self.tools: dict[str, ToolRoute] = {}
        """The tool hooks by path (``/tools/openai``): over WebSocket, an ``llm:tool-call`` message's
        ``hook`` names one; :meth:`ToolRoute.answer` answers its data."""

    def add(self, route: HookRoute) -> None:
        """Index ``route``."""
        if self.status is None and route.kind is HookKind.STATUS:
            self.status = route
        if route.param_convertors:
            self.parametrized.append(route)
        else:
            self.fixed[route.path] = route

    def find(self, path: str) -> tuple[HookRoute, dict[str, Any]] | None:
        """The hook serving ``path`` (within the app) and its path parameters, or None."""
        route = self.fixed.get(path)
        if route is not None:
            return route, {}
        for route in self.parametrized:
            params = route.match_path(path)
            if params is not None:
                return route, params
        return None


def _given_type(convertor: Convertor[Any]) -> type:
    """The type a path converter gives (``str`` for the default and ``path``, ``object`` if unknown)."""
    for kind, given in ((IntegerConvertor, int), (FloatConvertor, float), (UUIDConvertor, uuid.UUID)):
        if isinstance(convertor, kind):
            return given
    return str if type(convertor).__name__ in ("StringConvertor", "PathConvertor") else object


def route_path(scope: Scope) -> str:
    """The path within the app: what is left after the prefix it is mounted under.

    A fragment the request target carries is cut from the scope first (:func:`drop_fragment`).
    """
    path: str = scope["path"]
    if "#" in path or b"#" in scope["query_string"]:
        path = drop_fragment(scope)
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path) and path[len(root_path) : len(root_path) + 1] in ("/", ""):
        return path[len(root_path) :]
    return path


def drop_fragment(scope: Scope) -> str:
    """Cut a fragment sent inside the request target from ``scope``; return the path without it.

    jambonz sends a relative hook's retry policy on the wire: ``POST /menu#rc=2&rp=all``
    (jambonz-feature-server 0.9.8, ``lib/utils/http-requestor.js``). uvicorn's httptools parser
    drops it; its h11 one (and other servers) leave it at the end of the path, or of the query
    string when there is one. It is cut here, in the scope, so that routing, a GET's query payload
    and the access log all see the target jambonz meant. A ``#`` the server decoded from ``%23``
    is part of the path, and stays.
    """
    query: bytes = scope["query_string"]
    if b"#" in query:  # the first "#" of the target is after "?": the path has no fragment
        scope["query_string"] = query.partition(b"#")[0]
        return str(scope["path"])
    path: str = scope["path"]
    raw: bytes | None = scope.get("raw_path")
    if raw is None:
        path = path.partition("#")[0]
    else:
        if b"#" not in raw:
            return path  # every "#" in the path was sent as %23
        raw, _, fragment = raw.partition(b"#")
        scope["raw_path"] = raw
        # The path is the target decoded: its end is the fragment decoded the same way.
        tail = "#" + unquote(fragment.decode("latin-1"))
        if path.endswith(tail):
            path = path[: -len(tail)]
    scope["path"] = path
    return path
