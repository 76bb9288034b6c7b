"""The REST API for the call a hook is answering: ``await call.client.redirect(menu)``.

:class:`~jambonz_webhooks.control.CallControl` lives in :mod:`jambonz_webhooks.control` (the same
handle serves calls over WebSocket); it is importable from here as before.
"""

from __future__ import annotations

from ..control import CallControl

__all__ = ["CallControl"]
