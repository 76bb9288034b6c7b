"""Where the REST client's settings come from: the environment's names, and the API's root.

Kept apart from the client (and httpx2, which it needs): an app reads these when it starts,
and loads the client only when a hook first uses the API.
"""

from __future__ import annotations

__all__ = ["ENV_ACCOUNT_SID", "ENV_API_KEY", "ENV_BASE_URL", "api_base"]

ENV_BASE_URL = "JAMBONZ_API_BASE_URL"
ENV_ACCOUNT_SID = "JAMBONZ_ACCOUNT_SID"
ENV_API_KEY = "JAMBONZ_API_KEY"


def api_base(base_url: str) -> str:
    """The API's root: the base URL with ``/v1`` (swagger.yaml's server) appended unless it is there."""
    base = base_url.rstrip("/")
    return base if base.endswith("/v1") else base + "/v1"
