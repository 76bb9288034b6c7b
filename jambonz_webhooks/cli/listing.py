"""The hooks of an app, read through public objects only: what ``routes`` lists.

The app's routes are walked as Starlette exposes them (``routes``, ``Mount.path`` and
``Mount.routes``, whatever middleware a Mount wraps its app in); each hook is read from the
framework's own route objects (:class:`~jambonz_webhooks.routing.HookRoute`: ``path``, ``kind``,
``handler``, ``methods``, ``serves_websocket``; :class:`~jambonz_webhooks.tools.ToolRoute`:
``path``, ``hook``, ``methods``), and the hooks of one :class:`~jambonz_webhooks.JambonzApp` are
told from another's by the settings they share (``HookRoute.settings``, which also holds the
app's socket event handlers, fallback and target).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import BaseRoute, Mount

from ..app import JambonzApp
from ..pipeline import HookSettings
from ..routing import HookRoute
from ..tools import ToolRoute
from .report import HookEntry

__all__ = ["SOCKET", "MountedHooks", "find_hooks", "handler_name", "list_hooks", "route_name"]

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

    @property
    def hooks(self) -> list[HookRoute]:
        """Its call, action and status hooks."""
        return [route for route in self.routes if isinstance(route, HookRoute)]


def find_hooks(app: Any) -> list[MountedHooks]:
    """Every JambonzApp's hooks in ``app``: its own, or those of apps mounted in it (at any depth).

    An empty list when ``app`` is no JambonzApp and mounts none.
    """
    found: dict[tuple[int, str], MountedHooks] = {}
    if isinstance(app, JambonzApp):
        # Listed even without a hook: it is the app, with nothing registered yet.
        found[(id(app.hook_settings), "")] = MountedHooks("", app.hook_settings)
    _walk(getattr(app, "routes", None) or (), "", found)
    return list(found.values())


def _walk(routes: Sequence[BaseRoute], prefix: str, found: dict[tuple[int, str], MountedHooks]) -> None:
    for route in routes:
        if isinstance(route, Mount):
            _walk(route.routes, prefix + route.path, found)
        elif isinstance(route, HookRoute | ToolRoute):
            key = (id(route.settings), prefix)
            mounted = found.get(key)
            if mounted is None:
                mounted = found[key] = MountedHooks(prefix, route.settings)
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
    path = getattr(route, "path", None)
    return f"route {path}" if path else type(route).__name__


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
