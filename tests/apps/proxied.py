"""The example app, plus two routes that say what the app saw of a request behind a proxy.

``GET /seen`` and the WebSocket ``/seen`` answer the client's address, the scheme and the root
path as the ASGI scope has them (after uvicorn applied ``X-Forwarded-*`` and ``--root-path``):
tests/test_proxy.py serves this behind nginx.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route, WebSocketRoute
from starlette.types import Scope
from starlette.websockets import WebSocket

from example_app.app import app

__all__ = ["app"]


def _seen(scope: Scope) -> dict[str, object]:
    client = scope.get("client")
    return {
        "client": client[0] if client else None,
        "scheme": scope["scheme"],
        "root_path": scope.get("root_path"),
    }


async def seen(request: Request) -> JSONResponse:
    """What the app saw of this request."""
    return JSONResponse(_seen(request.scope))


async def seen_socket(websocket: WebSocket) -> None:
    """What the app saw of this upgrade, as one text frame."""
    await websocket.accept()
    await websocket.send_json(_seen(websocket.scope))
    await websocket.close()


app.router.routes += [Route("/seen", seen, methods=["GET"]), WebSocketRoute("/seen", seen_socket)]
