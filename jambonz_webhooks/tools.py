"""LLM tools: Python functions the model of an ``llm`` verb may call, and the tool hook that runs them.

::

    tools = Toolbox()

    @tools.tool
    async def lookup_order(order_id: Annotated[str, Field(description="The order number")]) -> dict[str, Any]:
        '''Look up an order by its number.'''
        return {"status": "shipped"}

    app.tool_hook("/tools", tools)             # serves /tools/openai, /tools/google, ...
    WebhookResponse().openai_s2s(llm_options={...}, tools=tools)   # the tools' schemas, and the toolHook

A tool's JSON schema is generated from its signature once, when it is registered (a pydantic
model of its parameters: annotations, defaults, ``Annotated[..., Field(description=...)]``); its
description is its docstring. A verb given the toolbox writes the schemas where its vendor reads
them and its ``toolHook`` to where the app serves the toolbox for that vendor. When the model
calls a tool, jambonz sends the call to that hook (a POST over HTTP, an ``llm:tool-call``
message over WebSocket); the arguments are validated against the tool's model, the function
runs under its timeout, and its result goes back in the shape the vendor's adapter in jambonz
reads. A tool that raises, gets invalid arguments, is unknown or overruns answers an error
result, never silence.

Facts about jambonz come from jambonz-feature-server 0.9.8, ``lib/tasks/llm/`` ("fs" below):
``index.js`` (the tool hook request and answer) and ``llms/*.js`` (each vendor's adapter).
"""

from __future__ import annotations

import asyncio
import copy
import functools
import inspect
import logging
import math
import re
import time
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

import anyio.to_thread
import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.errors import PydanticSchemaGenerationError, PydanticUserError
from pydantic_core import core_schema
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

from .asgi import CLOSE, JSON_HEADERS, RequestHeaders, read_body, send_answer
from .decoding import check_media_type
from .errors import HookError, error_body, too_large_message, within_app_code
from .logs import access_log

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue

    from .pipeline import HookSettings

__all__ = [
    "DEFAULT_TIMEOUT",
    "VENDORS",
    "Tool",
    "ToolCall",
    "ToolError",
    "ToolHook",
    "ToolRoute",
    "Toolbox",
    "tool_paths",
    "vendor_key",
]

logger = logging.getLogger("jambonz_webhooks")

DEFAULT_TIMEOUT = 5.0
"""Seconds a tool has by default. Over HTTP jambonz waits 10 s for the tool hook's answer, then
ends the conversation (fs ``lib/config.js`` HTTP_TIMEOUT, ``llms/*.js`` "client error calling
function"); over WebSocket nothing waits, but the caller hears silence all the while."""

F = TypeVar("F", bound=Callable[..., Any])


class ToolError(Exception):
    """Raise it from a tool to answer the model an error in your own words.

    ``raise ToolError("No order has that number")``: the model gets the message as the tool's
    error result (and can tell the caller). Any other exception answers a generic error, so
    that internals never reach the model; it is logged with its traceback.
    """


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call of a tool, for a tool that asks for it by annotation (``call: ToolCall``).

    Such a parameter is filled in by the framework and is not part of the tool's schema.
    """

    id: str
    """The vendor's id of the call (``tool_call_id``)."""
    name: str
    """The tool called."""
    vendor: str
    """The vendor whose model called it (``openai``, ``google``, ...: a key of :data:`VENDORS`)."""
    call_sid: str | None
    """The jambonz call, when the transport says: over WebSocket it does; over HTTP jambonz sends
    a tool call with no call fields at all (fs ``index.js`` sendToolHook), so it is None."""


# ---------------------------------------------------------------------------------------------
# A tool: its signature read once


# What every vendor takes as a function's name (OpenAI's rule, the strictest of them).
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")

_ARGUMENTS_CONFIG = ConfigDict(
    # A name the model made up is an error it can correct, not an argument silently dropped.
    extra="forbid",
    # The arguments are the caller's words: errors name the field and the problem, not the value.
    hide_input_in_errors=True,
    validate_by_alias=True,
    validate_by_name=False,
)


