from __future__ import annotations

import time
from contextlib import aclosing

import pytest

from llm_platform.providers.base import (
    ChatMessage,
    ChatRequest,
    ErrorEvent,
    StreamEvent,
    TextDelta,
    UsageEvent,
)
from llm_platform.providers.errors import (
    ModelNotFound,
    ProviderAuthError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from llm_platform.providers.scripted import Delay, Fail, Hang, ScriptedProvider
from llm_platform.services.query.planning import Candidate
from llm_platform.services.query.resilience import (
    ProviderLimiter,
    RetryPolicy,
    Selected,
    resilient_stream,
)

POLICY = RetryPolicy(
    max_retries=2, base_delay=0.01, max_delay=0.05, first_token_timeout=0.3, idle_timeout=0.3
)


def cand(provider: ScriptedProvider, model: str = "m") -> Candidate:
    req = ChatRequest(model=model, messages=[ChatMessage(role="user", content="q")])
    return Candidate(provider, model, req)


async def run(
    candidates: list[Candidate], policy: RetryPolicy = POLICY
) -> list[StreamEvent | Selected]:
    out: list[StreamEvent | Selected] = []
    async with aclosing(resilient_stream(candidates, policy, ProviderLimiter(4))) as events:
        async for event in events:
            out.append(event)
    return out


async def test_429_then_success_is_retried_before_the_first_token() -> None:
    p = ScriptedProvider()
    p.queue(
        [Fail(ProviderRateLimited("scripted", retry_after=0.01))],
        [Fail(ProviderUnavailable("scripted"))],
        [TextDelta(text="ok")],
    )
    events = await run([cand(p)])
    assert isinstance(events[0], Selected) and events[0].attempts == 3
    assert [e for e in events if isinstance(e, TextDelta)] == [TextDelta(text="ok")]
    assert len(p.calls) == 3


async def test_retries_are_bounded_and_the_last_error_raised() -> None:
    p = ScriptedProvider(script=[Fail(ProviderUnavailable("scripted", "down"))])
    with pytest.raises(ProviderUnavailable):
        await run([cand(p)])
    assert len(p.calls) == 3  # first try + 2 retries


async def test_long_retry_after_is_not_waited_for() -> None:
    p = ScriptedProvider(script=[Fail(ProviderRateLimited("scripted", retry_after=60))])
    started = time.monotonic()
    with pytest.raises(ProviderRateLimited):
        await run([cand(p)])
    assert len(p.calls) == 1 and time.monotonic() - started < 1


async def test_auth_errors_are_not_retried() -> None:
    p = ScriptedProvider(script=[Fail(ProviderAuthError("scripted", "bad key"))])
    with pytest.raises(ProviderAuthError):
        await run([cand(p)])
    assert len(p.calls) == 1


async def test_first_token_timeout_then_retry() -> None:
    p = ScriptedProvider()
    p.queue([Hang()], [TextDelta(text="late but fine")])
    events = await run([cand(p)])
    assert p.calls[0].outcome == "cancelled"
    assert TextDelta(text="late but fine") in events


async def test_first_token_timeout_exhausted() -> None:
    p = ScriptedProvider(script=[UsageEvent(input_tokens=1), Hang()])
    policy = RetryPolicy(max_retries=0, first_token_timeout=0.1, idle_timeout=1)
    with pytest.raises(ProviderTimeout):
        await run([cand(p)], policy)


async def test_error_event_before_first_token_counts_as_failure() -> None:
    p = ScriptedProvider()
    p.queue([ErrorEvent(message="overloaded", retryable=True)], [TextDelta(text="x")])
    events = await run([cand(p)])
    assert len(p.calls) == 2 and TextDelta(text="x") in events


async def test_mid_stream_failures_become_an_error_event_and_are_not_retried() -> None:
    p = ScriptedProvider(script=[TextDelta(text="part"), Fail(ProviderUnavailable("scripted"))])
    events = await run([cand(p)])
    assert isinstance(events[-1], ErrorEvent)
    assert len(p.calls) == 1


async def test_idle_timeout_mid_stream() -> None:
    p = ScriptedProvider(script=[TextDelta(text="part"), Delay(5)])
    started = time.monotonic()
    events = await run([cand(p)])
    assert isinstance(events[-1], ErrorEvent) and events[-1].code == "idle_timeout"
    assert time.monotonic() - started < 1.5
    assert p.last.outcome in ("cancelled", "closed")


async def test_fallback_chain() -> None:
    broken = ScriptedProvider(name="broken", script=[Fail(ModelNotFound("broken", "no model"))])
    backup = ScriptedProvider(name="backup", script=[TextDelta(text="from backup")])
    events = await run([cand(broken), cand(backup, "b")])
    selected = events[0]
    assert isinstance(selected, Selected) and selected.candidate.provider is backup
    assert len(broken.calls) == 1 and len(backup.calls) == 1


async def test_concurrency_limit_per_provider() -> None:
    import asyncio

    p = ScriptedProvider(script=[Delay(0.05), TextDelta(text="x")])
    limiter = ProviderLimiter(2)
    peak = 0

    async def one() -> None:
        nonlocal peak
        async with aclosing(resilient_stream([cand(p)], POLICY, limiter)) as events:
            async for _ in events:
                peak = max(peak, p.active)

    await asyncio.gather(*(one() for _ in range(6)))
    assert peak <= 2 and len(p.calls) == 6
