"""Validating a verb's fields straight into the dict jambonz receives (its wire form).

A verb built with :class:`~jambonz_webhooks.WebhookResponse` is validated and then only ever written
out, so making a model instance and serializing it field by field is work the answer does not
need. From each verb model's public description (``model_fields``: annotation, alias, default,
metadata; ``model_config``) this module derives a ``TypedDict`` with the same field types, keyed
by jambonz's JSON names, that leaves unset fields out, and validates it with a ``TypeAdapter``;
its output is written as plain JSON. The model stays the one description of a verb: nothing here
restates a field.

The wire form is a fast path, never a second opinion. It takes only what it mirrors exactly:
a component with model-level rules stays its model; a None or an excluded field makes it fail,
and then the model validates the same input and answers, with its own error messages or with
a model instance that its serializer writes. ``tests/test_wire.py`` checks that both paths
write the same bytes.

Hooks are validated and kept for the encoder (:func:`~jambonz_webhooks.hooks.wire_hook`), which
writes them with the context of the request answered. A verb's validator is built the first
time the verb is used (:class:`VerbValidator`): an app pays only for the verbs it answers with.
"""

from __future__ import annotations

import collections.abc
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import is_dataclass
from typing import Annotated, Any, Literal, Union

import typing_extensions
from pydantic import (
    AfterValidator,
    AliasGenerator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    RootModel,
    SerializeAsAny,
    TypeAdapter,
    ValidationError,
    WrapSerializer,
    with_config,
)

from ..hooks import pending, validate_hook, wire_hook
from ._base import Verb
from ._quick import Build, QuickValidator, Unsure, is_hook, quick_validator, unsure, without_none

__all__ = ["VerbValidator", "WireValidator", "wire_validator"]

WireValidator = Callable[[Mapping[str, Any]], Any]
"""A validator of a verb's fields (Python or JSON names)."""


