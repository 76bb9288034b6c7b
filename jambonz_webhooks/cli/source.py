"""The hooks a handler's source names: what ``routes`` reads besides running it (and alone with ``--no-run``).

Kept beside the sample runs for two cases only it catches: a hook written as a constant in a
branch no sample payload takes (a caller's number, a time of day, a value from the call's
state), and ``--no-run``, which lists and checks an app without running any of its code (no
side effects). It reads ``action_hook=...`` keywords and ``"...Hook": ...`` keys whose value is
a constant, a module-level name or a handler, in the handler and in the functions of its own
module it calls (a helper that builds the verbs: one level deep); anything computed is left to
the runs.
"""

from __future__ import annotations

import ast
import functools
import inspect
import textwrap
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..hooks import HookContext, UnroutedHandlerError
from ..routing import HookRoute
from .listing import handler_name
from .references import Checker, is_hook_key, wire_name
from .report import HookEntry, Reference

__all__ = ["check_source", "source_references"]


def source_references(handler: Callable[..., Any], depth: int = 1) -> Iterator[tuple[str, Any]]:
    """Hooks a handler's source names: ``action_hook=...`` keywords and ``"...Hook": ...`` dict keys.

    Each value is given as the Python object it names when it can be found (a string constant,
    a module-level name, a handler); what cannot be known without running the code is skipped.
    The functions of the handler's own module it calls are read too, ``depth`` levels deep.
    """
    while isinstance(handler, functools.partial):
        handler = handler.func
    function = inspect.unwrap(handler)
    if not inspect.isfunction(function):
        return
    try:
        source = textwrap.dedent(inspect.getsource(function))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return
    names: dict[str, Any] = dict(function.__globals__)
    if function.__closure__:
        names.update(inspect.getclosurevars(function).nonlocals)
    # A local (a parameter, say) shadows a global of the same name, and its value is not known.
    code = function.__code__
    for local in (*code.co_varnames, *code.co_cellvars):
        names.pop(local, None)
    helpers: dict[str, Callable[..., Any]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg is not None and is_hook_key(node.arg):
            yield from _values_of(node.arg, node.value, names)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and is_hook_key(key.value):
                    yield from _values_of(str(key.value), value, names)
        elif depth > 0 and isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            called = names.get(node.func.id)
            if (
                inspect.isfunction(called)
                and called.__module__ == function.__module__
                and called is not function
            ):
                helpers[node.func.id] = called
    for helper in helpers.values():
        yield from source_references(helper, depth - 1)


_UNKNOWN = object()


def _evaluate(node: ast.expr, names: Mapping[str, Any]) -> Any:
    """The value of a constant, a name or a dotted name, or ``_UNKNOWN``."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id, _UNKNOWN)
    if isinstance(node, ast.Attribute):
        base = _evaluate(node.value, names)
        return _UNKNOWN if base is _UNKNOWN else getattr(base, node.attr, _UNKNOWN)
    return _UNKNOWN


def _values_of(key: str, node: ast.expr, names: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    if isinstance(node, ast.Dict):
        for item_key, item in zip(node.keys, node.values, strict=True):
            if isinstance(item_key, ast.Constant) and item_key.value == "url":
                yield from _values_of(key, item, names)
        return
    if isinstance(node, ast.IfExp):  # wait_hook=None if host else waiting: either may be sent
        yield from _values_of(key, node.body, names)
        yield from _values_of(key, node.orelse, names)
        return
    if isinstance(node, ast.BoolOp):  # action_hook=custom or default
        for value in node.values:
            yield from _values_of(key, value, names)
        return
    if isinstance(node, ast.Call):
        for keyword in node.keywords:  # HookObject(url=..., method=...)
            if keyword.arg == "url":
                yield from _values_of(key, keyword.value, names)
        return
    value = _evaluate(node, names)
    if value is not _UNKNOWN and value is not None:
        yield key, value


def check_source(checker: Checker, context: HookContext, route: HookRoute, entry: HookEntry) -> None:
    """Check the hooks ``route``'s handler source names, written out with the app's ``context``."""
    for key, value in source_references(route.handler):
        if isinstance(value, str):
            resolved = context.resolve(value)  # write_hook, as the answer's hooks are written
            checker.check(entry.path, entry.handler, key, resolved, "POST", "source")
        elif callable(value) and not isinstance(value, type):
            try:
                resolved = context.resolve(value)
            except UnroutedHandlerError as exc:
                checker.report.add_reference(
                    Reference(
                        entry.path,
                        wire_name(key),
                        handler_name(value),
                        "POST",
                        "unrouted",
                        None,
                        ["source"],
                    )
                )
                checker.report.flag("problem", entry.path, entry.handler, str(exc))
                continue
            checker.check(entry.path, entry.handler, key, resolved, "POST", "source")
