"""The one exception handler family: every error leaves as `{"detail", "type", "request_id"}`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from llm_platform.core.errors import AppError, ValidationFailed
from llm_platform.core.logging import get_logger, mark_logged
from llm_platform.middleware.error_response import error_body

log = get_logger("llm_platform.errors")

_HTTP_TYPES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def _render(error: AppError, extra: dict[str, Any] | None = None) -> JSONResponse:
    return JSONResponse(
        error_body(error, extra), status_code=error.status_code, headers=error.headers or None
    )


def _clean_errors(errors: Any) -> list[dict[str, Any]]:
    cleaned = []
    for err in errors:
        item = {"loc": list(err.get("loc", ())), "msg": err.get("msg"), "type": err.get("type")}
        if err.get("type") == "json_invalid":
            reason = (err.get("ctx") or {}).get("error")
            if reason:
                item["msg"] = f"{item['msg']}: {reason}"
        cleaned.append(item)
    return cleaned


def _summary(errors: list[dict[str, Any]]) -> str:
    for err in errors:
        if err["type"] == "json_invalid":
            return f"Malformed JSON body ({err['msg']})"
    parts = []
    for err in errors[:5]:
        loc = ".".join(str(p) for p in err["loc"] if p != "body") or "body"
        parts.append(f"{loc}: {err['msg']}")
    more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
    return "; ".join(parts) + more


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        if exc.status_code >= 500:
            log.error("app_error", type=exc.type, detail=exc.detail)
        return _render(exc, exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _clean_errors(exc.errors())
        return _render(ValidationFailed(_summary(errors)), {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        error = AppError(str(exc.detail), headers=dict(exc.headers or {}))
        error.status_code = exc.status_code
        error.type = _HTTP_TYPES.get(exc.status_code, "http_error")
        return _render(error)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", error_type=type(exc).__name__)
        mark_logged(exc)  # Starlette re-raises it to the server, which need not log it again
        return _render(AppError())
