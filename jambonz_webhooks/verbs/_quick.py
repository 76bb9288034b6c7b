"""The builder's quick path: a verb's fields checked in Python when they are plainly right.

Most verbs an app builds get a few plain values: text, numbers, flags, a hook, a nested say.
The wire validator (``_wire.py``) takes a few microseconds for them, but it walks pydantic-core
code and a validator for every field of the verb (gather has 21), all of which a loaded server
has pushed out of the core's caches since its last request. Under load that made building the
example's four verbs cost some 14 µs a request against 2 µs for the same dicts written by hand
(benchmarks/RESULTS.md). Here each *shape* (the names given, in the order given: the same at a
call site every time) gets a small function of its own, written once from the model's fields:
straight code that checks each value by its exact type, then one dict display in the wire
form's order. A verb then costs about what its dict literal costs. A shape's function is written
the first time the shape is met (0.1-0.4 ms, once per call site and process) and kept, up to
:data:`MAX_SHAPES` a verb.

The quick path never decides anything the wire validator would not decide the same way: it
takes only what it can check exactly (exact built-in types, literals of strings, hooks through
the wire form's own function, nested components it can also take), writes the same dict in the
same order, and raises :class:`Unsure` for anything else (a None, a subclass, a number given as
text, a constraint, an unknown name), which the wire validator then answers. It never refuses.
``tests/test_quick.py`` holds the two to the same results.
"""

from __future__ import annotations

import math
import types
import typing
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal, Protocol, Union

from pydantic import AfterValidator, BaseModel, PlainSerializer, PlainValidator, StrictFloat, StrictInt
from pydantic.fields import FieldInfo

from ..hooks import validate_hook, wire_hook
from ._base import finite_json

__all__ = [
    "MAX_SHAPES",
    "Build",
    "Names",
    "Quick",
    "QuickValidator",
    "Takes",
    "Unsure",
    "is_hook",
    "quick_validator",
    "unsure",
    "without_none",
]

MAX_SHAPES = 64
"""Shapes (names given, in order) a verb keeps a builder for; past them, the wire validator answers."""


class Unsure(Exception):
    """The quick path cannot vouch for these fields: the wire validator decides."""


QuickValidator = Callable[[Mapping[str, Any]], dict[str, Any]]
"""Validates a verb's fields (Python or JSON names) into its wire form, or raises Unsure."""

Names = Callable[[type[BaseModel], str, FieldInfo], tuple[str, str]]
"""The wire form's key of a model's field (its JSON name), and the other name it takes."""

Takes = Callable[[type[BaseModel], tuple[type[BaseModel], ...]], bool]
"""Whether the wire form takes a component (nested in these models) as a dict of its own."""


