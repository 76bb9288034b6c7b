"""Application environment variables: declared by the app, set per application in the portal.

The jambonz portal asks the call hook for the declarations with an ``OPTIONS`` request and
shows a form for them; the values come with the call hook's ``env_vars`` (PROTOCOL.md,
section 6). The answer is the bare mapping of names to declarations, with no envelope.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, Self

import pydantic_core
from pydantic import BaseModel, ConfigDict, StrictBool, StrictFloat, StrictInt, StrictStr, model_validator
from pydantic.alias_generators import to_camel

__all__ = ["EnvVar", "declare", "env_schema"]

_NAME = re.compile(r"[A-Za-z0-9_]+")
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "number": (int, float), "boolean": (bool,)}


class EnvVar(BaseModel):
    """One environment variable of the application, as the portal shows and validates it.

    ``EnvVar(description="The name the IVR greets callers with", default="Acme")``
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, validate_by_name=True, validate_by_alias=True
    )

    description: StrictStr
    type: Literal["string", "number", "boolean"] = "string"
    required: StrictBool | None = None
    default: StrictStr | StrictInt | StrictFloat | StrictBool | None = None
    enum: list[StrictStr | StrictInt | StrictFloat] | None = None
    obscure: StrictBool | None = None
    """Shown masked in the portal (a password or an API key)."""
    ui_hint: Literal["input", "textarea", "filepicker"] | None = None
    jambonz_resource: Literal["carriers"] | None = None
    """The portal offers the account's resources of this kind (its carriers) to pick from."""

    @model_validator(mode="after")
    def _values_have_the_type(self) -> Self:
        python_types = _PYTHON_TYPES[self.type]
        values = [] if self.default is None else [self.default]
        for value in [*values, *(self.enum or [])]:
            # bool is an int in Python, but not a number for the portal.
            if not isinstance(value, python_types) or (self.type == "number" and isinstance(value, bool)):
                raise ValueError(f"{value!r} is not a {self.type}")
        if self.enum is not None and self.default is not None and self.default not in self.enum:
            raise ValueError(f"the default {self.default!r} is not one of the enum")
        return self


def declare(env_vars: Mapping[str, EnvVar | Mapping[str, Any]]) -> dict[str, EnvVar]:
    """Check the names and declarations of an app's environment variables.

    Raises:
        ValueError: a name that is not letters, digits and underscores.
        pydantic.ValidationError: a declaration that is not valid.

    """
    declared: dict[str, EnvVar] = {}
    for name, declaration in env_vars.items():
        if not _NAME.fullmatch(name):
            raise ValueError(f"{name!r}: an environment variable's name is letters, digits and underscores")
        declared[name] = (
            declaration if isinstance(declaration, EnvVar) else EnvVar.model_validate(declaration)
        )
    return declared


def env_schema(declared: Mapping[str, EnvVar]) -> bytes:
    """The answer to the portal's discovery request: ``{"NAME": {"type": ..., ...}, ...}``."""
    return pydantic_core.to_json(
        {
            name: var.model_dump(mode="json", by_alias=True, exclude_none=True)
            for name, var in declared.items()
        }
    )
