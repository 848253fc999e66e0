"""The base of careledger's pure ASGI middleware: each acts on HTTP requests only."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class HttpMiddleware:
    """Passes lifespan (and any other non-HTTP) messages straight through to the app and
    hands each HTTP request to ``http``. Pure ASGI rather than Starlette's BaseHTTPMiddleware,
    which would buffer every answer through a second task."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError
