"""Error answers: short JSON, never a traceback or an internal detail."""

from __future__ import annotations

import http
from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeVar

import pydantic_core
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "AppExit",
    "CallEndedError",
    "CommandUnavailable",
    "HookError",
    "TokensRefused",
    "error_body",
    "error_response",
    "http_error",
    "http_exception_handler",
    "invalid_json",
    "server_error_handler",
    "too_large_message",
    "validation_error",
    "within_app_code",
]

T = TypeVar("T")


class AppExit(Exception):
    """The app's code raised SystemExit or KeyboardInterrupt: a failure of that code, not a stop.

    Raised in their place where the framework runs a handler, a tool or a call's task, so that
    they fail like any other exception (logged with the call_sid; a hook answers its fallback)
    instead of ending the event loop, as asyncio lets them do from a task.
    """

    @classmethod
    def of(cls, exc: BaseException) -> AppExit:
        """The failure that stands for ``exc``."""
        return cls(f"the app's code raised {type(exc).__name__}")


async def within_app_code(awaitable: Awaitable[T]) -> T:
    """Await the app's code, with SystemExit and KeyboardInterrupt raised as :class:`AppExit`."""
    try:
        return await awaitable
    except (SystemExit, KeyboardInterrupt) as exc:
        raise AppExit.of(exc) from exc


class HookError(Exception):
    """A request the framework refuses: its status code and the short message the client gets."""

    def __init__(
        self,
        status_code: int,
        message: str,
        fields: list[dict[str, str]] | None = None,
        headers: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.fields = fields
        self.headers = headers
        """Raw headers the answer carries besides its content type (``WWW-Authenticate``, ``Allow``)."""


def error_body(message: str, fields: list[dict[str, str]] | None = None) -> bytes:
    """``{"error": message}``, with the offending fields when there are some."""
    data: dict[str, Any] = {"error": message}
    if fields:
        data["fields"] = fields
    return pydantic_core.to_json(data)


def error_response(
    status_code: int,
    message: str,
    fields: list[dict[str, str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A JSON error response."""
    return Response(
        error_body(message, fields), status_code=status_code, headers=headers, media_type="application/json"
    )


def too_large_message(limit: int) -> str:
    """What a 413 says, however the size was found out (declared or counted while reading)."""
    return f"the body is larger than {limit} bytes"


def invalid_json(reason: str) -> HookError:
    """A 400 for a body that is not JSON, saying so; a body nested too deep is named as such.

    pydantic-core's parser refuses nesting deeper than 200 levels (a call's payload has fewer
    than 10), so the depth is bounded before any Python object is built.
    """
    if "recursion limit" in reason:
        return HookError(400, "the body's JSON is nested too deeply")
    return HookError(400, "the body is not valid JSON")


_NOT_AN_OBJECT = frozenset({"model_type", "model_attributes_type", "dict_type"})


def validation_error(exc: ValidationError, *, hint: str = "") -> HookError:
    """Turn a payload's validation errors into a 400 (not JSON) or a 422 naming the fields.

    Only the location and pydantic's message are kept: never the input, which may be huge or hostile.
    """
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    for error in errors:
        if error["type"] == "json_invalid":
            return invalid_json(error["msg"])
        if not error["loc"] and error["type"] in _NOT_AN_OBJECT:
            return HookError(422, "the payload must be a JSON object")
    fields = [
        {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in errors[:20]
    ]
    names = ", ".join(sorted({field["field"] for field in fields}))
    return HookError(422, f"invalid payload: {names}{hint}", fields)


def http_error(exc: HTTPException) -> HookError:
    """An HTTPException (Starlette's own, or a handler's) as a refusal in the framework's shape."""
    message = str(exc.detail)
    if message == http.HTTPStatus(exc.status_code).phrase:
        message = message.lower()  # "Not Found" -> "not found", like our own messages
    headers = [(key.encode("latin-1"), value.encode("latin-1")) for key, value in (exc.headers or {}).items()]
    return HookError(exc.status_code, message, headers=headers)


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Answer Starlette's own HTTP errors (404, 405, ...) in the same JSON shape."""
    assert isinstance(exc, HTTPException)
    if exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    limit = request.scope.get(MAX_BODY_SIZE_SCOPE_KEY)
    if exc.status_code == 413 and isinstance(limit, int):
        # The body-limit middleware's, said as for a declared length.
        return error_response(413, too_large_message(limit), headers=exc.headers)
    return error_response(exc.status_code, http_error(exc).message, headers=exc.headers)


async def server_error_handler(request: Request, exc: Exception) -> Response:
    """Answer an unexpected error with a bare 500: the details go to the log, not to the client."""
    return error_response(500, "internal server error")


class CommandUnavailable(RuntimeError):
    """A call command has no equivalent on the transport serving the call (most: not over HTTP)."""


class CallEndedError(RuntimeError):
    """The call is over (or its socket is gone and did not come back): no command reaches it."""


class TokensRefused(RuntimeError):
    """jambonz did not take the streamed text (no TTS stream running, the vendor failed, ...)."""
