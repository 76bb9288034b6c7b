"""From the bytes of a request to payload data: a JSON body, or a query string.

POST hooks carry the payload as a JSON body, validated straight from the bytes by the models (see
``routing``). GET hooks may carry it in the query string (jambonz's webhook docs, github
jambonz/next-static-site ``markdown/docs/webhooks/overview.md``; jambonz-feature-server 0.9.8's
``lib/utils/http-requestor.js`` sends a GET with only the hook URL's own query), where nested
objects come in bracket notation (``sip[headers][X-Foo]=bar``) or as JSON text
(``sip={"headers":{...}}``) and every value is text, coerced later by the models.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import pydantic_core
from pydantic import BaseModel, ValidationError

from .errors import HookError, invalid_json, validation_error
from .payload import CallInfo

__all__ = [
    "MAX_DEPTH",
    "DecodeError",
    "Decoded",
    "JsonShape",
    "PayloadReader",
    "check_media_type",
    "expand_json_values",
    "json_shape",
    "parse_query",
]

MAX_DEPTH = 32
"""Deepest bracket nesting accepted in a query key; jambonz payloads nest four levels at most."""


class DecodeError(ValueError):
    """The request's payload cannot be read; the message says why, for the client."""


def parse_query(query_string: str) -> dict[str, Any]:
    """Parse a query string into nested dicts and lists of text values.

    ``a=1&b[c]=2&d[0][e]=3&f[]=4&f[]=5`` gives
    ``{"a": "1", "b": {"c": "2"}, "d": [{"e": "3"}], "f": ["4", "5"]}``.
    A key that is both a value and an object (``a=1&a[b]=2``) is an error.
    """
    root: dict[str, Any] = {}
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise DecodeError("the query string is not valid UTF-8") from None
    for key, value in pairs:
        path = _split_key(key)
        node: dict[str, Any] = root
        for part in path[:-1]:
            child = _append(node, {}) if part == "" else node.setdefault(part, {})
            if not isinstance(child, dict):
                raise DecodeError(f"query key {key!r} conflicts with a value given before")
            node = child
        last = path[-1]
        if last == "":
            _append(node, value)
        elif last in node:
            raise DecodeError(f"query key {key!r} is given more than once")
        else:
            node[last] = value
    result = _lists_from_indexes(root)
    if not isinstance(result, dict):  # "0=a&1=b" or "[]=a": a list where the payload's fields go
        raise DecodeError("the query string must give named fields, not a list")
    return result


# Where ``a[]=x`` items gather before they become a list: not a string, so no query key can clash.
_LIST_KEY: Any = object()


def _append(node: dict[str, Any], value: Any) -> Any:
    node.setdefault(_LIST_KEY, []).append(value)
    return value


def _is_index(key: str) -> bool:
    return key.isascii() and key.isdigit()


def _split_key(key: str) -> list[str]:
    """``sip[headers][X-Foo]`` -> ``["sip", "headers", "X-Foo"]``; ``f[]`` -> ``["f", ""]``."""
    head, bracket, rest = key.partition("[")
    if not bracket or not rest.endswith("]"):
        return [key]
    parts = rest[:-1].split("][")
    if len(parts) >= MAX_DEPTH:
        raise DecodeError(f"query key nests deeper than {MAX_DEPTH} levels")
    return [head, *parts]


def _lists_from_indexes(node: dict[str, Any]) -> Any:
    """Turn dicts whose keys are all indexes (``0``, ``1``, ...) or ``[]`` items into lists."""
    for key, value in node.items():
        if isinstance(value, dict):
            node[key] = _lists_from_indexes(value)
    items = node.pop(_LIST_KEY, None)
    if items is not None:
        if node:
            raise DecodeError("a query key is used both as a list and as an object")
        return items
    if node and all(_is_index(key) for key in node):
        indexes = sorted(node, key=int)
        if [int(index) for index in indexes] == list(range(len(indexes))):
            return [node[index] for index in indexes]
    return node


JsonShape = dict[str, "JsonShape | None"]
"""For each JSON key of a model whose value is structured: the shape inside (None: a plain dict or list)."""


def json_shape(model: type[BaseModel]) -> JsonShape:
    """Find which keys of ``model`` hold objects or lists, recursively.

    Worked out once per model, when a route is registered.
    """
    shape: JsonShape = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        annotation = field.annotation
        for arg in _flatten(annotation):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                shape[key] = json_shape(arg)
                break
            if typing.get_origin(arg) in (dict, list) or arg in (dict, list):
                shape[key] = None
                break
    return shape


