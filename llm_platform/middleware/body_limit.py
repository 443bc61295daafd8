"""Reject request bodies over the configured size with 413 (declared or streamed)."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_platform.core.errors import PayloadTooLarge
from llm_platform.middleware.error_response import send_error


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit.

    An HTTPException because FastAPI re-raises those from body reading (any other error
    there becomes a generic 400); the app's handler renders it as the usual 413 body.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"Request body exceeds {limit} bytes")


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        upload_max_bytes: int,
        upload_prefixes: tuple[str, ...] = ("/api/v1/files",),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_max_bytes = upload_max_bytes
        self.upload_prefixes = upload_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = (
            self.upload_max_bytes
            if scope["path"].startswith(self.upload_prefixes)
            else self.max_bytes
        )
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await send_error(send, PayloadTooLarge(f"Request body exceeds {limit} bytes"))
                    return
                break

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        await self.app(scope, limited_receive, send)
