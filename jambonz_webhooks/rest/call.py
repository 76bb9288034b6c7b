"""The REST API for the call a hook is answering: ``await call.client.redirect(menu)``."""

from __future__ import annotations

import asyncio
import os
import weakref
from typing import TYPE_CHECKING, Any

from .client import ENV_API_KEY, AsyncJambonzClient

if TYPE_CHECKING:
    from ..payload import CallInfo

__all__ = ["CallControl"]

# One client per event loop, account and key: connections are reused from hook to hook, for the
# life of the process (as a module-level client would be).
_Clients = dict[tuple[str | None, str, str | None], AsyncJambonzClient]
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Clients] = weakref.WeakKeyDictionary()


class CallControl:
    """Live control of one call through the REST API (an :class:`AsyncJambonzClient` underneath).

    The API's address and account come from the call's own payload (``api_base_url``,
    ``account_sid``); the API key from ``JAMBONZ_API_KEY``.
    """

    __slots__ = ("call_sid", "client")

    def __init__(self, client: AsyncJambonzClient, call_sid: str) -> None:
        self.client = client
        self.call_sid = call_sid

    @classmethod
    def of(cls, call: CallInfo) -> CallControl:
        """The control of ``call``, with a client shared by the calls of its account."""
        if not call.account_sid:
            raise ValueError("this payload names no account_sid: build an AsyncJambonzClient yourself")
        clients = _clients.setdefault(asyncio.get_running_loop(), {})
        key = (call.api_base_url, call.account_sid, os.environ.get(ENV_API_KEY))
        client = clients.get(key)
        if client is None:
            client = clients[key] = AsyncJambonzClient(
                base_url=call.api_base_url, account_sid=call.account_sid
            )
        return cls(client, call.call_sid)

    async def update(self, **fields: Any) -> None:
        """Change the call (fields as :class:`~jambonz_webhooks.rest.UpdateCall`)."""
        await self.client.calls.update(self.call_sid, **fields)

    async def redirect(self, hook: Any) -> None:
        """Replace the call's verbs by what ``hook`` answers: a handler of this app, a path or a URL."""
        await self.client.calls.redirect(self.call_sid, hook)

    async def hangup(self) -> None:
        """End the call."""
        await self.client.calls.hangup(self.call_sid)

    async def whisper(self, verb: Any) -> None:
        """Play a verb (say or play) into the call."""
        await self.client.calls.whisper(self.call_sid, verb)

    async def mute(self) -> None:
        """Mute the call."""
        await self.client.calls.mute(self.call_sid)

    async def unmute(self) -> None:
        """Unmute the call."""
        await self.client.calls.unmute(self.call_sid)
