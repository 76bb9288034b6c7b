"""The REST API for the call a hook is answering: ``await call.client.redirect(menu)``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..hooks import current_context
from .client import AsyncJambonzClient

if TYPE_CHECKING:
    from ..payload import CallInfo

__all__ = ["CallControl"]


class CallControl:
    """Live control of one call through the REST API (an :class:`AsyncJambonzClient` underneath).

    The app's own client underneath (see :mod:`jambonz_webhooks.rest.access` for which
    address it uses); the account is the call's, the API key ``JAMBONZ_API_KEY``.
    """

    __slots__ = ("call_sid", "client")

    def __init__(self, client: AsyncJambonzClient, call_sid: str) -> None:
        self.client = client
        self.call_sid = call_sid

    @classmethod
    def of(cls, call: CallInfo) -> CallControl:
        """The control of ``call``, through the client of the app whose hook is running.

        Raises:
            RuntimeError: outside a hook of a :class:`~jambonz_webhooks.JambonzApp` (or a task
                one started).
            UntrustedAddressError: the app has no API address it may send the key to.
            ValueError: no account or no API key.

        """
        context = current_context.get()
        access = None if context is None else context.api
        if access is None:
            raise RuntimeError(
                "call.client works inside a hook of a JambonzApp (or a task it started); "
                "elsewhere, build an AsyncJambonzClient"
            )
        return cls(access.client(call), call.call_sid)

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
