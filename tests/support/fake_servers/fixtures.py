"""Pytest fixtures for the fake vendors, available to every test in the suite.

One server per vendor for the whole session (real sockets on 127.0.0.1, each in its own
thread), reset before each test: `fake_openai`, `fake_anthropic`, `fake_gemini`,
`fake_deepseek`, `fake_openrouter` and `fake_think` (a local OpenAI-compatible server that
writes `<think>` tags, no key). Point settings at them, e.g.
`OPENAI_API_KEY=OPENAI_TEST_KEY, OPENAI_BASE_URL=fake_openai.base_url`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.fake_servers.anthropic_server import FakeAnthropic
from tests.support.fake_servers.gemini_server import FakeGemini
from tests.support.fake_servers.openai_server import FakeOpenAI
from tests.support.fake_servers.server import FakeServer


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
