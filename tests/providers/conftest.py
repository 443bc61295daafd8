"""Fake vendors (one server per vendor for the session, reset before each test) and
adapters pointed at them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from llm_platform.providers.anthropic import AnthropicProvider
from llm_platform.providers.google import GoogleProvider
from llm_platform.providers.openai import OpenAIProvider
from llm_platform.providers.openai_compat import OpenAICompatProvider
from tests.providers.fakes import (
    ANTHROPIC_TEST_KEY,
    GOOGLE_TEST_KEY,
    OPENAI_TEST_KEY,
    FakeAnthropic,
    FakeGemini,
    FakeOpenAI,
    FakeServer,
)


def _serve(fake: FakeServer) -> Iterator[FakeServer]:
    fake.start()
    try:
        yield fake
    finally:
        fake.stop()


@pytest.fixture(scope="session")
def _openai_server() -> Iterator[FakeServer]:
    yield from _serve(FakeOpenAI())


@pytest.fixture(scope="session")
def _deepseek_server() -> Iterator[FakeServer]:
    yield from _serve(FakeOpenAI(flavor="deepseek", models=("deepseek-chat", "deepseek-reasoner")))


@pytest.fixture(scope="session")
def _openrouter_server() -> Iterator[FakeServer]:
    models = ("deepseek/deepseek-r1", "anthropic/claude-sonnet-4.5", "openai/gpt-4o-mini")
    yield from _serve(FakeOpenAI(flavor="openrouter", models=models))


@pytest.fixture(scope="session")
def _think_server() -> Iterator[FakeServer]:
    yield from _serve(FakeOpenAI(flavor="think", api_key=None, models=("qwen3:0.6b", "llama3.2")))


@pytest.fixture(scope="session")
def _anthropic_server() -> Iterator[FakeServer]:
    yield from _serve(FakeAnthropic())


@pytest.fixture(scope="session")
def _gemini_server() -> Iterator[FakeServer]:
    yield from _serve(FakeGemini())


def _fresh(fake: FakeServer) -> FakeServer:
    fake.reset()
    fake.scenario = type(fake.scenario)()  # type: ignore[attr-defined]
    return fake


@pytest.fixture
def fake_openai(_openai_server: FakeOpenAI) -> FakeOpenAI:
    return _fresh(_openai_server)  # type: ignore[return-value]


@pytest.fixture
def fake_deepseek(_deepseek_server: FakeOpenAI) -> FakeOpenAI:
    return _fresh(_deepseek_server)  # type: ignore[return-value]


@pytest.fixture
def fake_openrouter(_openrouter_server: FakeOpenAI) -> FakeOpenAI:
    return _fresh(_openrouter_server)  # type: ignore[return-value]


@pytest.fixture
def fake_think(_think_server: FakeOpenAI) -> FakeOpenAI:
    return _fresh(_think_server)  # type: ignore[return-value]


@pytest.fixture
def fake_anthropic(_anthropic_server: FakeAnthropic) -> FakeAnthropic:
    return _fresh(_anthropic_server)  # type: ignore[return-value]


@pytest.fixture
def fake_gemini(_gemini_server: FakeGemini) -> FakeGemini:
    return _fresh(_gemini_server)  # type: ignore[return-value]


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
async def deepseek_provider(fake_deepseek: FakeOpenAI) -> AsyncIterator[OpenAICompatProvider]:
    provider = OpenAICompatProvider(
        name="deepseek",
        base_url=fake_deepseek.base_url,
        api_key=OPENAI_TEST_KEY,
        default_model="deepseek-chat",
        flavor="deepseek",
    )
    yield provider
    await provider.aclose()


@pytest.fixture
async def openrouter_provider(fake_openrouter: FakeOpenAI) -> AsyncIterator[OpenAICompatProvider]:
    provider = OpenAICompatProvider(
        name="openrouter",
        base_url=fake_openrouter.base_url,
        api_key=OPENAI_TEST_KEY,
        default_model="openai/gpt-4o-mini",
        flavor="openrouter",
    )
    yield provider
    await provider.aclose()


@pytest.fixture
async def local_server_provider(fake_think: FakeOpenAI) -> AsyncIterator[OpenAICompatProvider]:
    provider = OpenAICompatProvider(
        name="ollama", base_url=fake_think.base_url, default_model="qwen3:0.6b"
    )
    yield provider
    await provider.aclose()
