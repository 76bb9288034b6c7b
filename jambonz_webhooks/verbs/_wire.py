"""Validating a verb's fields straight into the dict jambonz receives (its wire form).

A verb built with :class:`~jambonz_webhooks.Response` is validated and then only ever written
out, so making a model instance and serializing it field by field is work the answer does not
need. From each verb model's own core schema this module derives a typed-dict schema with the
same field schemas, keyed by jambonz's JSON names, that leaves unset fields out; its output is
written as plain JSON. The model stays the one description of a verb: nothing here restates a
field.

The wire form is a fast path, never a second opinion. It takes only what it mirrors exactly:
a component with model-level rules stays its model; a None or an excluded field makes it fail,
and then the model validates the same input and answers, with its own error messages or with
a model instance that its serializer writes. ``tests/test_wire.py`` checks that both paths
write the same bytes.

Each verb has two wire validators. Inside a request of an app mounted at the root (the common
case), a path hook needs no rewriting, so a string hook is checked in pydantic-core alone; a
handler or hook object is written out by :func:`~jambonz_webhooks.hooks.wire_hook`. Elsewhere
(mounted under a prefix, or outside a request) every hook goes through ``wire_hook``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from pydantic import BaseModel, ValidationError
from pydantic_core import CoreConfig, SchemaValidator, core_schema

from ..hooks import _validate_hook, current_context, resolve_now, wire_handler_hook, wire_hook
from ._base import Verb

__all__ = ["VerbValidators", "WireValidator", "verb_validators"]

WireValidator = Callable[[Mapping[str, Any]], Any]
"""A validator of a verb's fields (Python or JSON names)."""


class VerbValidators(NamedTuple):
    """How the builder validates one kind of verb (see the module's docstring)."""

    at_root: WireValidator | None
    """The wire form inside a request of an app mounted at the root; None if not mirrored."""
    anywhere: WireValidator | None
    """The wire form anywhere else; None if not mirrored."""
    model: WireValidator
    """The model's own validator: the answer whenever the wire form fails or is absent."""

    def validate(self, fields: Mapping[str, Any]) -> Verb | dict[str, Any]:
        """Validate ``fields`` into the wire form if it takes them, else into the model."""
        if self.anywhere is not None:
            context = current_context.get()
            wire = self.at_root if context is not None and not context.prefix else self.anywhere
            try:
                result: dict[str, Any] = wire(fields)  # type: ignore[misc]
            except ValidationError:
                pass
            else:
                return result
        verb: Verb = self.model(fields)
        return verb


def verb_validators(model: type[Verb]) -> VerbValidators:
    """Derive the wire-form validators of ``model``."""
    at_root = _wire_validator(model, root=True)
    anywhere = _wire_validator(model, root=False) if at_root is not None else None
    return VerbValidators(at_root, anywhere, model.__pydantic_validator__.validate_python)


class _NotMirrored(Exception):
    """The model has something a typed dict would not reproduce exactly."""


def _wire_validator(model: type[Verb], *, root: bool) -> Callable[[Mapping[str, Any]], Any] | None:
    schema: Any = model.__pydantic_core_schema__
    definitions: list[Any] = []
    if schema["type"] == "definitions":
        definitions = schema["definitions"]
        schema = schema["schema"]
    try:
        typed_dict = _typed_dict(schema, root)
    except _NotMirrored:
        return None
    validator_schema: core_schema.CoreSchema = (
        core_schema.definitions_schema(typed_dict, definitions) if definitions else typed_dict
    )
    validate: Callable[[Mapping[str, Any]], Any] = SchemaValidator(
        validator_schema, typed_dict.get("config")
    ).validate_python
    return validate


def _typed_dict(schema: Any, root: bool) -> core_schema.TypedDictSchema:
    """The typed dict mirroring a ``model`` core schema."""
    if schema["type"] != "model" or schema.get("custom_init") or schema.get("post_init"):
        raise _NotMirrored
    if schema.get("root_model"):
        raise _NotMirrored
    cls = schema["cls"]
    decorators = cls.__pydantic_decorators__
    if decorators.model_validators or decorators.model_serializers or decorators.field_serializers:
        raise _NotMirrored
    if decorators.computed_fields:
        raise _NotMirrored
    fields_schema = schema["schema"]
    if fields_schema["type"] != "model-fields" or fields_schema.get("computed_fields"):
        raise _NotMirrored
    config: CoreConfig = dict(schema.get("config", {}))  # type: ignore[assignment]
    if not (config.get("validate_by_name") and config.get("validate_by_alias", True)):
        raise _NotMirrored  # the wire form's keys are the JSON names, accepted as field names
    config["title"] = cls.__name__
    extra = fields_schema.get("extra_behavior") or config.get("extra_fields_behavior") or "ignore"
    if extra != "forbid":
        raise _NotMirrored  # the wire form keeps no extras, and must not drop them silently
    fields: dict[str, core_schema.TypedDictField] = {}
    for name, model_field in fields_schema["fields"].items():
        if model_field.get("serialization_exclude"):
            continue  # validated but never written (a nested say's "verb"): left to the model
        key, field = _typed_dict_field(name, model_field, root)
        fields[key] = field
    return core_schema.typed_dict_schema(fields, extra_behavior="forbid", config=config)


