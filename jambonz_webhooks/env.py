"""Application environment variables: declared by the app, set per application in the portal.

The jambonz portal asks the call hook for the declarations with an ``OPTIONS`` request and shows a
form for them; the values come with the call hook's ``env_vars`` (jambonz-api-server,
``lib/utils/appenv_utils.js`` ``fetchAppEnvSchema`` and ``lib/utils/appenv_schemaSchema.json``).
The answer is the bare mapping of names to declarations, with no envelope.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, Self

import pydantic_core
from pydantic import (
    BaseModel,
    ConfigDict,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

__all__ = ["EnvVar", "EnvVarError", "EnvVars", "declare", "env_schema"]

_NAME = re.compile(r"[A-Za-z0-9_]+")
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "number": (int, float), "boolean": (bool,)}


class EnvVar(BaseModel):
    """One environment variable of the application, as the portal shows and validates it.

    ``EnvVar(description="The name the IVR greets callers with", default="Acme")``
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        defer_build=True,  # built by the first declaration, not at import
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


def declare(env_vars: Mapping[str, EnvVar | Mapping[str, Any]] | type[EnvVars]) -> dict[str, EnvVar]:
    """Check the names and declarations of an app's environment variables (or an EnvVars class's).

    Raises:
        ValueError: a name that is not letters, digits and underscores.
        pydantic.ValidationError: a declaration that is not valid.

    """
    if isinstance(env_vars, type):
        env_vars = env_vars.declarations()
    declared: dict[str, EnvVar] = {}
    for name, declaration in env_vars.items():
        if not _NAME.fullmatch(name):
            raise ValueError(f"{name!r}: an environment variable's name is letters, digits and underscores")
        declared[name] = (
            declaration if isinstance(declaration, EnvVar) else EnvVar.model_validate(declaration)
        )
    return declared


def env_schema(declared: Mapping[str, EnvVar]) -> bytes:
    """The answer to the portal's discovery request: ``{"NAME": {"type": ..., ...}, ...}``.

    The discovery request is unsigned and unauthenticated (jambonz sends it so): an ``obscure``
    variable's default, which is a secret's value, is left out of it. The app still uses it
    when the portal sets no value.
    """
    return pydantic_core.to_json(
        {
            name: var.model_dump(
                mode="json", by_alias=True, exclude_none=True, exclude={"default"} if var.obscure else None
            )
            for name, var in declared.items()
        }
    )


class EnvVarError(ValueError):
    """The call's environment variables do not match their declarations; the message says how."""


class EnvVars(BaseModel):
    """The application's environment variables as a typed object.

    Subclass it, declare each variable as a field, give the class to the app, and ask for it
    in a handler by annotation::

        class Settings(EnvVars):
            COMPANY_NAME: str = Field("Acme", description="Who greets the caller")
            MAX_RETRIES: int = Field(3, description="Menu attempts before hanging up")

        app = JambonzApp(env_vars=Settings)

        @app.action_hook("/menu")
        async def menu(result: GatherResult, env: Settings) -> WebhookResponse: ...

    The portal's discovery request gets the declarations (type from the annotation: ``str``,
    ``int``/``float``, ``bool``, or a ``Literal`` for an enum; ``description``, default and
    whether it is required from the field; ``obscure``, ``ui_hint`` and ``jambonz_resource``
    from ``json_schema_extra``). The values jambonz sends are coerced to the field types
    (``"3"`` to 3, ``"true"`` to True), defaults fill what is unset, and a value that does
    not fit is an :class:`EnvVarError` naming it. On every hook of the call, not only the first.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    @classmethod
    def declarations(cls) -> dict[str, EnvVar]:
        """The portal's view of the fields."""
        declared: dict[str, EnvVar] = {}
        for name, field in cls.model_fields.items():
            kind, enum = _portal_type(name, field.annotation)
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            declared[name] = EnvVar.model_validate(
                {
                    "description": field.description or name,
                    "type": kind,
                    "required": True if field.is_required() else None,
                    "default": None if field.is_required() else field.default,
                    "enum": enum,
                    **{key: extra[key] for key in ("obscure", "ui_hint", "jambonz_resource") if key in extra},
                }
            )
        return declared

    @classmethod
    def from_values(cls, values: Mapping[str, Any] | None) -> Self:
        """The typed variables from the ``env_vars`` jambonz sent.

        Raises:
            EnvVarError: a value that does not fit its declaration, or a required one missing.

        """
        try:
            return cls.model_validate(values or {})
        except ValidationError as exc:
            obscure = {
                name
                for name, field in cls.model_fields.items()
                if isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get("obscure")
            }
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" + _got(error, obscure)
                for error in exc.errors(include_url=False)
            )
            raise EnvVarError(f"the call's env_vars do not match {cls.__name__}: {problems}") from None


def _got(error: Any, obscure: set[str]) -> str:
    """What value a variable was given, for the error: never an obscure one's, and only its start."""
    if error["type"] == "missing" or (error["loc"] and error["loc"][0] in obscure):
        return ""
    shown = repr(error["input"])
    return f" (got {shown[:60]}...)" if len(shown) > 60 else f" (got {shown})"


def _portal_type(
    name: str, annotation: Any
) -> tuple[Literal["string", "number", "boolean"], list[Any] | None]:
    members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(members) == 1:
        annotation = members[0]
    if typing.get_origin(annotation) is Literal:
        values = list(typing.get_args(annotation))
        kinds = {_portal_type(name, type(value))[0] for value in values}
        if len(kinds) != 1:
            raise TypeError(f"env var {name}: a Literal's values must all be of one type")
        return kinds.pop(), values
    if annotation is bool:
        return "boolean", None
    if annotation in (int, float):
        return "number", None
    if annotation is str:
        return "string", None
    raise TypeError(f"env var {name}: jambonz has string, number and boolean variables, not {annotation!r}")
