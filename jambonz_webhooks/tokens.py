"""Streaming text to jambonz's TTS over a call's socket, at the pace jambonz can take it.

jambonz buffers streamed text (``tts:tokens``) before it sends it to the speech vendor, and
answers each command with ``tts:tokens-result``: ``ok``, or ``failed`` with ``reason: "full"``
when its buffer (1,000 characters in jambonz-feature-server 0.9.8,
lib/utils/tts-streaming-buffer.js) cannot take the text; it then sends the
``tts:streaming-event`` ``stream_resumed`` once the buffer drained, and the text is sent
again. One command is in flight at a time, and a piece is cut to fit the buffer.

A barge-in (``user_interruption``), the stream closing (``stream_closed``) or the app's own
``tts:clear`` empties jambonz's buffer without a ``stream_resumed``
(tts-streaming-buffer.js ``clear``): the text being streamed then is dropped, not sent later
to a caller who has moved on, and a text waiting for room stops waiting.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import CallEndedError, TokensRefused

if TYPE_CHECKING:
    from .control import CallLink

__all__ = ["MAX_PIECE", "RESULT_WAIT", "RESUME_WAIT", "TokenFlow", "pieces"]

MAX_PIECE = 500
"""Characters sent in one ``tts:tokens`` at most: jambonz refuses as full any text that would
take its buffer past 1,000, so a longer piece could never be taken."""

RESULT_WAIT = 5.0
"""Seconds to wait for jambonz's ``tts:tokens-result``."""

RESUME_WAIT = 60.0
"""Seconds to wait for ``stream_resumed`` after a ``full``: the caller is hearing what is buffered."""


def pieces(text: str, size: int = MAX_PIECE) -> list[str]:
    """``text`` cut into pieces of at most ``size`` characters, at spaces where it can be."""
    out: list[str] = []
    while len(text) > size:
        cut = text.rfind(" ", size // 2, size)
        cut = size if cut <= 0 else cut + 1
        out.append(text[:cut])
        text = text[cut:]
    if text:
        out.append(text)
    return out


class TokenFlow:
    """The text streamed to one call: what was sent, and what jambonz said of it."""

    def __init__(self, link: CallLink) -> None:
        self._link = link
        self._lock = asyncio.Lock()
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Mapping[str, Any]]] = {}
        self._resumed = 0
        self._resume = asyncio.Event()
        self.paused = False
        """Whether jambonz said its buffer is full, and has not said it resumed."""
        self.closed = False
        self.generation = 0
        """How many times the stream was cleared (a text started before a clear is dropped)."""

    async def send(self, text: str, generation: int | None = None) -> bool:
        """Send ``text`` (in pieces that fit), each once jambonz can take it.

        Returns False, with the rest of the text dropped, when the stream is cleared meanwhile
        (or was, since ``generation``).

        Raises:
            TokensRefused: jambonz refused a piece for another reason than a full buffer, or
                answered nothing in time.
            CallEndedError: the call ended.

        """
        start = self.generation if generation is None else generation
        if not text:
            return self.generation == start
        async with self._lock:
            for piece in pieces(text):
                if self.generation != start or not await self._send_piece(piece, start):
                    return False
        return True

    async def _send_piece(self, piece: str, generation: int) -> bool:
        while True:
            resumed = self._resumed
            result = await self._ask(piece)
            status = result.get("status")
            if status == "ok":
                return True
            reason = result.get("reason")
            if status == "failed" and reason == "full":
                self.paused = True
                if not await self._wait_resumed(resumed, generation):
                    return False
                continue
            # 0.9.8 answers with no status when the call runs no TTS stream.
            raise TokensRefused(
                f"jambonz refused the streamed text: {reason if isinstance(reason, str) else 'no TTS stream'}"
            )

    async def _ask(self, piece: str) -> Mapping[str, Any]:
        number = next(self._ids)
        future: asyncio.Future[Mapping[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[number] = future
        try:
            await self._link.command("tts:tokens", {"id": number, "tokens": piece})
            return await asyncio.wait_for(future, RESULT_WAIT)
        except TimeoutError:
            raise TokensRefused(f"jambonz did not answer streamed text within {RESULT_WAIT:g} s") from None
        finally:
            self._waiting.pop(number, None)

    async def _wait_resumed(self, seen: int, generation: int) -> bool:
        """Wait for room; False when the stream was cleared instead."""
        # A stream_resumed counted since the piece was sent means the buffer drained already.
        while self._resumed == seen:
            if self.closed:
                raise CallEndedError(f"call {self._link.call_sid} is over")
            if self.generation != generation:
                return False
            self._resume.clear()
            try:
                await asyncio.wait_for(self._resume.wait(), RESUME_WAIT)
            except TimeoutError:
                raise TokensRefused(
                    f"jambonz's TTS buffer stayed full for {RESUME_WAIT:g} s (no stream_resumed)"
                ) from None
        return True

    def result(self, data: Any) -> None:
        """Take jambonz's ``tts:tokens-result`` for one of the commands sent."""
        if not isinstance(data, dict):
            return
        number = data.get("id")
        future = self._waiting.get(number) if type(number) is int else None
        if future is not None and not future.done():
            future.set_result(data)

    def clear(self) -> None:
        """The stream is cleared: the text being sent is dropped, a wait for room ends."""
        self.generation += 1
        self.paused = False
        self._resume.set()

    def event(self, data: Any) -> None:
        """Take a ``tts:streaming-event``: room again, or the stream cleared.

        ``stream_resumed`` lets the text flow again; a barge-in or the stream's end clears it.
        """
        kind = data.get("event_type") if isinstance(data, dict) else None
        if kind in ("user_interruption", "stream_closed"):
            self.clear()
        elif kind == "stream_resumed":
            self.paused = False
            self._resumed += 1
            self._resume.set()

    def close(self) -> None:
        """The call is over: fail what is waiting."""
        self.closed = True
        self._resume.set()
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(CallEndedError(f"call {self._link.call_sid} is over"))
