"""Request id, Server-Timing and one access-log line per request (a single pure-ASGI pass).

An unexpected error is answered here too: logged once (traceback without locals, secrets
masked: core/logging.py) and answered with the usual 500 body carrying the request id. The
connection stays usable (an error that reaches the server makes it drop the connection).
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from llm_platform.core.errors import AppError
from llm_platform.core.logging import get_logger, mark_logged
from llm_platform.core.request_context import request_id_var
from llm_platform.middleware.error_response import send_error

_VALID_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
log = get_logger("llm_platform.access")
error_log = get_logger("llm_platform.errors")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = incoming if incoming and _VALID_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        scope.setdefault("state", {})["request_id"] = request_id
        start = time.perf_counter()
        status = 500
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                elapsed = (time.perf_counter() - start) * 1000
                headers.append("Server-Timing", f"app;dur={elapsed:.1f}")
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            mark_logged(exc)
            if scope["type"] != "http" or started:
                error_log.exception("unhandled_error", error_type=type(exc).__name__)
                raise
            # The answer first: formatting a traceback must not delay it.
            await send_error(send_wrapper, AppError())
            error_log.error("unhandled_error", error_type=type(exc).__name__, exc_info=exc)
        finally:
            if scope["type"] == "http":
                log.info(
                    "request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    duration_ms=round((time.perf_counter() - start) * 1000, 2),
                )
            structlog.contextvars.unbind_contextvars("request_id")
            request_id_var.reset(token)
