"""Turn vendor failures (HTTP statuses, SDK exceptions) into the provider error tree.

Every adapter funnels its SDK's exceptions through `error_for_status` / `transport_error`,
so a 401 means the same thing for every vendor. Messages name the provider and, where it
matters, the model; they never carry a key: vendor messages are scrubbed of the adapter's
own secrets and of anything key-shaped, and auth failures never quote the vendor at all
(OpenAI's 401 message echoes a masked key).
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
import httpx2

from llm_platform.providers.base import ErrorEvent
from llm_platform.providers.errors import (
    ModelNotFound,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)

_KEY_SHAPED = re.compile(
    r"(sk-[A-Za-z0-9_\-*]{6,}|AIza[0-9A-Za-z_\-]{10,}|lp_[A-Za-z0-9_\-]{8,}"
    r"|(?i:bearer)\s+[A-Za-z0-9_\-.=*]{8,})"
)
_MODEL_MISSING = re.compile(
    r"(model[^.]{0,80}(not[ _]?(exist|found|valid|supported|available))"
    r"|(unknown|invalid|unsupported) model|not a valid model|model_not_found|no such model)",
    re.IGNORECASE,
)
_MAX_MESSAGE = 500


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove the given secrets and anything key-shaped from a vendor message."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _KEY_SHAPED.sub("***", text)
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 1] + "…"


def retry_after_seconds(headers: Mapping[str, str] | None, body: Any = None) -> float:
    """Seconds to wait from `Retry-After` (seconds or HTTP date), `retry-after-ms`, or a
    Google `RetryInfo.retryDelay` in the error body; 1 s when nothing says otherwise."""
    if headers is not None:
        lowered = {k.lower(): v for k, v in headers.items()}
        ms = lowered.get("retry-after-ms")
        if ms:
            try:
                return max(0.0, float(ms) / 1000)
            except ValueError:
                pass
        value = lowered.get("retry-after")
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                parsed = email.utils.parsedate_to_datetime(value) if value else None
                if parsed is not None:
                    return max(0.0, parsed.timestamp() - time.time())
    delay = _google_retry_delay(body)
    return delay if delay is not None else 1.0


def _google_retry_delay(body: Any) -> float | None:
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if isinstance(body, list) and body:
        body = body[0]
    if not isinstance(body, dict):
        return None
    error = body.get("error", body)
    details = error.get("details") if isinstance(error, dict) else None
    for detail in details or []:
        if isinstance(detail, dict) and "retryDelay" in detail:
            match = re.fullmatch(r"([\d.]+)s", str(detail["retryDelay"]))
            if match:
                return float(match.group(1))
    return None


def error_for_status(
    provider: str,
    status: int,
    *,
    model: str,
    message: str | None = None,
    headers: Mapping[str, str] | None = None,
    body: Any = None,
    secrets: Iterable[str] = (),
) -> ProviderError:
    """The provider error for an HTTP status from `provider` while serving `model`."""
    said = scrub(message or "", secrets).strip()
    suffix = f": {said}" if said else ""
    if status in (401, 403):
        return ProviderAuthError(
            provider,
            f"{provider} rejected the configured API key (HTTP {status}); "
            "check the key in the server's settings",
        )
    if status == 429:
        return ProviderRateLimited(
            provider,
            f"{provider} rate limit reached{suffix}",
            retry_after=retry_after_seconds(headers, body),
        )
    if status == 404 or (status in (400, 422) and _MODEL_MISSING.search(said)):
        return ModelNotFound(provider, f"{provider} does not know the model '{model}'{suffix}")
    if status == 408:
        return ProviderTimeout(provider, f"{provider} timed out (HTTP 408){suffix}")
    if 400 <= status < 500:
        return ProviderBadRequest(provider, f"{provider} rejected the request{suffix}")
    return ProviderUnavailable(provider, f"{provider} is unavailable (HTTP {status}){suffix}")


_TIMEOUTS: tuple[type[BaseException], ...] = (
    TimeoutError,
    httpx.TimeoutException,
    httpx2.TimeoutException,
)
_TRANSPORT: tuple[type[BaseException], ...] = (
    ConnectionError,
    httpx.TransportError,
    httpx2.TransportError,
)


def transport_error(provider: str, exc: BaseException) -> ProviderError | None:
    """Timeouts and connection failures below the SDK's own error classes, else None."""
    if isinstance(exc, _TIMEOUTS):
        return ProviderTimeout(provider, f"{provider} did not answer in time")
    if isinstance(exc, _TRANSPORT):
        return ProviderUnavailable(provider, f"could not reach {provider} ({type(exc).__name__})")
    return None


def unexpected_error(
    provider: str, exc: BaseException, secrets: Iterable[str] = ()
) -> ProviderError:
    """Last resort for an exception no mapping knows: a 502 that names its type only."""
    return ProviderUnavailable(
        provider, f"{provider} failed: {type(exc).__name__}: {scrub(str(exc), secrets)}"
    )


def error_event(error: ProviderError) -> ErrorEvent:
    return ErrorEvent(message=error.detail, code=error.type, retryable=error.retryable)