def _typed_dict_field(name: str, field: Any, root: bool) -> tuple[str, core_schema.TypedDictField]:
    if field.get("frozen"):
        raise _NotMirrored
    alias = field.get("validation_alias", name)
    if not isinstance(alias, str):
        raise _NotMirrored
    key: str = field.get("serialization_alias") or name
    schema = field["schema"]
    required = False
    if schema["type"] == "default":
        if schema.get("default") is None and "default_factory" not in schema:
            # Unset and None are the same on the wire: no key. So the wire form takes no None
            # and leaves it to the model, whose serializer leaves it out.
            schema = schema["schema"]
            if schema["type"] == "nullable":
                schema = schema["schema"]
            schema = _rewrite(schema, root)
        else:
            schema = {**schema, "schema": _rewrite(schema["schema"], root)}
    else:
        schema = _rewrite(schema, root)
        required = True
    # The key is the JSON name, so it is accepted as the field's name (validate_by_name); the
    # Python name, when it differs, is the field's alias.
    python_name = name if alias == key else alias
    validation_alias = python_name if python_name != key else None
    return key, core_schema.typed_dict_field(schema, required=required, validation_alias=validation_alias)


def _is_hook(schema: Any) -> bool:
    if schema["type"] == "function-plain":
        return schema["function"].get("function") is _validate_hook
    if schema["type"] in ("function-after", "function-before"):
        return _is_hook(schema["schema"])
    return False


# A path or URL at the root needs no rewriting: checked in pydantic-core, no Python call.
_ROOT_HOOK = core_schema.union_schema(
    [core_schema.str_schema(strict=True), core_schema.no_info_plain_validator_function(wire_handler_hook)],
    mode="left_to_right",
)
_HOOK = core_schema.no_info_plain_validator_function(wire_hook)


def _rewrite(schema: Any, root: bool) -> Any:
    """Copy a field's schema, with nested components in wire form and hooks written out."""
    kind = schema["type"]
    if kind == "model":
        try:
            nested = _typed_dict(schema, root)
        except _NotMirrored:
            return schema  # kept as its model, which writes itself
        # Else the model: it keeps an instance of its own class (written by its serializer),
        # and makes one from a dict the wire form refused or from a subclass's instance.
        as_model = core_schema.no_info_before_validator_function(_as_own_class(schema["cls"]), schema)
        return core_schema.union_schema([nested, as_model], mode="left_to_right")
    if kind == "definition-ref":
        return schema  # a model used in several places: kept, and serialized by itself
    if kind in ("typed-dict", "dataclass", "definitions"):
        raise _NotMirrored  # would be written as a plain dict, without its serializer's rules
    if _is_hook(schema):
        if kind == "function-plain":
            return _ROOT_HOOK if root else _HOOK
        # A rule applied after the hook's own check sees the hook, not its written form.
        checked = {key: value for key, value in schema.items() if key != "serialization"}
        return core_schema.no_info_after_validator_function(resolve_now, checked)
    if "serialization" in schema:
        raise _NotMirrored  # a custom serializer the wire form would skip
    return {
        key: value if key in _NOT_SCHEMAS else _rewrite_part(value, root) for key, value in schema.items()
    }


def _as_own_class(cls: type[BaseModel]) -> Callable[[Any], Any]:
    def own_class(value: Any) -> Any:
        # A Say where a SayPrompt goes: a model field would write it by the field's class (no
        # verb key), but a wire-form dict is written by the value's own class, so convert it.
        if isinstance(value, cls) and type(value) is not cls:
            return {name: getattr(value, name) for name in value.model_fields_set if name in cls.model_fields}
        return value

    return own_class


# Keys whose values are data or description, never a schema to validate with.
_NOT_SCHEMAS = frozenset({"default", "expected", "metadata", "json_schema_input_schema", "ref", "cls"})


def _rewrite_part(value: Any, root: bool) -> Any:
    # Inner schemas sit under many keys (schema, items_schema, choices, steps, ...); any dict
    # with a "type" among them is one.
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return _rewrite(value, root)
    if isinstance(value, list | tuple):
        return type(value)(_rewrite_part(item, root) for item in value)
    if isinstance(value, dict):
        return {key: _rewrite_part(item, root) for key, item in value.items()}
    return value
