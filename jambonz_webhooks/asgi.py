"""The HTTP side of a hook: read the few headers the checks need, read the body, send the answer.

Plain ASGI, no Starlette ``Request``: a hook request pays for nothing it does not use. The
stages after this one (security, decoding, injection, ...) take plain values, so a WebSocket
message can go through them too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence

from starlette.requests import ClientDisconnect
from starlette.types import Receive, Send

from .errors import HookError, error_body, too_large_message
from .security import MAX_SIGNATURE_HEADER

__all__ = [
    "BODY_TIMEOUT",
    "CLOSE",
    "JSON_HEADERS",
    "MAX_BODIES_IN_FLIGHT",
    "RequestHeaders",
    "read_body",
    "send_answer",
    "send_error",
]

JSON_HEADERS: Sequence[tuple[bytes, bytes]] = ((b"content-type", b"application/json"),)

CLOSE: Sequence[tuple[bytes, bytes]] = ((b"connection", b"close"),)
"""Sent with an answer given before the body was read whole: the server then closes the
connection rather than read (and wait for) the rest of a body nobody will use."""

BODY_TIMEOUT = 5.0
"""Seconds a body sent in several parts has to arrive whole (jambonz sends it at once)."""

MAX_BODIES_IN_FLIGHT = 64 * 1024 * 1024
"""Bytes of bodies being read in several parts at once, all requests of the process together."""

_in_flight = 0  # bytes of the bodies being read in several parts right now


class RequestHeaders:
    """The request headers a hook reads, found in one pass over the raw list."""

    __slots__ = ("authorization", "content_length", "content_type", "signature")

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        self.content_type: bytes | None = None
        self.authorization: str | None = None
        self.signature: str | None = None
        self.content_length = -1
        """The declared length; -1 when absent or not a number (the body is then counted)."""
        for name, value in raw:
            if name == b"content-type":
                self.content_type = value
            elif name == b"content-length":
                self.content_length = int(value) if value.isdigit() and len(value) < 19 else -1
            elif name == b"authorization":
                self.authorization = value.decode("latin-1")
            elif name == b"jambonz-signature":
                # Cut before decoding: a header past the limit is refused as too long anyway,
                # and a 16 MB one must not cost 16 MB of work first.
                self.signature = value[: MAX_SIGNATURE_HEADER + 1].decode("latin-1")


async def read_body(receive: Receive, limit: int | None) -> bytes:
    """The request's body, refused with a 413 as soon as it passes ``limit`` bytes.

    A body that comes in several parts must be whole within :data:`BODY_TIMEOUT`, and the
    bodies read so at once share :data:`MAX_BODIES_IN_FLIGHT`: slow or stalled senders cannot
    hold the process's memory (a refusal then closes the connection).

    Raises:
        HookError: 413, the body is larger than ``limit``; 408, it did not arrive in time;
            503, too many large bodies are being read at once.
        ClientDisconnect: the client went away before the body was whole.

    """
    message = await receive()
    if message["type"] != "http.request":
        raise ClientDisconnect()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):  # the common case: the whole body in one message
        if limit is not None and len(body) > limit:
            raise HookError(413, too_large_message(limit), headers=CLOSE)
        return body
    try:
        async with asyncio.timeout(BODY_TIMEOUT):
            return await _read_parts(receive, body, limit)
    except TimeoutError:
        raise HookError(408, "the request body did not arrive in time", headers=CLOSE) from None


async def _read_parts(receive: Receive, first: bytes, limit: int | None) -> bytes:
    """The parts of a body after ``first``, counted against the limit and the shared budget."""
    global _in_flight
    chunks = [first]
    size = 0  # bytes of this body counted in _in_flight
    try:
        chunk = first
        more = True
        while more:
            size += len(chunk)
            _in_flight += len(chunk)
            if limit is not None and size > limit:
                raise HookError(413, too_large_message(limit), headers=CLOSE)
            if _in_flight > MAX_BODIES_IN_FLIGHT:
                raise HookError(503, "too many large request bodies at once: try again", headers=CLOSE)
            message = await receive()
            if message["type"] != "http.request":
                raise ClientDisconnect()
            chunk = message.get("body", b"")
            chunks.append(chunk)
            more = message.get("more_body", False)
        if limit is not None and size + len(chunk) > limit:
            raise HookError(413, too_large_message(limit), headers=CLOSE)
        return b"".join(chunks)
    finally:
        _in_flight -= size


async def send_answer(send: Send, status: int, headers: Sequence[tuple[bytes, bytes]], body: bytes) -> None:
    """Send a whole answer; a 204 carries no content and no length."""
    if status != 204:
        headers = [*headers, (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, error: HookError) -> None:
    """Send a refusal as ``{"error": ...}`` with its status and extra headers."""
    headers = [*JSON_HEADERS, *error.headers] if error.headers else JSON_HEADERS
    await send_answer(send, error.status_code, headers, error_body(error.message, error.fields))
