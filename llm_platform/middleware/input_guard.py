"""Refuse, at the door, request values that no route can store or compare.

PostgreSQL refuses NUL in text, so a NUL in any path segment or query value would reach the
database as a driver error (a 500) on every route that takes a plain string. The guard
answers 422 for those before any route runs, on every route at once (typed parameters,
`api/params.py`, say the same per route). `X-User-ID` is checked by `services.auth` with the
one user-id rule (a longer id was a 500, or a query answered 200 whose log row was dropped).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from llm_platform.core.errors import ValidationFailed
from llm_platform.middleware.error_response import send_error


def problem(scope: Scope) -> str | None:
    """What is wrong with the request's path or query (None: nothing)."""
    if "\x00" in scope["path"]:
        return "The URL path contains a NUL character"
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        return "A query parameter contains a NUL character"
    return None


class InputGuardMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            reason = problem(scope)
            if reason is not None:
                if scope["type"] == "http":
                    await send_error(send, ValidationFailed(reason))
                else:  # before accept: the handshake is refused (HTTP 403 from the server)
                    await send({"type": "websocket.close", "code": 1008, "reason": reason})
                return
        await self.app(scope, receive, send)
