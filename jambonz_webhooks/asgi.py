"""The HTTP side of a hook: read the few headers the checks need, read the body, send the answer.

Plain ASGI, no Starlette ``Request``: a hook request pays for nothing it does not use. The
stages after this one (security, decoding, injection, ...) take plain values, so a WebSocket
message can go through them too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from starlette.requests import ClientDisconnect
from starlette.types import Receive, Send

from .errors import HookError, error_body, too_large_message

__all__ = ["JSON_HEADERS", "RequestHeaders", "read_body", "send_answer", "send_error"]

JSON_HEADERS: Sequence[tuple[bytes, bytes]] = ((b"content-type", b"application/json"),)


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
                self.signature = value.decode("latin-1")


async def read_body(receive: Receive, limit: int | None) -> bytes:
    """The request's body, refused with a 413 as soon as it passes ``limit`` bytes.

    Raises:
        HookError: 413, the body is larger than ``limit``.
        ClientDisconnect: the client went away before the body was whole.

    """
    message = await receive()
    if message["type"] != "http.request":
        raise ClientDisconnect()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):  # the common case: the whole body in one message
        if limit is not None and len(body) > limit:
            raise HookError(413, too_large_message(limit))
        return body
    chunks = [body]
    size = len(body)
    while True:
        if limit is not None and size > limit:
            raise HookError(413, too_large_message(limit))
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            if limit is not None and size > limit:
                raise HookError(413, too_large_message(limit))
            return b"".join(chunks)


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