def unsure(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The quick path of a verb the wire form does not mirror: never sure."""
    raise Unsure


# What a field takes, checked by the value's exact type (a subclass is Unsure).
_STR, _BOOL, _NUMBER, _ANY, _LITERAL, _STRS = range(6)
_LITERALS, _STR_OR_STRS, _DICT, _HOOK, _NESTED, _CONST, _FINITE = range(6, 13)
_FREE, _FREE_DICT = range(13, 15)  # JsonAny and JsonObject: checked for NaN and infinities

# Model settings that do not change what a value validates to: a model with any other (a
# str_strip_whitespace, say, which would make the wire form's value differ from the one given)
# has no quick path. allow_inf_nan is mirrored: set False, NaN and the infinities are Unsure here.
_NEUTRAL_SETTINGS = frozenset(
    {
        "alias_generator",
        "validate_by_name",
        "validate_by_alias",
        "populate_by_name",
        "serialize_by_alias",
        "extra",
        "title",
        "defer_build",
        "frozen",
        "json_schema_extra",
        "protected_namespaces",
        "allow_inf_nan",
        "hide_input_in_errors",
    }
)

_NUMBER_TYPE = StrictInt | StrictFloat  # the verbs' Number, as the annotation pydantic keeps
_FINITE_JSON = AfterValidator(finite_json)  # the check of JsonAny and JsonObject


class _Field:
    """One field of a model: where it goes in the wire form, and how its value is checked."""

    __slots__ = ("arg", "default", "index", "key", "kind")

    def __init__(self, index: int, key: str, kind: int | None, arg: Any, default: Any) -> None:
        self.index = index
        self.key = key  # the JSON name, the wire form's key
        self.kind = kind  # None: not checked here (a value for it is Unsure)
        self.arg = arg
        # When it is not given: _UNSET (nothing written), _UNSURE (required, or a default the
        # wire form makes or copies) or the immutable value the wire form writes.
        self.default = default


_UNSET = object()
_UNSURE = object()
_Step = tuple[str, str, int, Any]  # (the name given, or "" for a default; key; kind; arg)
Build = Callable[[dict[str, Any]], dict[str, Any]]
"""Builds the wire form of fields given in one shape, or raises Unsure."""

# The check of each kind, as code: the value is in ``{v}`` and ends there in its wire form;
# ``{A}`` is the step's argument (a literal's values, a component's quick path).
_CHECKS: dict[int, tuple[str, ...]] = {
    _STR: ("if type({v}) is not str: raise Unsure",),
    _BOOL: ("if type({v}) is not bool: raise Unsure",),
    _NUMBER: ("if type({v}) is not int and type({v}) is not float: raise Unsure",),
    _FINITE: ("if type({v}) is not int and (type({v}) is not float or not isfinite({v})): raise Unsure",),
    _ANY: (),
    _LITERAL: ("if type({v}) is not str or {v} not in {A}: raise Unsure",),
    _STRS: (
        "if type({v}) is not list: raise Unsure",
        "for x in {v}:",
        "    if type(x) is not str: raise Unsure",
        "{v} = list({v})",
    ),
    _LITERALS: (
        "if type({v}) is not list: raise Unsure",
        "for x in {v}:",
        "    if type(x) is not str or x not in {A}: raise Unsure",
        "{v} = list({v})",
    ),
    _STR_OR_STRS: (
        "if type({v}) is not str:",
        "    if type({v}) is not list: raise Unsure",
        "    for x in {v}:",
        "        if type(x) is not str: raise Unsure",
        "    {v} = list({v})",
    ),
    _DICT: (
        "if type({v}) is not dict: raise Unsure",
        "for x in {v}:",
        "    if type(x) is not str: raise Unsure",
        "{v} = dict({v})",
    ),
    _FREE: ("try: finite_json({v})", "except ValueError: raise Unsure from None"),
    _FREE_DICT: (
        "if type({v}) is not dict: raise Unsure",
        "for x in {v}:",
        "    if type(x) is not str: raise Unsure",
        "try: finite_json({v})",
        "except ValueError: raise Unsure from None",
        "{v} = dict({v})",
    ),
    _HOOK: ("try:", "    {v} = wire_hook({v})", "except Exception:", "    raise Unsure from None"),
    # The component's builder for this shape if it has one (one call fewer), else its quick path.
    _NESTED: (
        "if type({v}) is not dict: raise Unsure",
        "b = {A}.builds.get(tuple({v}))",
        "{v} = {A}.quick({v}) if b is None else b({v})",
    ),
}


class _Model:
    """A model's fields by every name they are taken under, and a builder for each shape seen."""

    __slots__ = ("builds", "fields", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        self.fields: dict[str, _Field] = {}
        self.builds: dict[tuple[Any, ...], Build] = {}

    def quick(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """The wire form of ``fields``, or Unsure."""
        if type(fields) is not dict:
            raise Unsure  # a Mapping of another kind is read as pydantic reads it
        shape = tuple(fields)
        build = self.builds.get(shape)
        if build is None:
            # Only shapes it can build are kept (unknown names are no call site's), and only
            # so many: past them, a new shape is the wire validator's, never compiled per call.
            if len(self.builds) >= MAX_SHAPES:
                raise Unsure
            build = self.build(shape)
            if build is None:
                raise Unsure
            self.builds[shape] = build
        return build(fields)

    def plan(self, shape: tuple[Any, ...]) -> list[_Step] | None:
        """The steps that write fields given in this shape, in the wire form's order; None: Unsure."""
        given: dict[int, _Step] = {}
        for name in shape:
            field = self.fields.get(name) if type(name) is str else None
            if field is None or field.kind is None or field.index in given:
                return None  # unknown, not checked here, or given under both its names
            given[field.index] = (name, field.key, field.kind, field.arg)
        steps = dict(given)
        for field in self.fields.values():
            if field.index in given or field.default is _UNSET:
                continue
            if field.default is _UNSURE:
                return None  # the wire validator names what is missing, or makes the default
            steps[field.index] = ("", field.key, _CONST, field.default)
        return [steps[index] for index in sorted(steps)]

    def build(self, shape: tuple[Any, ...]) -> Build | None:
        """A function that checks fields of this shape and writes their wire form, as straight code.

        Each step's check is written out in turn and the result is one dict display, so a
        verb costs about what the dict literal of its wire form costs. Names, keys and values
        are bound in the function's globals, never written into its source. None: Unsure.
        """
        steps = self.plan(shape)
        if steps is None:
            return None
        namespace: dict[str, Any] = {
            "Unsure": Unsure,
            "wire_hook": wire_hook,
            "isfinite": math.isfinite,
            "finite_json": finite_json,
        }
        lines = ["def build(f):"]
        items = []
        for index, (name, key, kind, arg) in enumerate(steps):
            namespace[f"k{index}"] = key
            if kind == _CONST:
                namespace[f"c{index}"] = arg
                items.append(f"k{index}: c{index}")
                continue
            namespace[f"n{index}"] = name
            namespace[f"A{index}"] = arg
            lines.append(f"    v{index} = f[n{index}]")
            lines.extend("    " + line.format(v=f"v{index}", A=f"A{index}") for line in _CHECKS[kind])
            items.append(f"k{index}: v{index}")
        lines.append(f"    return {{{', '.join(items)}}}")
        exec(compile("\n".join(lines), f"<quick {self.name}>", "exec"), namespace)
        build: Build = namespace["build"]
        return build


class Quick(Protocol):
    """The quick path of one model: ``quick(fields)``, and the builders it made by shape."""

    builds: dict[tuple[Any, ...], Build]

    def quick(self, fields: Mapping[str, Any]) -> dict[str, Any]: ...


def quick_validator(model: type[BaseModel], names: Names, takes: Takes) -> Quick:
    """The quick path of ``model``, whose wire form exists, named and nested as the wire form is."""
    return _model(model, (), names, takes)


def _model(model: type[BaseModel], outer: tuple[type[BaseModel], ...], names: Names, takes: Takes) -> _Model:
    """What the quick path knows of ``model``'s fields (``outer``: the models around it)."""
    unknown = set(model.model_config) - _NEUTRAL_SETTINGS
    if unknown:
        raise ValueError(f"{model.__name__}: settings that change values ({', '.join(sorted(unknown))})")
    finite = model.model_config.get("allow_inf_nan", True) is False
    checked = _Model(model.__name__)
    for index, (name, info) in enumerate(model.model_fields.items()):
        if info.exclude:
            continue  # not in the wire form: a value for it is an unknown name here
        key, other = names(model, name, info)
        kind, arg = _kind(info, (*outer, model), names, takes)
        if kind == _NUMBER and finite:
            kind = _FINITE
        if info.is_required():
            default: Any = _UNSURE
        elif info.default is None and info.default_factory is None:
            default = _UNSET
        elif info.default_factory is None and type(info.default) in (str, int, float, bool):
            default = info.default
        else:
            default = _UNSURE
        field = _Field(index, key, kind, arg, default)
        for alias in {key, other}:
            if checked.fields.setdefault(alias, field) is not field:
                raise ValueError(f"{model.__name__}: two fields are taken by the name {alias!r}")
    return checked


def _kind(
    info: FieldInfo, outer: tuple[type[BaseModel], ...], names: Names, takes: Takes
) -> tuple[int | None, Any]:
    """How a field's value is checked here (None: it is not), and what the check needs."""
    annotation = info.annotation
    if info.default is None and info.default_factory is None and not info.is_required():
        annotation = without_none(annotation)  # as the wire form does: None goes to the model
    metadata = list(info.metadata)
    while typing.get_origin(annotation) is Annotated:
        annotation, *more = typing.get_args(annotation)
        metadata = [*more, *metadata]
    if metadata == [_FINITE_JSON]:
        # A free-form value (JsonAny, JsonObject): as the plain type, and checked for NaN.
        kind, _ = _kind_of(annotation, outer, names, takes)
        return {_ANY: (_FREE, None), _DICT: (_FREE_DICT, None)}.get(kind, (None, None))  # type: ignore[arg-type]
    if metadata:
        rules = [item for item in metadata if not is_hook(item) and not isinstance(item, PlainSerializer)]
        # A hook with no rule beyond its own check: the wire form runs wire_hook on it, as here.
        return (_HOOK, None) if any(is_hook(item) for item in metadata) and not rules else (None, None)
    return _kind_of(annotation, outer, names, takes)


def _kind_of(
    annotation: Any, outer: tuple[type[BaseModel], ...], names: Names, takes: Takes
) -> tuple[int | None, Any]:
    if annotation is str:
        return _STR, None
    if annotation is bool:
        return _BOOL, None
    if annotation is Any:
        return _ANY, None
    if annotation == _NUMBER_TYPE:
        return _NUMBER, None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal and args and all(type(arg) is str for arg in args):
        return _LITERAL, frozenset(args)
    if origin is list and len(args) == 1:
        item, values = _kind_of(args[0], outer, names, takes)
        if item == _STR:
            return _STRS, None
        if item == _LITERAL:
            return _LITERALS, values
        return None, None
    if origin is dict and args == (str, Any):
        return _DICT, None
    if origin in (Union, types.UnionType) and set(args) == {str, list[str]}:
        return _STR_OR_STRS, None
    # A component is taken as a dict only where the wire form takes it so (not around itself).
    if (
        isinstance(annotation, type)
        and issubclass(annotation, BaseModel)
        and annotation not in outer
        and takes(annotation, outer)
    ):
        try:
            return _NESTED, _model(annotation, outer, names, takes)
        except ValueError:
            return None, None  # a component the quick path cannot mirror: a value for it is Unsure
    return None, None


def is_hook(item: Any) -> bool:
    """Whether a field's metadata item is the hook check (``HookRef``'s validator)."""
    return isinstance(item, PlainValidator) and item.func is validate_hook


def without_none(annotation: Any) -> Any:
    """``annotation`` without None among its members (``str | None`` -> ``str``)."""
    if typing.get_origin(annotation) not in (Union, types.UnionType):
        return annotation
    args = tuple(arg for arg in typing.get_args(annotation) if arg is not type(None))
    return args[0] if len(args) == 1 else Union[args]  # noqa: UP007 - built at run time
