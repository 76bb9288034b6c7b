"""Where the app's REST client may send the API key, and the one client it sends it with.

A payload names the API's address (``api_base_url``), but a payload is only what a request
says: an unauthenticated request naming an address of its choosing must not receive the
``Authorization: Bearer <JAMBONZ_API_KEY>`` header. So the address is, in order:

1. the one the application configured (``JambonzApp(api_base_url=...)`` or
   ``JAMBONZ_API_BASE_URL``), whatever a payload says;
2. otherwise the payload's ``api_base_url``, only when the app verifies every request's
   signature (a webhook secret, and no unsigned GET hooks): jambonz itself wrote it then;
3. otherwise none: ``call.client`` raises and says what to configure.

Either way the key never travels in clear over the network unless the operator allows it
(``JAMBONZ_API_ALLOW_HTTP=1``): ``http://`` is accepted for a loopback address only.

The app owns its clients: one connection pool per event loop and API address (at most
:data:`MAX_ADDRESSES`), shared by every call and account, closed when the app shuts down.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..security import env_flag
from .settings import ENV_ACCOUNT_SID, ENV_API_KEY, ENV_BASE_URL, api_base

if TYPE_CHECKING:
    from ..payload import CallInfo
    from .client import AsyncJambonzClient

__all__ = ["ENV_ALLOW_HTTP", "MAX_ADDRESSES", "ApiAccess", "UntrustedAddressError"]

ENV_ALLOW_HTTP = "JAMBONZ_API_ALLOW_HTTP"

MAX_ADDRESSES = 4
"""API addresses an app keeps a client for at once (per event loop); one in practice."""

MAX_ACCOUNTS = 64
"""Accounts an API client keeps a ready view for; the oldest is dropped (and made again if needed)."""


class UntrustedAddressError(ValueError):
    """The REST API's address is not one the API key may be sent to; the message says what to set."""


class ApiAccess:
    """The app's REST client for ``call.client``: which address it may use, and the client itself.

    Args:
        base_url: the API's address the application configured; None reads
            ``JAMBONZ_API_BASE_URL``. When set, payloads' ``api_base_url`` is never used.
        trust_payloads: whether a payload's ``api_base_url`` may be used when none is
            configured: True only when every request's signature is verified.
        allow_http: send the key over ``http://`` to a non-loopback address; None reads
            ``JAMBONZ_API_ALLOW_HTTP``.
        environ: where to read the environment (tests).

    Raises:
        UntrustedAddressError: the configured address is ``http://`` to a non-loopback host,
            and ``allow_http`` is not given.

    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        trust_payloads: bool = False,
        allow_http: bool | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        if allow_http is None:
            allow_http = env_flag(env, ENV_ALLOW_HTTP)
        self.allow_http = allow_http
        configured = base_url or env.get(ENV_BASE_URL) or None
        self.base_url = (
            None if configured is None else self._checked(configured, "the configured API address")
        )
        """The configured API address (with ``/v1``), or None."""
        self.trust_payloads = trust_payloads
        self._environ = environ
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, OrderedDict[str, AsyncJambonzClient]
        ] = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        return f"ApiAccess(base_url={self.base_url!r}, trust_payloads={self.trust_payloads!r})"

    def address_for(self, call: CallInfo) -> str:
        """The API address ``call``'s client may use (see the module's rules).

        Raises:
            UntrustedAddressError: none may be used; the message says what to configure.

        """
        if self.base_url is not None:
            return self.base_url
        if not self.trust_payloads:
            raise UntrustedAddressError(
                f"the REST API's address is not configured: set {ENV_BASE_URL} (or "
                "JambonzApp(api_base_url=...)); a payload's api_base_url is used only when every "
                "request is signed (a webhook secret)"
            )
        if not call.api_base_url:
            raise UntrustedAddressError(f"this payload names no api_base_url: set {ENV_BASE_URL}")
        return self._checked(call.api_base_url, "the payload's api_base_url")

    def client(self, call: CallInfo) -> AsyncJambonzClient:
        """The app's client for ``call``'s account, on this event loop (made when first needed).

        Raises:
            UntrustedAddressError: as :meth:`address_for`.
            ValueError: no account (``account_sid`` or ``JAMBONZ_ACCOUNT_SID``) or no API key.

        """
        address = self.address_for(call)
        env = os.environ if self._environ is None else self._environ
        account = call.account_sid or env.get(ENV_ACCOUNT_SID)
        if not account:
            raise ValueError(f"this payload names no account_sid: set {ENV_ACCOUNT_SID}")
        clients = self._clients.get(asyncio.get_running_loop())
        if clients is None:
            clients = self._clients[asyncio.get_running_loop()] = OrderedDict()
        root = clients.get(address)
        if root is None:
            from .client import AsyncJambonzClient  # httpx2 and the models: loaded at first use

            root = AsyncJambonzClient(base_url=address, account_sid=account, api_key=env.get(ENV_API_KEY))
            clients[address] = root
            if len(clients) > MAX_ADDRESSES:
                _, oldest = clients.popitem(last=False)
                _close_later(oldest)
        else:
            clients.move_to_end(address)
        return root.for_account(account, keep=MAX_ACCOUNTS)

    async def aclose(self) -> None:
        """Close the clients of the running event loop (the app is shutting down)."""
        clients = self._clients.pop(asyncio.get_running_loop(), None)
        for client in (clients or {}).values():
            await client.aclose()

    def _checked(self, url: str, what: str) -> str:
        """``url`` as an API root, if the key may travel there."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UntrustedAddressError(f"{what} is not an http(s) URL")
        if parts.scheme == "http" and not self.allow_http and not _is_loopback(parts.hostname):
            raise UntrustedAddressError(
                f"{what} is http:// to another host: the API key would travel in clear "
                f"(use https://, or set {ENV_ALLOW_HTTP}=1 on a private network)"
            )
        return api_base(url)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _close_later(client: AsyncJambonzClient) -> None:
    """Close a client dropped from the cache, without making the caller wait for it."""
    task = asyncio.get_running_loop().create_task(client.aclose())
    _closing.add(task)
    task.add_done_callback(_closing.discard)


# Tasks closing dropped clients: referenced until done, or they could be collected mid-way.
_closing: set[asyncio.Task[None]] = set()
