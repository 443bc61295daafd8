"""Refuse, at the door, request values that no route can store or compare.

PostgreSQL refuses NUL in text, so a NUL in any path segment or query value would reach the
database as a driver error (a 500) on every route that takes a plain string. The guard
answers 422 for those before any route runs, on every route at once (typed parameters,
`api/params.py`, say the same per route). It also bounds `X-User-ID` (the column holds 128
characters: a longer id was a 500, or a query answered 200 whose log row was dropped).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from llm_platform.core.errors import ValidationFailed
from llm_platform.middleware.error_response import send_error

USER_ID_MAX = 128
_CONTROL = frozenset(range(0x20)) | {0x7F}


def _bad_user_id(value: bytes) -> str | None:
    if len(value) > USER_ID_MAX * 4 or len(value.decode("utf-8", "replace")) > USER_ID_MAX:
        return f"X-User-ID is longer than {USER_ID_MAX} characters"
    if any(b in _CONTROL for b in value):
        return "X-User-ID contains control characters"
    return None


def problem(scope: Scope) -> str | None:
    """What is wrong with the request's path, query or user header (None: nothing)."""
    if "\x00" in scope["path"]:
        return "The URL path contains a NUL character"
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        return "A query parameter contains a NUL character"
    for name, value in scope["headers"]:
        if name == b"x-user-id":
            return _bad_user_id(value)
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