class VerbValidator:
    """How the builder validates one kind of verb; built the first time it is used.

    ``quick`` checks plain fields in Python (``_quick.py``), keeping a builder per shape in
    ``builds``, and raises ``Unsure`` for the rest; ``wire`` validates into the wire form where
    the model can be mirrored (``mirrored``), else it is the model's own validator. A
    ValidationError from the wire form is not an answer: the model then validates the same
    fields (see the module's docstring).
    """

    __slots__ = ("builds", "built", "mirrored", "model", "quick", "wire")

    def __init__(self, model: type[Verb]) -> None:
        self.model = model
        self.mirrored = True
        self.built = False
        self.builds: dict[tuple[Any, ...], Build] = {}
        # Until the first use: build the real validators, then stand aside. Two threads may
        # both build them; the second result replaces an identical first one.
        self.quick: QuickValidator = self._build_and_check
        self.wire: WireValidator = self._build_and_validate

    def prepare(self) -> None:
        """Build the validators now (the model's too, if it is not mirrored); once is enough."""
        if self.built:
            return
        wire = wire_validator(self.model)
        if wire is None:
            self.mirrored = False
            wire = self.model.__pydantic_validator__.validate_python
        self.wire = wire
        self.quick = unsure
        if self.mirrored:
            try:
                quick = quick_validator(self.model, field_names, mirrored)
            except ValueError:
                pass  # two fields taken by one name: the wire validator alone knows which is meant
            else:
                self.builds = quick.builds
                self.quick = quick.quick
        self.built = True

    def validate(self, fields: Mapping[str, Any]) -> Verb | dict[str, Any]:
        """Validate ``fields`` into the wire form if it takes them, else into the model."""
        try:
            return self.quick(fields)
        except Unsure:
            return self.checked(fields)

    def checked(self, fields: Mapping[str, Any]) -> Verb | dict[str, Any]:
        """:meth:`validate` without the quick path: pydantic's validators decide."""
        try:
            result: Verb | dict[str, Any] = self.wire(fields)
        except ValidationError:
            if not self.mirrored:
                raise
        else:
            return result
        verb: Verb = self.model.__pydantic_validator__.validate_python(fields)
        return verb

    def _build_and_check(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        self.prepare()
        return self.quick(fields)

    def _build_and_validate(self, fields: Mapping[str, Any]) -> Any:
        self.prepare()
        return self.wire(fields)


def wire_validator(model: type[Verb]) -> WireValidator | None:
    """Derive the wire-form validator of ``model``; None if the model cannot be mirrored exactly."""
    try:
        typed_dict = _typed_dict(model, ())
    except _NotMirrored:
        return None
    # The adapter's validator itself: TypeAdapter.validate_python adds a Python call per verb.
    validate: WireValidator = TypeAdapter(typed_dict).validator.validate_python
    return validate


class _NotMirrored(Exception):
    """The model has something a typed dict would not reproduce exactly."""


# Built at run time from the models, so reached through Any: a type checker would want literals.
_TypedDict: Any = typing_extensions.TypedDict
_Annotated: Any = Annotated
_Union: Any = Union
_Required: Any = typing_extensions.Required
_NotRequired: Any = typing_extensions.NotRequired

# Model settings that change how values are validated, carried over to the typed dict; any
# other setting than these and the ones the typed dict reproduces by construction is unknown
# here, so the model is not mirrored.
_VALUE_SETTINGS = frozenset(
    {
        "str_strip_whitespace",
        "str_to_lower",
        "str_to_upper",
        "str_min_length",
        "str_max_length",
        "strict",
        "coerce_numbers_to_str",
        "use_enum_values",
        "arbitrary_types_allowed",
        "allow_inf_nan",
        "regex_engine",
        "hide_input_in_errors",
    }
)
_REPRODUCED_SETTINGS = frozenset(
    {
        "alias_generator",  # applied to each field's name (_aliases)
        "validate_by_name",
        "validate_by_alias",
        "populate_by_name",
        "serialize_by_alias",  # the typed dict's keys are the JSON names
        "extra",
        "title",
        "defer_build",
        "frozen",  # a model's own immutability; the wire form is written, never changed
        "json_schema_extra",
        "protected_namespaces",
    }
)

# Containers whose items are mapped in place (list[Synthesizer] -> list[its typed dict]).
_CONTAINERS = frozenset(
    {
        list,
        dict,
        tuple,
        set,
        frozenset,
        collections.abc.Sequence,
        collections.abc.Mapping,
        collections.abc.Set,
    }
)

# The typed dict of each model mirrored so far: a component nested in several verbs is derived once.
_derived: dict[type[BaseModel], Any] = {}


def _typed_dict(model: type[BaseModel], outer: tuple[type[BaseModel], ...]) -> Any:
    """The typed dict mirroring ``model`` (``outer``: the models being derived around it)."""
    known = _derived.get(model)
    if known is not None:
        return known
    if model in outer or issubclass(model, RootModel):
        raise _NotMirrored  # a recursive component, or one that is not an object
    decorators = model.__pydantic_decorators__
    # A model validator that acts only on excluded fields (LlmBase's tools=) changes nothing the
    # wire form takes: a verb given such a field fails here and goes to its model, which runs it.
    neutral: frozenset[str] = getattr(model, "excluded_field_validators", frozenset())
    if (
        set(decorators.model_validators) - neutral
        or decorators.field_validators
        or decorators.model_serializers
        or decorators.field_serializers
        or decorators.computed_fields
    ):
        raise _NotMirrored
    if model.__init__ is not BaseModel.__init__ or model.__pydantic_post_init__ is not None:
        raise _NotMirrored
    config = model.model_config
    if not (config.get("validate_by_name") and config.get("validate_by_alias", True)):
        raise _NotMirrored  # the wire form's keys are the JSON names, accepted as field names
    if config.get("extra") != "forbid":
        raise _NotMirrored  # the wire form keeps no extras, and must not drop them silently
    if not set(config) <= _VALUE_SETTINGS | _REPRODUCED_SETTINGS:
        raise _NotMirrored
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if info.exclude:
            continue  # validated but never written (a nested say's "verb"): left to the model
        key, annotation = _field(name, info, config.get("alias_generator"), (*outer, model))
        fields[key] = annotation
    typed_config = ConfigDict(
        extra="forbid", validate_by_name=True, validate_by_alias=True, title=model.__name__
    )
    typed_config.update({key: value for key, value in config.items() if key in _VALUE_SETTINGS})  # type: ignore[typeddict-item]
    typed_dict = with_config(typed_config)(_TypedDict(model.__name__, fields))
    _derived[model] = typed_dict
    return typed_dict


def _aliases(name: str, info: Any, generator: Any) -> tuple[Any, str | None]:
    """The names the field is validated and written by, besides its own (None: its own)."""
    # A generated alias is in model_fields only once the model is built (pydantic < 2.12), and
    # models are built when first used: so the generator is applied here, as pydantic does.
    if generator is not None and (info.alias_priority or 1) <= 1:
        if isinstance(generator, AliasGenerator):
            alias, validation, serialization = generator.generate_aliases(name)
        else:
            alias, validation, serialization = generator(name), None, None
        return validation or alias, serialization or alias
    validation = info.validation_alias if info.validation_alias is not None else info.alias
    return validation, info.serialization_alias or info.alias


def _field(name: str, info: Any, generator: Any, outer: tuple[type[BaseModel], ...]) -> tuple[str, Any]:
    """The typed dict's key and annotation for the model's field ``name``."""
    if info.frozen or info.validate_default or info.discriminator is not None:
        raise _NotMirrored
    if getattr(info, "exclude_if", None) is not None:  # pydantic >= 2.11: excluded by value
        raise _NotMirrored
    key, python_name = _names(name, info, generator)
    settings: dict[str, Any] = {}
    if python_name != key:
        settings["validation_alias"] = python_name
    annotation = info.annotation
    metadata = list(info.metadata)
    if info.is_required():
        marker = _Required
    else:
        marker = _NotRequired
        if info.default is None and info.default_factory is None:
            # Unset and None are the same on the wire: no key. So the wire form takes no None
            # and leaves it to the model, whose serializer leaves it out.
            annotation = without_none(annotation)
        elif info.default_factory is not None:
            settings["default_factory"] = info.default_factory
        else:
            settings["default"] = info.default
    mapped = _mapped(annotation, metadata, outer)
    return key, marker[_Annotated[mapped, Field(**settings)] if settings else mapped]


def _names(name: str, info: Any, generator: Any) -> tuple[str, str]:
    """The typed dict's key for the model's field ``name`` (its JSON name), and its other name."""
    validation, serialization = _aliases(name, info, generator)
    alias = name if validation is None else validation
    if not isinstance(alias, str):
        raise _NotMirrored  # AliasPath, AliasChoices
    key = serialization or name
    # The key is the JSON name, so it is accepted as the field's name (validate_by_name); the
    # Python name, when it differs, is the field's alias.
    return key, name if alias == key else alias


def field_names(model: type[BaseModel], name: str, info: Any) -> tuple[str, str]:
    """The JSON name the wire form writes ``model``'s field under, and the other name it takes."""
    return _names(name, info, model.model_config.get("alias_generator"))


def mirrored(model: type[BaseModel], outer: tuple[type[BaseModel], ...]) -> bool:
    """Whether the wire form takes ``model`` (nested in ``outer``) as a dict of its own."""
    try:
        _typed_dict(model, outer)
    except _NotMirrored:
        return False
    return True


def _mapped(annotation: Any, metadata: list[Any], outer: tuple[type[BaseModel], ...]) -> Any:
    """``annotation`` with ``metadata``, nested components in wire form and hooks kept for the encoder."""
    if typing.get_origin(annotation) is Annotated:
        inner, *more = typing.get_args(annotation)
        return _mapped(inner, [*more, *metadata], outer)
    if any(is_hook(item) for item in metadata):
        # The hook's own check and the rules after it (a URL-only hook) see the hook given;
        # what is kept is the hook for the encoder. The model's serializer goes: the encoder
        # writes a pending hook itself.
        rules = [item for item in metadata if not is_hook(item) and not isinstance(item, PlainSerializer)]
        if not rules:
            return _Annotated[Any, PlainValidator(wire_hook)]
        return _Annotated[(Any, PlainValidator(validate_hook), *rules, AfterValidator(pending))]
    if any(isinstance(item, PlainSerializer | WrapSerializer | SerializeAsAny) for item in metadata):
        raise _NotMirrored  # a custom serializer the wire form would skip
    mapped = _mapped_type(annotation, outer)
    return _Annotated[(mapped, *metadata)] if metadata else mapped


def _mapped_type(annotation: Any, outer: tuple[type[BaseModel], ...]) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return _component(annotation, outer)
    if origin in (Union, types.UnionType):
        return _Union[tuple(_mapped(arg, [], outer) for arg in args)]
    if origin is Literal or not args:
        if typing_extensions.is_typeddict(annotation) or is_dataclass(annotation):
            raise _NotMirrored  # would be written as a plain dict, without its serializer's rules
        return annotation
    if origin in _CONTAINERS:
        mapped = tuple(arg if arg is Ellipsis else _mapped(arg, [], outer) for arg in args)
        return origin[mapped]
    raise _NotMirrored  # a generic this module does not know how to map


def _component(model: type[BaseModel], outer: tuple[type[BaseModel], ...]) -> Any:
    """A nested component: its wire form if it has one, else (or when that refuses) its model."""
    # The model validates through its own validator, reached when needed: the wire form's
    # schema does not carry a copy of it, and a component no answer uses is never built.
    as_model = _Annotated[Any, PlainValidator(_as_model(model))]
    try:
        typed_dict = _typed_dict(model, outer)
    except _NotMirrored:
        return as_model  # kept as its model, which writes itself
    # The model keeps an instance of its own class (written by its serializer), and makes one
    # from a dict the wire form refused or from a subclass's instance.
    return _Annotated[_Union[typed_dict, as_model], Field(union_mode="left_to_right")]


def _as_model(cls: type[BaseModel]) -> Callable[[Any], Any]:
    def as_model(value: Any) -> Any:
        # A Say where a SayPrompt goes: a model field would write it by the field's class (no
        # verb key), but a wire-form dict is written by the value's own class, so convert it.
        if isinstance(value, cls) and type(value) is not cls:
            fields = cls.model_fields
            value = {name: getattr(value, name) for name in value.model_fields_set if name in fields}
        return cls.__pydantic_validator__.validate_python(value)

    return as_model
