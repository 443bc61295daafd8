"""Provider-agnostic resilience around `Provider.stream`.

Before the first token: a first-token timeout, retries with exponential backoff and jitter on
429 / 5xx / connection errors / timeouts, then the next model of the fallback chain. After it:
an idle timeout between events; any failure becomes an `ErrorEvent` (never a retry, since the
client already has part of the answer). A per-provider semaphore bounds concurrent calls.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from llm_platform.core.config import Settings
from llm_platform.core.logging import get_logger
from llm_platform.providers.base import ErrorEvent, StreamEvent, UsageEvent
from llm_platform.providers.errors import (
    ProviderError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from llm_platform.services.query.planning import Candidate

log = get_logger("llm_platform.query")


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 2
    base_delay: float = 0.5
    max_delay: float = 8.0
    first_token_timeout: float = 120.0
    idle_timeout: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_retries=settings.PROVIDER_MAX_RETRIES,
            base_delay=settings.RETRY_BASE_DELAY_SECONDS,
            max_delay=settings.RETRY_MAX_DELAY_SECONDS,
            first_token_timeout=settings.FIRST_TOKEN_TIMEOUT_SECONDS,
            idle_timeout=settings.IDLE_TIMEOUT_SECONDS,
        )

    def backoff(self, attempt: int, error: ProviderError) -> float | None:
        """Seconds to wait before retry `attempt` (1-based); None: do not retry."""
        if attempt > self.max_retries or not error.retryable:
            return None
        delay = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        delay *= random.uniform(0.5, 1.0)  # jitter: concurrent retries spread out
        if isinstance(error, ProviderRateLimited):
            if error.retry_after > self.max_delay:
                return None  # the vendor asks for longer than we will hold the client
            delay = max(delay, error.retry_after)
        return delay


class ProviderLimiter:
    """At most `limit` concurrent calls per provider (in this process)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._semaphores: dict[str, asyncio.Semaphore] = {}

    def semaphore(self, provider: str) -> asyncio.Semaphore:
        sem = self._semaphores.get(provider)
        if sem is None:
            sem = self._semaphores[provider] = asyncio.Semaphore(self.limit)
        return sem


@dataclass(frozen=True)
class Selected:
    """Emitted once, before the first event: the candidate that answers, and its attempt."""

    candidate: Candidate
    attempts: int


def _as_provider_error(candidate: Candidate, exc: BaseException) -> ProviderError | None:
    name = candidate.provider.name
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TimeoutError):
        return ProviderTimeout(name, f"Provider '{name}' sent no token in time")
    if isinstance(exc, ConnectionError | OSError):
        return ProviderUnavailable(name, f"Provider '{name}' could not be reached")
    return None


def _error_event_as_exception(candidate: Candidate, event: ErrorEvent) -> ProviderError:
    name = candidate.provider.name
    if event.code in ("rate_limited", "provider_rate_limited"):
        return ProviderRateLimited(name, event.message)
    error = ProviderError(name, event.message)
    error.retryable = event.retryable
    return error


async def resilient_stream(
    candidates: Sequence[Candidate],
    policy: RetryPolicy,
    limiter: ProviderLimiter,
    *,
    on_retry: Callable[[Candidate, ProviderError], None] | None = None,
) -> AsyncGenerator[StreamEvent | Selected, None]:
    """Yield `Selected` then the answering candidate's events; raise the last
    `ProviderError` when every candidate failed before its first token."""
    last_error: ProviderError | None = None
    for candidate in candidates:
        attempt = 0
        while True:
            attempt += 1
            sem = limiter.semaphore(candidate.provider.name)
            async with sem:
                events = candidate.provider.stream(candidate.request)
                async with aclosing(events):  # type: ignore[type-var]
                    prelude: list[StreamEvent] = []
                    failure: ProviderError | None = None
                    try:
                        async with asyncio.timeout(policy.first_token_timeout):
                            async for event in events:
                                if isinstance(event, ErrorEvent):
                                    failure = _error_event_as_exception(candidate, event)
                                    break
                                prelude.append(event)
                                if not isinstance(event, UsageEvent):
                                    break
                    except Exception as exc:
                        failure = _as_provider_error(candidate, exc)
                        if failure is None:
                            raise
                    if failure is None:
                        yield Selected(candidate, attempt)
                        for event in prelude:
                            yield event
                        async for event in _follow(candidate, events, policy):
                            yield event
                        return
            last_error = failure
            delay = policy.backoff(attempt, failure)
            if delay is None:
                break
            log.info(
                "provider_retry",
                provider=candidate.provider.name,
                model=candidate.model,
                attempt=attempt,
                error=failure.type,
                delay_s=round(delay, 3),
            )
            if on_retry is not None:
                on_retry(candidate, failure)
            await asyncio.sleep(delay)
        if last_error is not None and len(candidates) > 1:
            log.info(
                "provider_fallback",
                provider=candidate.provider.name,
                model=candidate.model,
                error=last_error.type,
            )
    assert last_error is not None
    raise last_error


class _IdleWatchdog:
    """Cancels the task after `idle` seconds without an event: one timer per idle period
    instead of one per event. Paused while the consumer handles an event (the consumer's
    own awaits, e.g. writing the frame to Redis, are not the provider's silence)."""

    def __init__(self, idle: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.task = asyncio.current_task()
        self.idle = idle
        self.last = self.loop.time()
        self.active = True
        self.fired = False
        self.handle = self.loop.call_at(self.last + idle, self._check)

    def _check(self) -> None:
        now = self.loop.time()
        if not self.active:
            self.handle = self.loop.call_at(now + self.idle, self._check)
            return
        due = self.last + self.idle
        if now >= due and self.task is not None:
            self.fired = True
            self.task.cancel()
        else:
            self.handle = self.loop.call_at(due, self._check)

    def resume(self) -> None:
        self.last = self.loop.time()
        self.active = True

    def close(self) -> None:
        self.handle.cancel()


async def _follow(
    candidate: Candidate, events: AsyncIterator[StreamEvent], policy: RetryPolicy
) -> AsyncIterator[StreamEvent]:
    """The rest of an answer: idle timeout, failures become a final `ErrorEvent`."""
    name = candidate.provider.name
    iterator = aiter(events)
    watchdog = _IdleWatchdog(policy.idle_timeout)
    try:
        while True:
            try:
                event = await anext(iterator)
            except StopAsyncIteration:
                return
            except asyncio.CancelledError:
                if not watchdog.fired:
                    raise
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()
                yield ErrorEvent(
                    message=f"Provider '{name}' sent nothing for {policy.idle_timeout:g}s",
                    code="idle_timeout",
                )
                return
            except ProviderError as exc:
                yield ErrorEvent(message=exc.detail, code=exc.type)
                return
            except (ConnectionError, OSError):
                yield ErrorEvent(message=f"Connection to '{name}' lost", code="connection_lost")
                return
            watchdog.active = False
            yield event
            watchdog.resume()
            if isinstance(event, ErrorEvent):
                return
    finally:
        watchdog.close()
