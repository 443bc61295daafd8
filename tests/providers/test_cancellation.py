"""Every adapter closes the vendor's connection within a second when its consumer stops
by having its task cancelled (`aclose()` is covered in each vendor's tests)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import pytest

from llm_platform.providers.anthropic import AnthropicProvider
from llm_platform.providers.base import Provider
from llm_platform.providers.google import GoogleProvider
from llm_platform.providers.openai import OpenAIProvider
from llm_platform.providers.openai_compatible import OpenAICompatibleProvider
from tests.support.fake_servers import (
    ANTHROPIC_TEST_KEY,
    GOOGLE_TEST_KEY,
    OPENAI_TEST_KEY,
    FakeServer,
)
from tests.support.providers import ask


def _compat(name: str, flavor: str) -> Callable[[str], Provider]:
    return lambda url: OpenAICompatibleProvider(
        name=name,
        base_url=url,
        api_key=OPENAI_TEST_KEY,
        default_model="x",
        flavor=flavor,  # type: ignore[arg-type]
    )


CASES: list[tuple[str, str, Callable[[str], Provider]]] = [
    (
        "fake_openai",
        "gpt-4o-mini",
        lambda url: OpenAIProvider(api_key=OPENAI_TEST_KEY, base_url=url),
    ),
    ("fake_openai", "o4-mini", lambda url: OpenAIProvider(api_key=OPENAI_TEST_KEY, base_url=url)),
    (
        "fake_anthropic",
        "claude-haiku-4-5",
        lambda url: AnthropicProvider(api_key=ANTHROPIC_TEST_KEY, base_url=url),
    ),
    (
        "fake_gemini",
        "gemini-2.5-flash",
        lambda url: GoogleProvider(api_key=GOOGLE_TEST_KEY, base_url=url),
    ),
    ("fake_deepseek", "deepseek-reasoner", _compat("deepseek", "deepseek")),
    ("fake_openrouter", "deepseek/deepseek-r1", _compat("openrouter", "openrouter")),
    ("fake_think", "qwen3:0.6b", _compat("ollama", "generic")),
]


@pytest.mark.parametrize(("fake_name", "model", "make"), CASES, ids=[c[1] for c in CASES])
async def test_cancel_closes_upstream_within_a_second(
    request: pytest.FixtureRequest,
    fake_name: str,
    model: str,
    make: Callable[[str], Provider],
) -> None:
    fake: FakeServer = request.getfixturevalue(fake_name)
    fake.scenario.hold_open = True  # type: ignore[attr-defined]
    provider = make(fake.base_url)  # type: ignore[attr-defined]
    first = asyncio.Event()

    async def consume() -> None:
        async for _ in provider.stream(ask(model, reasoning_effort="low")):
            first.set()

    task = asyncio.create_task(consume())
    try:
        await asyncio.wait_for(first.wait(), 5)
        cancelled_at = time.monotonic()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await fake.until_disconnected(1.0), f"{model}: upstream still open after 1 s"
        assert fake.disconnected_at is not None
        assert fake.disconnected_at - cancelled_at < 1.0
    finally:
        await provider.aclose()
