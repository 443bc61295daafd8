"""Adapters pointed at the fake vendors (the fakes' fixtures live in
tests/support/fake_servers/fixtures.py, loaded for the whole suite by tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from llm_platform.providers.anthropic import AnthropicProvider
from llm_platform.providers.google import GoogleProvider
from llm_platform.providers.openai import OpenAIProvider
from llm_platform.providers.openai_compatible import OpenAICompatibleProvider
from tests.support.fake_servers import (
    ANTHROPIC_TEST_KEY,
    GOOGLE_TEST_KEY,
    OPENAI_TEST_KEY,
    FakeAnthropic,
    FakeGemini,
    FakeOpenAI,
)


@pytest.fixture
async def openai_provider(fake_openai: FakeOpenAI) -> AsyncIterator[OpenAIProvider]:
    provider = OpenAIProvider(api_key=OPENAI_TEST_KEY, base_url=fake_openai.base_url)
    yield provider
    await provider.aclose()


@pytest.fixture
async def anthropic_provider(fake_anthropic: FakeAnthropic) -> AsyncIterator[AnthropicProvider]:
    provider = AnthropicProvider(api_key=ANTHROPIC_TEST_KEY, base_url=fake_anthropic.base_url)
    yield provider
    await provider.aclose()


@pytest.fixture
async def google_provider(fake_gemini: FakeGemini) -> AsyncIterator[GoogleProvider]:
    provider = GoogleProvider(api_key=GOOGLE_TEST_KEY, base_url=fake_gemini.base_url)
    yield provider
    await provider.aclose()


@pytest.fixture
async def deepseek_provider(fake_deepseek: FakeOpenAI) -> AsyncIterator[OpenAICompatibleProvider]:
    provider = OpenAICompatibleProvider(
        name="deepseek",
        base_url=fake_deepseek.base_url,
        api_key=OPENAI_TEST_KEY,
        default_model="deepseek-chat",
        flavor="deepseek",
    )
    yield provider
    await provider.aclose()


@pytest.fixture
async def openrouter_provider(
    fake_openrouter: FakeOpenAI,
) -> AsyncIterator[OpenAICompatibleProvider]:
    provider = OpenAICompatibleProvider(
        name="openrouter",
        base_url=fake_openrouter.base_url,
        api_key=OPENAI_TEST_KEY,
        default_model="openai/gpt-4o-mini",
        flavor="openrouter",
    )
    yield provider
    await provider.aclose()


@pytest.fixture
async def local_server_provider(fake_think: FakeOpenAI) -> AsyncIterator[OpenAICompatibleProvider]:
    provider = OpenAICompatibleProvider(
        name="ollama", base_url=fake_think.base_url, default_model="qwen3:0.6b"
    )
    yield provider
    await provider.aclose()
