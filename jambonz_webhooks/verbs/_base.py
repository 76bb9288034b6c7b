"""What every verb and component model shares: naming, strictness, nesting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

__all__ = ["Component", "Part", "Verb", "jambonz_name"]

# Where jambonz's spelling is not the plain camelCase of the Python name.
_SPECIAL_NAMES = {"from_": "from", "forward_pai": "forwardPAI"}


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
    )


class Verb(Component):
    """Base of every verb model; ``verb`` names it in the JSON jambonz receives."""

    verb_name: ClassVar[str]


T = TypeVar("T")

if TYPE_CHECKING:
    # Type checkers see that a plain dict is welcome wherever a component goes; at run time
    # the field is the model alone, so a dict is validated into it and a typo is an error.
    Part: TypeAlias = T | Mapping[str, Any]
else:

    class Part:
        """``Part[Synthesizer]``: a component, given as its model or as a dict."""

        def __class_getitem__(cls, item: Any) -> Any:
            return item
