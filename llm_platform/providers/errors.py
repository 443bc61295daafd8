"""Provider failures, mapped onto the app's error tree with the statuses users expect."""

from __future__ import annotations

from llm_platform.core.errors import AppError


class ProviderError(AppError):
    status_code = 502
    type = "provider_error"
    detail = "The model provider failed"
    retryable = False

    def __init__(
        self,
        provider: str,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.provider = provider
        super().__init__(detail, headers=headers)


class ProviderAuthError(ProviderError):
    """The vendor rejected our key (401/403): the deployment's fault, so 502."""

    type = "provider_auth_error"


class ProviderNotConfigured(ProviderError):
    status_code = 400
    type = "provider_not_configured"


class UnknownProvider(ProviderError):
    status_code = 400
    type = "unknown_provider"


class ModelNotAllowed(ProviderError):
    status_code = 400
    type = "model_not_allowed"


class ModelNotFound(ProviderError):
    status_code = 400
    type = "model_not_found"


class ProviderBadRequest(ProviderError):
    status_code = 400
    type = "provider_bad_request"


class ProviderRateLimited(ProviderError):
    status_code = 429
    type = "provider_rate_limited"
    retryable = True

    def __init__(self, provider: str, detail: str | None = None, *, retry_after: float = 1):
        self.retry_after = retry_after
        super().__init__(provider, detail, headers={"Retry-After": str(max(1, round(retry_after)))})


class ProviderUnavailable(ProviderError):
    """5xx or connection failure at the vendor."""

    status_code = 502
    type = "provider_unavailable"
    retryable = True


class ProviderTimeout(ProviderError):
    status_code = 504
    type = "provider_timeout"
    retryable = True
