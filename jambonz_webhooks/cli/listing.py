"""The hooks of an app, read through public objects only: what ``routes`` lists.

The app's routes are walked as Starlette exposes them (``routes``, ``Mount.path``,
``Mount.routes`` and ``Host.routes``, whatever middleware a Mount wraps its app in; an app wrapped
in ASGI middleware, ``GZipMiddleware(app)``, is reached through the wrappers' public ``app``
attribute); each hook is read from the framework's own route objects
(:class:`~jambonz_webhooks.routing.HookRoute`: ``path``, ``kind``, ``handler``, ``methods``,
``serves_websocket``; :class:`~jambonz_webhooks.tools.ToolRoute`: ``path``, ``hook``,
``methods``), and the hooks of one :class:`~jambonz_webhooks.JambonzApp` are told from
another's by the settings they share (``HookRoute.settings``, which also holds the app's socket
event handlers, fallback and target).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Host, Mount

from ..app import JambonzApp
from ..pipeline import HookSettings
from ..routing import HookRoute
from ..tools import ToolRoute
from .report import HookEntry

__all__ = [
    "SOCKET",
    "MountedHooks",
    "find_hooks",
    "handler_name",
    "list_hooks",
    "route_name",
    "routes_of",
    "unwrap",
]

SOCKET = "WS"
"""The METHODS of what arrives over a call's WebSocket (jambonz's WebSocket API), not HTTP."""


@dataclass
class MountedHooks:
    """The hooks of one JambonzApp, and the prefix it is mounted under (the same app twice: twice)."""

    prefix: str
    settings: HookSettings
    """What the app's hooks share: its paths, fallback, target, state and socket event handlers."""
    routes: list[HookRoute | ToolRoute] = field(default_factory=list)
    """Its call, action and status hooks and its tool hooks, in the order the router tries them."""
    app: Any = None
    """The Starlette app its routes belong to: a request's ``scope["app"]``, as Starlette sets it."""
    hosts: tuple[Host, ...] = ()
    """The ``Host`` routes it is under (outermost first): a relative hook is asked of the same host."""

    @property
    def hooks(self) -> list[HookRoute]:
        """Its call, action and status hooks."""
        return [route for route in self.routes if isinstance(route, HookRoute)]


def find_hooks(app: Any, warn: Callable[[str], None] | None = None) -> list[MountedHooks]:
    """Every JambonzApp's hooks in ``app``: its own, or those of apps mounted in it (at any depth).

    An empty list when ``app`` is no JambonzApp and mounts none. Routes that cannot be read (a
    ``routes`` property that raises) are skipped, and ``warn`` is told why.
    """
    found: dict[tuple[int, str, tuple[int, ...]], MountedHooks] = {}
    top = unwrap(app)
    scope_app = top if isinstance(top, Starlette) else None
    if isinstance(top, JambonzApp):
        # Listed even without a hook: it is the app, with nothing registered yet.
        found[(id(top.hook_settings), "", ())] = MountedHooks("", top.hook_settings, app=top)
    _walk(routes_of(top, warn), "", scope_app, (), found, warn)
    return list(found.values())


def unwrap(app: Any) -> Any:
    """``app``, or the app that ASGI middleware wrapping it (``GZipMiddleware(app)``) calls.

    Followed through each wrapper's public ``app`` attribute, down to the first object that has
    ``routes`` (an app or a router).
    """
    seen: set[int] = set()
    while id(app) not in seen:
        seen.add(id(app))
        try:
            if getattr(app, "routes", None) is not None:
                return app
            inner = getattr(app, "app", None)
        except Exception:  # a property that raises: as if absent
            return app
        if inner is None:
            return app
        app = inner
    return app


