"""Rendering of the one error body shape, `{"detail", "type", "request_id"}`."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.types import Send

from llm_platform.core.errors import AppError
from llm_platform.core.request_context import current_request_id


def error_body(error: AppError, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "detail": error.detail,
        "type": error.type,
        "request_id": current_request_id(),
    }
    if extra:
        body.update(extra)
    return body


async def send_error(send: Send, error: AppError) -> None:
    """Answer from a pure-ASGI middleware, before any app code ran."""
    payload = orjson.dumps(error_body(error))
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        *((k.lower().encode(), v.encode()) for k, v in error.headers.items()),
    ]
    await send({"type": "http.response.start", "status": error.status_code, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