def _flatten(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return [arg for member in typing.get_args(annotation) for arg in _flatten(member)]
    if origin is typing.Annotated:
        return _flatten(typing.get_args(annotation)[0])
    return [annotation]


def expand_json_values(data: dict[str, Any], shape: JsonShape) -> dict[str, Any]:
    """Parse the JSON text a query string gives for structured fields (``sip={"headers":...}``)."""
    for key, inner in shape.items():
        value = data.get(key)
        if isinstance(value, str) and value[:1] in ("{", "["):
            try:
                value = data[key] = json.loads(value)
            except ValueError:
                raise DecodeError(f"query value of {key!r} is not valid JSON") from None
        if inner and isinstance(value, dict):
            expand_json_values(value, inner)
    return data


def check_media_type(content_type: bytes | None) -> None:
    """Refuse a POST whose body is not declared JSON (``application/json`` or ``+json``).

    Raises:
        HookError: 415.

    """
    if content_type is not None:
        media_type = content_type.split(b";", 1)[0].strip().lower()
        if media_type == b"application/json" or (
            media_type.startswith(b"application/") and media_type.endswith(b"+json")
        ):
            return
    raise HookError(415, "the body must be JSON (Content-Type: application/json)")


_GET_HINT = " (jambonz sends GET hooks without the call's details: configure this hook to use POST)"


class Decoded:
    """A request's payload: the models a handler asked for, the raw dict if asked, and the call."""

    __slots__ = ("call", "models", "raw")

    def __init__(
        self, models: dict[type[CallInfo], CallInfo], raw: dict[str, Any] | None, call: CallInfo | None
    ) -> None:
        self.models = models
        self.raw = raw
        self.call = call
        """The payload's call information (its first model), or None when there was no payload."""


def _call_of(body: bytes) -> CallInfo | None:
    """The call a payload describes, if it is a call's payload at all (for the access line)."""
    try:
        return CallInfo.model_validate_json(body, strict=True)
    except ValidationError:
        return None


class PayloadReader:
    """Reads one hook's payload into the models its handler names; built once per hook.

    A JSON body is validated straight from its bytes when one model and no raw dict is wanted
    (parse once); otherwise it is parsed once and each model validated from the dict. A query
    string (a GET hook) is parsed into nested dicts, JSON text in structured fields expanded.

    Args:
        models: the models to validate into, in the handler's order; empty means the body is
            still checked to be a call's payload.
        raw: whether the handler wants the raw payload dict.
        needs_call: whether a query string must be read for the call even when no model is
            named (the call's state needs its call_sid).
        required: whether a request without a payload cannot be served.
        validate_as: a model validated with another (a lenient subclass), kept under its own
            name (a CallSession after the call hook is read as a LaterCallSession).
        call_optional: with no model named, a JSON object that is not a call's payload is
            served too, with no call: jambonz sends some hooks without one (a ``sip:refer``
            eventHook's ``{event, call_status}``), and a handler that names no model and needs
            nothing of the call must get them.

    """

    def __init__(
        self,
        models: tuple[type[CallInfo], ...],
        *,
        raw: bool,
        needs_call: bool,
        required: bool,
        validate_as: Mapping[type[CallInfo], type[CallInfo]] | None = None,
        call_optional: bool = False,
    ) -> None:
        self.validators = {model: (validate_as or {}).get(model, model) for model in models}
        self.call_optional = call_optional and not models
        self.body_models = models or (() if self.call_optional else (CallInfo,))
        # The common case, one model and no raw dict: validated straight from the bytes.
        self.direct = self.body_models[0] if len(self.body_models) == 1 and not raw else None
        self.query_models = models or ((CallInfo,) if needs_call else ())
        self.shapes = {model: json_shape(model) for model in self.query_models}
        self.required = required

    def read(self, body: bytes, query: bytes, is_get: bool) -> Decoded:
        """Decode and validate the payload of a request (its body, else its query string).

        Raises:
            HookError: 400 for a body that is not JSON or a query string that cannot be read,
                422 for a payload that is not a call's (naming the fields).

        """
        hint = _GET_HINT if is_get and not body else ""
        models: dict[type[CallInfo], CallInfo] = {}
        raw: dict[str, Any] | None = None
        try:
            if body:
                direct = self.direct
                if direct is not None:
                    validator = self.validators.get(direct, direct)
                    call = models[direct] = validator.model_validate_json(body, strict=True)
                    return Decoded(models, None, call)
                try:
                    raw = pydantic_core.from_json(body)
                except ValueError as exc:
                    raise invalid_json(str(exc)) from None
                if not isinstance(raw, dict):
                    raise HookError(422, "the payload must be a JSON object")
                # Each model from the text, as the direct path does: strict validation of the
                # parsed dict would refuse what strict JSON takes (an ISO time for a datetime).
                for model in self.body_models:
                    models[model] = self.validators.get(model, model).model_validate_json(body, strict=True)
                if self.call_optional:
                    return Decoded(models, raw, _call_of(body))
            else:
                raw = parse_query(query.decode("latin-1")) if query else {}
                if raw:
                    for model in self.query_models:
                        expand_json_values(raw, self.shapes[model])
                        models[model] = self.validators.get(model, model).model_validate(raw)
                elif self.required:
                    raise HookError(422, "the request carries no payload" + hint)
        except ValidationError as exc:
            raise validation_error(exc, hint=hint) from None
        except DecodeError as exc:
            raise HookError(400, str(exc)) from None
        except RecursionError:
            raise HookError(400, "the payload is nested too deeply") from None
        return Decoded(models, raw, next(iter(models.values()), None))