class Tool:
    """A function registered as a tool: its name, description, JSON schema and how to run it.

    Made by :meth:`Toolbox.tool`; the schema and the arguments' model are built once, here.

    Raises:
        TypeError: a parameter cannot be a tool's (``*args``, positional-only, no annotation, a
            type with no JSON schema, a recursive model); ``timeout`` is not a positive number.

    """

    __slots__ = (
        "arguments",
        "context",
        "description",
        "function",
        "is_async",
        "name",
        "parameters",
        "timeout",
    )

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> None:
        if not callable(function):
            raise TypeError(f"a tool must be a function, not {type(function).__name__}")
        self.function = function
        self.name: str = name or str(getattr(function, "__name__", ""))
        if _NAME.fullmatch(self.name) is None:
            raise TypeError(f"a tool's name is 1 to 64 of A-Z, a-z, 0-9, _ and -: {self.name!r}")
        self.description: str = (
            description if description is not None else inspect.cleandoc(function.__doc__ or "")
        )
        if timeout is not None and not 0 < timeout < math.inf:
            raise TypeError(
                f"tool {self.name}: timeout must be a positive number of seconds, not {timeout!r}"
            )
        self.timeout = timeout
        """Seconds this tool has (None: its toolbox's)."""
        self.is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
            getattr(function, "__call__", None)  # noqa: B004 - an object whose __call__ is async
        )
        self.context: str | None = None
        """The parameter that gets the :class:`ToolCall`, if any."""
        self.arguments: type[BaseModel] = self._model()
        """The model the arguments are validated with (by the parameters' names)."""
        self.parameters: dict[str, Any] = self._schema()
        """The JSON schema of the arguments: an object, with no ``$ref`` (vendors differ on them)."""

    def __repr__(self) -> str:
        return f"Tool({self.name!r})"

    def _model(self) -> type[BaseModel]:
        try:
            signature = inspect.signature(self.function)
            hints = typing.get_type_hints(self.function, include_extras=True)
        except (TypeError, ValueError, NameError) as exc:
            raise TypeError(f"tool {self.name}: its signature cannot be read ({exc})") from None
        fields: dict[str, Any] = {}
        for index, param in enumerate(signature.parameters.values()):
            where = f"tool {self.name}, parameter {param.name!r}"
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise TypeError(f"{where}: *args and **kwargs cannot be a tool's parameters")
            if param.kind is param.POSITIONAL_ONLY:
                raise TypeError(f"{where}: the model passes arguments by name; it cannot be positional-only")
            annotation = hints.get(param.name, inspect.Parameter.empty)
            if _is_tool_call(annotation):
                self.context = param.name
                continue
            if annotation is inspect.Parameter.empty:
                raise TypeError(f"{where}: give it a type annotation (the model needs its JSON schema)")
            default = ... if param.default is param.empty else param.default
            # Internal field names: a parameter called ``json`` or ``model_id`` must not clash
            # with pydantic's own names. The JSON (and the schema) use the parameter's name.
            fields[f"p{index}"] = (annotation, Field(default, alias=param.name))
        try:
            model: type[BaseModel] = create_model(
                f"{self.name}_arguments", __config__=_ARGUMENTS_CONFIG, **fields
            )
        except (PydanticSchemaGenerationError, PydanticUserError, TypeError) as exc:
            raise TypeError(
                f"tool {self.name}: a parameter's type cannot be a tool argument ({exc})"
            ) from None
        return model

    def _schema(self) -> dict[str, Any]:
        try:
            schema = self.arguments.model_json_schema(by_alias=True)
        except PydanticUserError as exc:
            raise TypeError(f"tool {self.name}: a parameter's type has no JSON schema ({exc})") from None
        inlined: dict[str, Any] = _inline(schema, schema.get("$defs", {}), self.name, ())
        inlined.setdefault("properties", {})
        return inlined

    async def run(self, arguments: Mapping[str, Any], call: ToolCall, timeout: float) -> Any:
        """Validate ``arguments``, then run the function under ``timeout`` (this tool's, if it has one).

        A sync function runs in a thread, off the event loop; past the timeout it is abandoned
        (a thread cannot be stopped) and its result dropped.

        Raises:
            pydantic.ValidationError: the arguments do not fit the schema.
            TimeoutError: the function overran.
            Exception: whatever the function raised.

        """
        validated = self.arguments.model_validate(arguments)
        kwargs = {
            field.alias or name: getattr(validated, name)
            for name, field in type(validated).model_fields.items()
        }
        if self.context is not None:
            kwargs[self.context] = call
        limit = self.timeout or timeout
        if self.is_async:
            async with asyncio.timeout(limit):
                return await within_app_code(self.function(**kwargs))
        with anyio.fail_after(limit):
            return await within_app_code(
                anyio.to_thread.run_sync(functools.partial(self.function, **kwargs), abandon_on_cancel=True)
            )


def _is_tool_call(annotation: Any) -> bool:
    """Whether a parameter asks for the call (``ToolCall``, or ``ToolCall | None``)."""
    if annotation is ToolCall:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = set(typing.get_args(annotation)) - {type(None)}
        return members == {ToolCall}
    return False


