"""Helpers for testing a jambonz-webhooks app: requests signed the way jambonz signs them.

::

    body = json.dumps(payload, separators=(",", ":")).encode()
    client.post("/incoming", content=body, headers=signed_headers(body, secret="wh_secret"))
"""

from __future__ import annotations

import base64
import time

from .security import SIGNATURE_HEADER, compute_signature

__all__ = ["basic_auth_header", "sign", "signed_headers"]


def sign(body: bytes, secret: str | bytes, *, timestamp: int | None = None) -> str:
    """The ``Jambonz-Signature`` header value jambonz would send with ``body``.

    ``timestamp`` defaults to now (unix seconds); give another to test the tolerance window.
    """
    t = int(time.time()) if timestamp is None else timestamp
    return f"t={t},v1={compute_signature(secret, t, body)}"


def signed_headers(body: bytes, secret: str | bytes, *, timestamp: int | None = None) -> dict[str, str]:
    """The headers of a POST hook as jambonz sends it with ``body``: content type and signature."""
    return {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, secret, timestamp=timestamp)}


def basic_auth_header(username: str, password: str) -> dict[str, str]:
    """The ``Authorization`` header jambonz sends for a hook configured with credentials."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}
