"""What every verb and component model shares: naming, strictness, nesting."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, TypeAlias, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = [
    "Component",
    "JsonAny",
    "JsonList",
    "JsonObject",
    "Part",
    "Verb",
    "finite_json",
    "jambonz_name",
    "json_names",
]


def finite_json(value: T) -> T:
    """``value`` itself, if no number in it is NaN or infinite (JSON has neither).

    The check of free-form values (a tag's data, an LLM's options), whose numbers no field
    type bounds: jambonz cannot parse an answer that holds ``NaN``, so it is refused when the
    verb is built, and the hook's fallback answers.

    Raises:
        ValueError: a NaN or an infinity, at any depth.

    """
    pending: list[Any] = [value]
    while pending:  # a loop, not recursion: a deep value must not overflow the stack
        item = pending.pop()
        if type(item) is float or isinstance(item, float):
            if not math.isfinite(item):
                raise ValueError("NaN and infinities are not JSON: jambonz could not read the answer")
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return value


T = TypeVar("T")

# Where jambonz's spelling is not the plain camelCase of the Python name.
_SPECIAL_NAMES = {"from_": "from", "forward_pai": "forwardPAI"}


def json_names(**names: str) -> None:
    """Declare JSON names that are not the camelCase of the Python name (``forward_pai="forwardPAI"``).

    Call it in a model's module before the class that uses the name is defined.
    """
    for name, json_name in names.items():
        known = _SPECIAL_NAMES.setdefault(name, json_name)
        if known != json_name:
            raise ValueError(f"{name!r} is already written {known!r}, not {json_name!r}")


def jambonz_name(name: str) -> str:
    """Return the JSON name jambonz uses for the Python field ``name`` (``num_digits`` -> ``numDigits``)."""
    return _SPECIAL_NAMES.get(name) or to_camel(name)


class Component(BaseModel):
    """Base of the parts verbs are made of (synthesizer, recognizer, target, ...).

    Python names are snake_case and the JSON is jambonz's camelCase; both spellings are
    accepted on input. Unknown fields are an error, so a typo fails when the answer is built
    rather than as silence on a live call.
    """

    model_config = ConfigDict(
        alias_generator=jambonz_name,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="forbid",
        # JSON has no NaN or infinity: jambonz cannot parse an answer that holds one, so such a
        # number is refused when the verb is built, and the hook's fallback answers.
        allow_inf_nan=False,
        # A verb's values are often the caller's (a name, a transcript): an error names the
        # field and the problem, never the value, so that a failing handler logs no caller data.
        hide_input_in_errors=True,
        # Built when first used: an app answers with a few of the verbs, and the builder
        # validates most of those in their wire form, not with the model.
        defer_build=True,
    )

    schema_id: ClassVar[str]
    """Which of jambonz's schemas the model follows (``"verbs/say"``, ``"components/vad"``)."""


class Verb(Component):
    """Base of every verb model; ``verb`` names it in the JSON jambonz receives."""

    verb_name: ClassVar[str]


if TYPE_CHECKING:
    # Type checkers see that a plain dict is welcome wherever a component goes; at run time
    # the field is the model alone, so a dict is validated into it and a typo is an error.
    Part: TypeAlias = T | Mapping[str, Any]
else:

    class Part:
        """``Part[Synthesizer]``: a component, given as its model or as a dict."""

        def __class_getitem__(cls, item: Any) -> Any:
            return item


# Free-form values: anything JSON holds, checked for what JSON cannot hold (NaN, infinities).
JsonAny = Annotated[Any, AfterValidator(finite_json)]
"""Any JSON value."""
JsonObject = Annotated[dict[str, Any], AfterValidator(finite_json)]
"""A JSON object with any values."""
JsonList = Annotated[list[Any], AfterValidator(finite_json)]
"""A JSON array of any values."""