def _inline(schema: Any, defs: Mapping[str, Any], tool: str, seen: tuple[str, ...]) -> Any:
    """``schema`` with every ``$ref`` replaced by its definition, and without pydantic's titles.

    Vendors differ on ``$ref`` (Gemini takes none), and a title per property is tokens the model
    reads for nothing. A recursive model cannot be written without ``$ref``: it is refused.
    """
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = ref.removeprefix("#/$defs/")
        if name in seen or name not in defs:
            raise TypeError(f"tool {tool}: a recursive type ({name}) cannot be a tool argument")
        out.update(_inline(defs[name], defs, tool, (*seen, name)))
    for key, value in schema.items():
        if key in ("$ref", "$defs", "title"):
            continue
        if key == "properties" and isinstance(value, dict):
            out[key] = {prop: _inline(sub, defs, tool, seen) for prop, sub in value.items()}
        elif key in ("anyOf", "oneOf", "allOf", "prefixItems") and isinstance(value, list):
            out[key] = [_inline(sub, defs, tool, seen) for sub in value]
        elif key in ("items", "additionalProperties", "not"):
            out[key] = _inline(value, defs, tool, seen)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------------------------------------
# Vendors: where each reads the tools, and the result it wants back


def _text(result: Any) -> str:
    """A tool's result as the text most vendors want: a string as it is, anything else as JSON."""
    return result if isinstance(result, str) else pydantic_core.to_json(result).decode()


def _error_text(message: str) -> str:
    return pydantic_core.to_json({"error": message}).decode()


def _at(options: dict[str, Any], *path: str) -> dict[str, Any]:
    """The object at ``path`` in ``options`` (made where missing); ``options`` is already a copy."""
    node = options
    for key in path:
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        elif not isinstance(child, dict):
            raise ValueError(f"llm_options.{'.'.join(path)} must be an object to take the tools")
        node = child
    return node


def _extend(node: dict[str, Any], key: str, items: list[dict[str, Any]], where: str) -> None:
    existing = node.get(key)
    if existing is None:
        existing = []
    elif not isinstance(existing, list):
        raise ValueError(f"llm_options {where} must be a list to take the tools")
    node[key] = [*existing, *items]


class _Vendor:
    """One vendor adapter of fs: the tools' definitions, where they go, the result's shape."""

    name = ""

    def definition(self, tool: Tool) -> dict[str, Any]:
        """The tool as the vendor declares it."""
        raise NotImplementedError

    def place(self, options: dict[str, Any], definitions: list[dict[str, Any]]) -> None:
        """Put the definitions where fs reads them in the verb's ``llmOptions`` (a copy)."""
        raise NotImplementedError

    def output(self, call_id: str, name: str, result: Any, error: str | None) -> dict[str, Any]:
        """The ``llm:tool-output`` data (the tool hook's HTTP answer) for one call."""
        raise NotImplementedError


class _OpenAI(_Vendor):
    name = "openai"

    def definition(self, tool: Tool) -> dict[str, Any]:
        # fs llms/openai_s2s.js _sendInitialMessage: session.update with llmOptions.session_update,
        # whose tools are {type: "function", name, description, parameters} (as its MCP tools).
        return {
            "type": "function",
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
        }

    def place(self, options: dict[str, Any], definitions: list[dict[str, Any]]) -> None:
        _extend(_at(options, "session_update"), "tools", definitions, "session_update.tools")

    def output(self, call_id: str, name: str, result: Any, error: str | None) -> dict[str, Any]:
        # fs openai_s2s.js processToolOutput: only a conversation.item.create is forwarded (then a
        # response.create); the item is a function_call_output whose output is text.
        text = _error_text(error) if error is not None else _text(result)
        return {
            "type": "conversation.item.create",
            "item": {"type": "function_call_output", "call_id": call_id, "output": text},
        }


class _Google(_Vendor):
    name = "google"

    def definition(self, tool: Tool) -> dict[str, Any]:
        # fs llms/google_s2s.js _sendInitialMessage: llmOptions.setup.tools holds
        # {functionDeclarations: [{name, description, parameters}]}, parameters without
        # additionalProperties (fs deletes it from MCP schemas: Gemini's schema has none).
        return {"name": tool.name, "description": tool.description, "parameters": _gemini(tool.parameters)}

    def place(self, options: dict[str, Any], definitions: list[dict[str, Any]]) -> None:
        _extend(_at(options, "setup"), "tools", [{"functionDeclarations": definitions}], "setup.tools")

    def output(self, call_id: str, name: str, result: Any, error: str | None) -> dict[str, Any]:
        # fs google_s2s.js processToolOutput: the data must carry toolResponse, sent as it is.
        return {"toolResponse": {"functionResponses": [self.response(call_id, name, result, error)]}}

    @staticmethod
    def response(call_id: str, name: str, result: Any, error: str | None) -> dict[str, Any]:
        """One function response: Gemini reads ``output``, or ``error`` for a failure."""
        body = {"error": error} if error is not None else {"output": pydantic_core.to_jsonable_python(result)}
        return {"id": call_id, "name": name, "response": body}


