"""The hooks an app's answers name, checked against the routes that would serve them.

Which route serves a hook's URL is asked of the routes themselves, with Starlette's public
``route.matches(scope)`` (the router's rule: the first full match, inside a Mount its app's
routes, else a route whose path matches but not the method); whether it takes the method is
the route's own ``methods`` (a hook's are its pipeline's). A ``Host`` route is entered for the
hooks of the apps under it only: jambonz asks a relative hook of the host that served the answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

from starlette.routing import BaseRoute, Host, Match, Mount
from starlette.types import Scope

from ..injection import HookKind
from ..routing import HookRoute
from .listing import route_name, routes_of, unwrap
from .report import Reference, RoutesReport

__all__ = ["Checker", "find_route", "hook_fields", "is_hook_key", "wire_name"]


def find_route(
    routes: Sequence[BaseRoute], path: str, method: str, hosts: Sequence[Host] = ()
) -> tuple[BaseRoute, bool] | None:
    """The route a request for ``path`` reaches, and whether it takes ``method`` (None: a 404).

    The request is made to the host of each of ``hosts`` (the Host routes the asking hook is under).
    """
    scope: Scope = {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "path_params": {},
        "headers": [],
        "query_string": b"",
    }
    return _find(routes, scope, hosts)


def _find(routes: Sequence[BaseRoute], scope: Scope, hosts: Sequence[Host]) -> tuple[BaseRoute, bool] | None:
    partial: tuple[BaseRoute, bool] | None = None
    for route in routes:
        if isinstance(route, Host):
            # Its host is the request's when the asking hook is under it; no other host matches.
            if any(route is host for host in hosts):
                return _find(routes_of(route), scope, hosts)  # the host's router decides
            continue
        match, child = route.matches(scope)
        if match is Match.FULL:
            mounted = routes_of(route) if isinstance(route, Mount) else ()
            if mounted:
                return _find(mounted, {**scope, **child}, hosts)  # the mounted app's router decides
            # A hook matches on its path alone and answers another method 405 itself.
            methods: Any = getattr(route, "methods", None)
            return route, methods is None or scope["method"] in methods
        if match is Match.PARTIAL and partial is None:
            partial = (route, False)
    return partial


class Checker:
    """Checks the hook references of the JambonzApps of one app, against that app's routes."""

    def __init__(self, top: Any, report: RoutesReport) -> None:
        self.routes: Sequence[BaseRoute] = routes_of(unwrap(top))
        self.report = report
        self.hosts: Sequence[Host] = ()
        """The Host routes of the hooks being checked (set for each app in turn)."""
        self.reached: set[int] = set()
        """The ids of the routes a reference reached: a hook no reference reaches is warned of."""

    def check(
        self,
        hook: str,
        handler: str,
        field_name: str,
        value: Any,
        method: str,
        found_by: Literal["run", "source"],
    ) -> None:
        """Check one reference: ``value`` is a path or URL (already carrying the mount prefix)."""
        if not isinstance(value, str):
            return
        target = value
        field_name = wire_name(field_name)
        status: Literal["ok", "external", "unserved", "unrouted", "invalid"]
        served_by: str | None = None
        problem: str | None = None
        warning: str | None = None
        lowered = target.lower()
        if lowered.startswith(("http://", "https://", "ws://", "wss://")):
            status = "external"
        elif not target.startswith("/"):
            status = "invalid"
            problem = (
                f'{field_name} "{target}" is neither a path starting with "/" nor an absolute URL: '
                "jambonz cannot call it"
            )
        else:
            path = target.split("#", 1)[0].split("?", 1)[0]
            found = find_route(self.routes, path, method, self.hosts)
            if found is None:
                status = "unserved"
                problem = f'{field_name} "{target}": no route of the app serves {path}'
            else:
                route, takes_method = found
                self.reached.add(id(route))
                served_by = route_name(route)
                if not takes_method:
                    status = "unserved"
                    problem = f'{field_name} "{target}": {served_by} does not accept {method}'
                else:
                    status = "ok"
                    if (
                        isinstance(route, HookRoute)
                        and route.kind is HookKind.STATUS
                        and field_name.lower() in ("actionhook", "action_hook")
                    ):
                        warning = (
                            f'{field_name} "{target}" is served by a status hook: it answers 204 without '
                            "verbs, whatever its handler returns"
                        )
        added = self.report.add_reference(
            Reference(hook, field_name, target, method, status, served_by, [found_by])
        )
        if added and problem is not None:
            self.report.flag("problem", hook, handler, problem)
        if added and warning is not None:
            self.report.flag("warning", hook, handler, warning)

    def check_verbs(self, hook: str, handler: str, verbs: Any) -> None:
        """Check every hook field of verbs in their JSON form."""
        for field_name, value in hook_fields(verbs):
            if isinstance(value, Mapping):
                url = value.get("url")
                method = str(value.get("method") or "POST").upper()
                self.check(hook, handler, field_name, url, method, "run")
            else:
                self.check(hook, handler, field_name, value, "POST", "run")


def wire_name(name: str) -> str:
    """A field as jambonz names it: ``action_hook`` (a builder's keyword) -> ``actionHook``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def is_hook_key(key: object) -> bool:
    """Whether a JSON key names a hook (``actionHook``, ``eventHook``, ``action_hook``...)."""
    return isinstance(key, str) and key.lower().endswith("hook")


def hook_fields(value: Any) -> Iterator[tuple[str, Any]]:
    """Every ``(key, value)`` of a JSON value whose key names a hook (``actionHook``, ``eventHook``...)."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if is_hook_key(key) and (isinstance(item, str) or (isinstance(item, Mapping) and "url" in item)):
                yield key, item
            else:
                yield from hook_fields(item)
    elif isinstance(value, list):
        for item in value:
            yield from hook_fields(item)
