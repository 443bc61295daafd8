"""One error tree. Every error the API returns is an `AppError` rendered by one handler."""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status_code: int = 500
    type: str = "internal_error"
    detail: str = "Internal server error"
    # More fields of the error body (e.g. per-item errors of a questionnaire).
    extra: dict[str, Any] | None = None

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None):
        self.detail = detail or self.detail
        self.headers = headers or {}
        super().__init__(self.detail)


class BadRequest(AppError):
    status_code = 400
    type = "bad_request"
    detail = "Bad request"


class Unauthorized(AppError):
    status_code = 401
    type = "unauthorized"
    detail = "Missing or invalid API key"

    def __init__(self, detail: str | None = None):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status_code = 403
    type = "forbidden"
    detail = "Not allowed"


class NotFound(AppError):
    status_code = 404
    type = "not_found"
    detail = "Not found"


class Conflict(AppError):
    status_code = 409
    type = "conflict"
    detail = "Conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    type = "payload_too_large"
    detail = "Request body too large"


class UnsupportedMediaType(AppError):
    status_code = 415
    type = "unsupported_media_type"
    detail = "Unsupported media type"


class ValidationFailed(AppError):
    status_code = 422
    type = "validation_error"
    detail = "Invalid request"


class RateLimited(AppError):
    status_code = 429
    type = "rate_limited"
    detail = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int = 1):
        super().__init__(detail, headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(AppError):
    status_code = 503
    type = "service_unavailable"
    detail = "Service unavailable"