def routes_of(obj: Any, warn: Callable[[str], None] | None = None) -> Sequence[BaseRoute]:
    """The routes of an app, a router, a Mount or a Host (through middleware); () when it has none.

    A ``routes`` that raises is taken as none, and ``warn`` is told so.
    """
    try:
        routes = getattr(obj, "routes", None)
        if not routes and isinstance(obj, Mount | Host):
            # A Host's routes are its app's own: behind middleware, the app the middleware calls.
            routes = getattr(unwrap(obj.app), "routes", None)
    except Exception as exc:
        if warn is not None:
            what = " ".join(str(exc).split()) or "no message"
            warn(f"{route_name(obj)}: reading its routes raised {type(exc).__name__} ({what}): skipped")
        return ()
    return list(routes) if isinstance(routes, Sequence) else ()


def _walk(
    routes: Sequence[BaseRoute],
    prefix: str,
    app: Any,
    hosts: tuple[Host, ...],
    found: dict[tuple[int, str, tuple[int, ...]], MountedHooks],
    warn: Callable[[str], None] | None,
) -> None:
    for route in routes:
        if isinstance(route, Mount | Host):
            inner = unwrap(route.app)
            # A mounted Starlette app sets scope["app"] to itself; a Mount of routes leaves the outer one.
            inner_app = inner if isinstance(inner, Starlette) else app
            if isinstance(route, Mount):
                _walk(routes_of(route, warn), prefix + route.path, inner_app, hosts, found, warn)
            else:
                _walk(routes_of(route, warn), prefix, inner_app, (*hosts, route), found, warn)
        elif isinstance(route, HookRoute | ToolRoute):
            key = (id(route.settings), prefix, tuple(id(host) for host in hosts))
            mounted = found.get(key)
            if mounted is None:
                mounted = found[key] = MountedHooks(prefix, route.settings, app=app, hosts=hosts)
            mounted.routes.append(route)


def handler_name(handler: Callable[..., Any]) -> str:
    """A handler as ``module.qualname`` (what a partial wraps, for a partial)."""
    while isinstance(handler, functools.partial):
        handler = handler.func
    module = getattr(handler, "__module__", None)
    name = getattr(handler, "__qualname__", None) or type(handler).__qualname__
    return f"{module}.{name}" if module else name


def _tools_name(route: ToolRoute) -> str:
    names = ", ".join(route.hook.toolbox.tools) or "no tool yet"
    return f"{names} ({route.hook.vendor})"


def route_name(route: BaseRoute) -> str:
    """How a reference's ``served_by`` names the route serving it."""
    if isinstance(route, HookRoute):
        return f"{route.kind.value} hook: {route.name}"
    if isinstance(route, ToolRoute):
        return f"tool hook: {route.hook.vendor}"
    if isinstance(route, Host):
        return f"host {route.host}"
    path = getattr(route, "path", None)
    return f"route {path}" if isinstance(path, str) and path else type(route).__name__


def list_hooks(mounted: MountedHooks) -> list[tuple[HookEntry, HookRoute | None]]:
    """The rows of one app's hooks, each with the hook route whose handler ``routes`` runs.

    Each HTTP hook (its methods are the route's own), then, after a call hook, the WebSocket
    endpoint on its path, and last the handlers of notifications over a call's socket
    (``app.on``), named by their message type.
    """
    prefix = mounted.prefix
    rows: list[tuple[HookEntry, HookRoute | None]] = []
    for route in mounted.routes:
        path = prefix + route.path
        if isinstance(route, ToolRoute):
            rows.append((HookEntry(path, "tool", _tools_name(route), list(route.methods)), None))
            continue
        handler = handler_name(route.handler)
        rows.append((HookEntry(path, route.kind.value, handler, list(route.methods)), route))
        if route.serves_websocket:
            rows.append((HookEntry(path, "websocket", handler, [SOCKET]), None))
    for event, pipeline in mounted.settings.events.items():
        where = f"{prefix} {event}" if prefix else event
        rows.append((HookEntry(where, "event", handler_name(pipeline.handler), [SOCKET]), None))
    return rows