def _gemini(schema: Any) -> Any:
    """A JSON schema in Gemini's subset: no ``additionalProperties``; ``X | None`` as ``nullable``."""
    if isinstance(schema, list):
        return [_gemini(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _gemini(value) if key != "properties" else value for key, value in schema.items()}
    out.pop("additionalProperties", None)
    if "properties" in out and isinstance(out["properties"], dict):
        out["properties"] = {name: _gemini(sub) for name, sub in out["properties"].items()}
    branches = out.get("anyOf")
    if isinstance(branches, list) and {"type": "null"} in branches:
        rest = [branch for branch in branches if branch != {"type": "null"}]
        del out["anyOf"]
        if len(rest) == 1 and isinstance(rest[0], dict):
            out = {**rest[0], **out}
        else:
            out["anyOf"] = rest
        out["nullable"] = True
    return out


class _Ultravox(_Vendor):
    name = "ultravox"

    def definition(self, tool: Tool) -> dict[str, Any]:
        # fs llms/ultravox_s2s.js createCall: llmOptions is the body of Ultravox's create-call
        # request, whose selectedTools take {temporaryTool: {modelToolName, description,
        # dynamicParameters, client: {}}}; a client tool is invoked through jambonz. Each
        # parameter is {name, location, schema, required} (docs.ultravox.ai/tools/custom/parameters).
        required = set(tool.parameters.get("required", []))
        parameters = [
            {
                "name": name,
                "location": "PARAMETER_LOCATION_BODY",
                "schema": schema,
                "required": name in required,
            }
            for name, schema in tool.parameters["properties"].items()
        ]
        return {
            "temporaryTool": {
                "modelToolName": tool.name,
                "description": tool.description,
                "dynamicParameters": parameters,
                "client": {},
            }
        }

    def place(self, options: dict[str, Any], definitions: list[dict[str, Any]]) -> None:
        _extend(options, "selectedTools", definitions, "selectedTools")

    def output(self, call_id: str, name: str, result: Any, error: str | None) -> dict[str, Any]:
        # fs ultravox_s2s.js processToolOutput: only a client_tool_result is forwarded; its
        # MCP branch writes {type, invocation_id, result}.
        text = _error_text(error) if error is not None else _text(result)
        return {"type": "client_tool_result", "invocation_id": call_id, "result": text}


class _ElevenLabs(_Vendor):
    name = "elevenlabs"

    def definition(self, tool: Tool) -> dict[str, Any]:
        # ElevenLabs reads an agent's tools from the agent's own configuration (on ElevenLabs),
        # not from the jambonz verb (fs llms/elevenlabs_s2s.js sends none): this is a client
        # tool's entry there, to be added to the agent.
        return {
            "type": "client",
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters,
            "expects_response": True,
        }

    def place(self, options: dict[str, Any], definitions: list[dict[str, Any]]) -> None:
        pass  # the tools are the agent's (above): only the toolHook is set

    def output(self, call_id: str, name: str, result: Any, error: str | None) -> dict[str, Any]:
        # fs elevenlabs_s2s.js processToolOutput reads the event from the data's ``data`` key and
        # forwards only a client_tool_result: {type, tool_call_id, result, is_error} (its MCP branch).
        text = _error_text(error) if error is not None else _text(result)
        return {
            "data": {
                "type": "client_tool_result",
                "tool_call_id": call_id,
                "result": text,
                "is_error": error is not None,
            }
        }


class _Deepgram(_Vendor):
    name = "deepgram"

    def definition(self, tool: Tool) -> dict[str, Any]:
        # fs llms/voice_agent_s2s.js _sendInitialMessage: llmOptions.Settings.agent.think.functions
        # holds {name, description, parameters} (as its MCP tools).
        return {"name": tool.name, "description": tool.description, "parameters": tool.parameters}

    def place(self, options: dict[str, Any], definitions: list[dict[str, Any]]) -> None:
        think = _at(options, "Settings", "agent", "think")
        _extend(think, "functions", definitions, "Settings.agent.think.functions")

    def output(self, call_id: str, name: str, result: Any, error: str | None) -> dict[str, Any]:
        # fs voice_agent_s2s.js processToolOutput reads the event from the data's ``data`` key and
        # forwards only a FunctionCallResponse: {type, id, name, content}.
        text = _error_text(error) if error is not None else _text(result)
        return {"data": {"type": "FunctionCallResponse", "id": call_id, "name": name, "content": text}}


VENDORS: Mapping[str, _Vendor] = {
    vendor.name: vendor for vendor in (_OpenAI(), _Google(), _Ultravox(), _ElevenLabs(), _Deepgram())
}
"""The tool shapes of the vendors jambonz-feature-server 0.9.8 runs, by adapter."""

# The verbs' vendor names, to the adapter that serves them (fs lib/tasks/llm/index.js createSpecificLlm).
_VENDOR_NAMES = {
    "openai": "openai",
    "microsoft": "openai",
    "google": "google",
    "ultravox": "ultravox",
    "elevenlabs": "elevenlabs",
    "deepgram": "deepgram",
    "voiceagent": "deepgram",
}


def vendor_key(vendor: str | None) -> str:
    """The adapter (a key of :data:`VENDORS`) for a verb's ``vendor`` (``"microsoft"`` -> ``"openai"``).

    Raises:
        ValueError: jambonz runs no tools for that vendor (its LLM verbs know no other).

    """
    key = _VENDOR_NAMES.get(vendor or "")
    if key is None:
        known = ", ".join(sorted(_VENDOR_NAMES))
        raise ValueError(f"tools: jambonz runs tools for the vendors {known}; not for {vendor!r}")
    return key


# ---------------------------------------------------------------------------------------------
# The toolbox


class Toolbox:
    """Python functions registered as tools, to give an ``llm`` verb and serve at a tool hook.

    ::

        tools = Toolbox()

        @tools.tool
        def transfer_to_human(reason: str) -> str:
            '''Transfer the caller to a person.'''
            ...

        @tools.tool(name="order", description="Look up an order", timeout=2)
        async def lookup(order_id: str) -> dict[str, Any]: ...

    A tool may be ``async def`` or ``def`` (run in a thread, off the event loop). Its parameters
    are its arguments, described by their annotations (``Annotated[str, Field(description=...)]``,
    ``Literal``, enums, pydantic models, ``X | None``, defaults); a parameter annotated
    :class:`ToolCall` gets the call instead. Its result may be any JSON value (or pydantic
    model); a string is passed as it is.

    Args:
        timeout: seconds a tool has by default (:data:`DEFAULT_TIMEOUT`); a tool's own wins.

    """

    def __init__(self, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        if not 0 < timeout < math.inf:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.timeout = timeout
        self._tools: dict[str, Tool] = {}
        self._hooks: dict[str, ToolHook] = {}

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        # A verb field may hold a toolbox (``Llm(tools=...)``): it is taken as it is.
        return core_schema.is_instance_schema(cls)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"description": "a Toolbox (Python only)"}

    @overload
    def tool(self, function: F, /) -> F: ...
    @overload
    def tool(
        self,
        function: None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> Callable[[F], F]: ...
    def tool(
        self,
        function: F | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> F | Callable[[F], F]:
        """Register a function as a tool: ``@tools.tool``, or ``@tools.tool(name=..., timeout=...)``.

        The name is the function's and the description its docstring unless given. The function
        is returned unchanged (it can still be called directly, in a test).

        Raises:
            TypeError: a parameter cannot be a tool's (see :class:`Tool`).
            ValueError: a tool of that name is already registered.

        """

        def register(function: F) -> F:
            self.add(function, name=name, description=description, timeout=timeout)
            return function

        return register if function is None else register(function)

    def add(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
    ) -> Tool:
        """Register ``function`` as a tool (what :meth:`tool` does), and return the :class:`Tool`."""
        tool = Tool(function, name=name, description=description, timeout=timeout)
        if tool.name in self._tools:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool

    @property
    def tools(self) -> Mapping[str, Tool]:
        """The tools by name, in the order they were registered."""
        return types.MappingProxyType(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"Toolbox({', '.join(self._tools)})"

    def schemas(self, vendor: str) -> list[dict[str, Any]]:
        """The tools as ``vendor``'s model declares them (fresh dicts, yours to change).

        ``openai``/``microsoft``: ``{type: "function", name, description, parameters}``;
        ``google``: the function declarations (a verb wraps them as ``{functionDeclarations}``);
        ``ultravox``: ``{temporaryTool: {...}}`` client tools; ``deepgram``/``voiceagent``:
        ``{name, description, parameters}``; ``elevenlabs``: client tools for the agent's
        configuration on ElevenLabs (jambonz does not send tools to ElevenLabs).

        Raises:
            ValueError: jambonz runs no tools for ``vendor``.

        """
        adapter = VENDORS[vendor_key(vendor)]
        return [copy.deepcopy(adapter.definition(tool)) for tool in self._tools.values()]

    def llm_options(self, vendor: str, options: Mapping[str, Any] | None) -> dict[str, Any]:
        """``options`` (a verb's ``llmOptions``) with the tools added where ``vendor`` reads them.

        What a verb given ``tools=`` does; ``options`` itself is left as it is.

        Raises:
            ValueError: jambonz runs no tools for ``vendor``; the options hold a tool of the same
                name, or something other than an object or list where the tools go.

        """
        adapter = VENDORS[vendor_key(vendor)]
        merged = copy.deepcopy(dict(options or {}))
        adapter.place(merged, self.schemas(vendor))
        _check_unique(merged, vendor)
        return merged

    def hook(self, vendor: str) -> ToolHook:
        """The tool hook answering ``vendor``'s model (one per adapter, made once)."""
        key = vendor_key(vendor)
        found = self._hooks.get(key)
        if found is None:
            found = self._hooks[key] = ToolHook(self, key)
        return found


def _check_unique(options: Mapping[str, Any], vendor: str) -> None:
    """Refuse two tools of one name: the model could not tell them apart."""
    key = vendor_key(vendor)
    if key == "openai":
        tools = options.get("session_update", {}).get("tools", [])
        names = [tool.get("name") for tool in tools if isinstance(tool, dict)]
    elif key == "google":
        names = [
            function.get("name")
            for group in options.get("setup", {}).get("tools", [])
            if isinstance(group, dict)
            for function in group.get("functionDeclarations", [])
            if isinstance(function, dict)
        ]
    elif key == "ultravox":
        names = [
            (tool.get("temporaryTool") or {}).get("modelToolName") or tool.get("toolName")
            for tool in options.get("selectedTools", [])
            if isinstance(tool, dict)
        ]
    elif key == "deepgram":
        think = options.get("Settings", {}).get("agent", {}).get("think", {})
        names = [tool.get("name") for tool in think.get("functions", []) if isinstance(tool, dict)]
    else:
        return
    seen: set[Any] = set()
    for name in names:
        if name is not None and name in seen:
            raise ValueError(f"tools: llm_options already declare a tool named {name!r}")
        seen.add(name)


# ---------------------------------------------------------------------------------------------
# The tool hook: one toolbox answering one vendor


@dataclass(slots=True)
class _Outcome:
    result: Any = None
    error: str | None = None
    how: str = "handler"  # as the access log says it: handler, error, deadline, refused


class ToolHook:
    """A toolbox answering the tool calls of one vendor's model (``toolbox.hook("openai")``).

    :meth:`answer` is the one entry point, whatever the transport: the HTTP route calls it with
    the request's body, the WebSocket with an ``llm:tool-call`` message's data. Calling the
    object is the same as calling :meth:`answer` (it stands for its route in a verb's hooks, as
    a handler function does).
    """

    __slots__ = ("toolbox", "vendor")

    def __init__(self, toolbox: Toolbox, vendor: str) -> None:
        self.toolbox = toolbox
        self.vendor = vendor_key(vendor)

    def __repr__(self) -> str:
        return (
            f"ToolHook({self.toolbox!r}, vendor={self.vendor!r}: serve it with app.tool_hook(path, toolbox))"
        )

    def __call__(  # noqa: D102 - the same as answer()
        self, data: Mapping[str, Any], call_sid: str | None = None
    ) -> Awaitable[tuple[str, dict[str, Any]]]:
        return self.answer(data, call_sid)

    async def answer(
        self, data: Mapping[str, Any], call_sid: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Run the tool a call names and return ``(tool_call_id, output)``, the output in the vendor's shape.

        ``data`` is what jambonz sends for a tool call: ``{tool_call_id, name, args}`` (and for
        google ``{tool_call_id, type: "toolCall", function_calls: [{id, name, args}, ...]}``,
        each run at once, answered together). Over WebSocket, send the output back as the
        ``llm:tool-output`` command with ``tool_call_id`` at its top level; over HTTP it is the
        answer's body. Never raises for the tool: unknown, invalid arguments, an exception or
        a timeout answer an error result (logged with the call_sid, without the arguments).

        Raises:
            ValueError: ``data`` is not a tool call (no usable ``tool_call_id``): there is no
                call to answer.

        """
        output, _ = await self._answer(data, call_sid)
        return output

    async def _answer(
        self, data: Mapping[str, Any], call_sid: str | None
    ) -> tuple[tuple[str, dict[str, Any]], str]:
        """:meth:`answer`, and how it went for the access log."""
        if not isinstance(data, Mapping):
            raise ValueError("a tool call is a JSON object")
        call_id = data.get("tool_call_id")
        if type(call_id) is not str or not call_id or len(call_id) > 256:
            raise ValueError("a tool call needs its tool_call_id")
        adapter = VENDORS[self.vendor]
        if isinstance(adapter, _Google) and "function_calls" in data:
            return await self._google(adapter, call_id, data.get("function_calls"), call_sid)
        name = data.get("name")
        outcome = await self._run(call_id, name, data.get("args"), call_sid)
        shown = name if type(name) is str else ""
        return (call_id, adapter.output(call_id, shown, outcome.result, outcome.error)), outcome.how

    def error_output(self, call_id: str, name: str, error: str) -> dict[str, Any]:
        """The output that tells the model the tool call ``call_id`` failed (in the vendor's shape)."""
        return VENDORS[self.vendor].output(call_id, name, None, error)

    async def _google(
        self, adapter: _Google, call_id: str, calls: Any, call_sid: str | None
    ) -> tuple[tuple[str, dict[str, Any]], str]:
        # fs google_s2s.js: one toolCall event may ask for several functions at once, sent as
        # {tool_call_id: "function_call_id", type: "toolCall", functionCalls} (snake-cased by
        # fs's requestors) and answered with one toolResponse for all of them.
        if not isinstance(calls, list) or not calls or len(calls) > 64:
            raise ValueError("a google tool call needs its function_calls")
        pending: list[tuple[str, Any, Awaitable[_Outcome]]] = []
        for item in calls:
            item = item if isinstance(item, dict) else {}
            given = item.get("id")
            one_id = given if type(given) is str else call_id
            name = item.get("name")
            pending.append((one_id, name, self._run(one_id, name, item.get("args"), call_sid)))
        outcomes = await asyncio.gather(*(run for _, _, run in pending))
        responses = [
            adapter.response(one_id, name if type(name) is str else "", outcome.result, outcome.error)
            for (one_id, name, _), outcome in zip(pending, outcomes, strict=True)
        ]
        how = next((outcome.how for outcome in outcomes if outcome.how != "handler"), "handler")
        return (call_id, {"toolResponse": {"functionResponses": responses}}), how

    async def _run(self, call_id: str, name: Any, args: Any, call_sid: str | None) -> _Outcome:
        tool = self.toolbox._tools.get(name) if type(name) is str else None
        if tool is None:
            _log(logging.WARNING, "unknown tool %.100r", name, call_sid, call_id, self.vendor)
            return _Outcome(
                error=f"there is no tool named {name!r}" if type(name) is str else "no tool named",
                how="refused",
            )
        if args is None:
            args = {}
        if not isinstance(args, dict):
            _log(
                logging.WARNING,
                "tool %s: arguments that are not an object",
                tool.name,
                call_sid,
                call_id,
                self.vendor,
            )
            return _Outcome(error="the arguments must be a JSON object", how="refused")
        call = ToolCall(call_id, tool.name, self.vendor, call_sid)
        try:
            result = await tool.run(args, call, self.toolbox.timeout)
            pydantic_core.to_json(result)  # what cannot be sent is the tool's failure, here
        except ValidationError as exc:
            problems = _problems(exc)
            _log(
                logging.WARNING,
                "tool %s: invalid arguments (%s)",
                tool.name,
                call_sid,
                call_id,
                self.vendor,
                problems,
            )
            return _Outcome(error=f"invalid arguments: {problems}", how="refused")
        except TimeoutError:
            limit = tool.timeout or self.toolbox.timeout
            _log(
                logging.WARNING,
                "tool %s: passed its %.1f s timeout",
                tool.name,
                call_sid,
                call_id,
                self.vendor,
                limit,
            )
            return _Outcome(error=f"the tool {tool.name} took too long", how="deadline")
        except ToolError as exc:
            _log(logging.INFO, "tool %s answered an error", tool.name, call_sid, call_id, self.vendor)
            return _Outcome(error=str(exc) or f"the tool {tool.name} failed", how="error")
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # the server is cancelling this request: let it
            _log(logging.ERROR, "tool %s was cancelled", tool.name, call_sid, call_id, self.vendor)
            return _Outcome(error=f"the tool {tool.name} failed", how="error")
        except Exception as exc:
            _log(logging.ERROR, "tool %s failed", tool.name, call_sid, call_id, self.vendor, exc_info=exc)
            return _Outcome(error=f"the tool {tool.name} failed", how="error")
        return _Outcome(result=result)


def _problems(exc: ValidationError) -> str:
    """What is wrong with the arguments, by name and kind: never the values (the caller's words)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False)[:10]:
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def _log(
    level: int,
    message: str,
    subject: Any,
    call_sid: str | None,
    call_id: str,
    vendor: str,
    *more: Any,
    exc_info: BaseException | None = None,
) -> None:
    logger.log(
        level,
        message + " for call_sid=%s (tool_call_id=%.100r, vendor %s)",
        subject,
        *more,
        call_sid,
        call_id,
        vendor,
        exc_info=exc_info,
        extra={"call_sid": call_sid, "hook_kind": "tool"},
    )


# ---------------------------------------------------------------------------------------------
# Over HTTP: the tool hook's route


class ToolRoute(BaseRoute):
    """The tool hook of one vendor over HTTP: a POST from jambonz, answered with the tool output.

    Checked as every hook is (basic auth, the webhook signature over the exact body, its media
    type and size: the app's security stage), then :meth:`ToolHook.answer` with the body
    (``{tool_call_id, ...}``, no call fields: fs ``index.js`` sendToolHook). The answer is the
    output as JSON, with 200 even when the tool failed (its error result): jambonz ends the
    conversation on any other status.
    """

    methods: tuple[str, ...] = ("POST",)
    """The HTTP methods a tool hook answers (jambonz POSTs a tool call); any other is answered 405."""
    _allow = ((b"allow", ", ".join(methods).encode("ascii")),)

    def __init__(self, path: str, hook: ToolHook, settings: HookSettings) -> None:
        if not path.startswith("/"):
            raise ValueError(f"a hook path must start with '/': {path!r}")
        self.path = path
        self.hook = hook
        self.settings = settings
        self._access_log = access_log.hook("tool", path)

    def __repr__(self) -> str:
        return f"ToolRoute(path={self.path!r}, vendor={self.hook.vendor!r})"

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """The route's own path, any method (a wrong one gets the route's 405)."""
        from .routing import route_path

        if scope["type"] == "http" and route_path(scope) == self.path:
            return Match.FULL, {}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request (the router found it)."""
        await self.serve(scope, receive, send)

    async def answer(
        self, data: Mapping[str, Any], call_sid: str | None = None
    ) -> tuple[str, dict[str, Any]]:
        """:meth:`ToolHook.answer`, with an access line (method ``WS``): the WebSocket's entry point.

        Raises:
            ValueError: ``data`` is not a tool call (see :meth:`ToolHook.answer`).

        """
        started = time.perf_counter()
        output, how = await self.hook._answer(data, call_sid)
        if access_log.enabled():
            answered = time.perf_counter()
            self._access_log.write(
                "WS", self.path, 200, answered - started, call_sid, None, (), how, answered
            )
        return output

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request, start to end; never raises for a bad request."""
        started = time.perf_counter()
        settings = self.settings
        body: bytes | None = None
        how = "handler"
        try:
            if scope["method"] not in self.methods:
                raise HookError(405, "method not allowed", headers=self._allow)
            headers = RequestHeaders(scope["headers"])
            limit = settings.max_body_size
            if limit is not None and headers.content_length > limit:
                raise HookError(413, too_large_message(limit))
            signature = settings.security.authenticate("POST", headers.authorization, headers.signature)
            check_media_type(headers.content_type)
            body = await read_body(receive, limit)
            if signature is not None:
                settings.security.verify_body(signature, body)
            try:
                data = pydantic_core.from_json(body)
            except ValueError:
                raise HookError(400, "the body is not JSON") from None
            if not isinstance(data, dict):
                raise HookError(422, "a tool call is a JSON object")
            try:
                output, how = await self.hook._answer(data, None)
            except ValueError as exc:
                raise HookError(422, str(exc)) from None
        except HookError as exc:
            headers_out = [*JSON_HEADERS, *exc.headers]
            if body is None and scope["method"] == "POST":
                headers_out.extend(CLOSE)  # refused unread: do not wait for the body
            status, answer, how = exc.status_code, error_body(exc.message, exc.fields), "refused"
        except ClientDisconnect:
            return
        else:
            status, headers_out, answer = 200, list(JSON_HEADERS), pydantic_core.to_json(output[1])
        await send_answer(send, status, headers_out, answer)
        if access_log.enabled():
            answered = time.perf_counter()
            self._access_log.write(
                "POST" if scope["method"] == "POST" else str(scope["method"])[:16],
                scope["path"],
                status,
                answered - started,
                None,
                None,
                (),
                how,
                answered,
            )


def tool_paths(path: str, vendors: Iterable[str] = VENDORS) -> dict[str, str]:
    """Where a toolbox served at ``path`` answers each vendor: ``{"openai": "/tools/openai", ...}``."""
    base = path.rstrip("/")
    return {vendor: f"{base}/{vendor}" for vendor in vendors}
