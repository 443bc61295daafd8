"""Provider keys never reach a log line or an error body (tests with logging at DEBUG,
SDK loggers included)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from llm_platform.core.config import Settings
from llm_platform.core.logging import configure_logging
from llm_platform.providers.base import ErrorEvent
from llm_platform.providers.errors import ProviderAuthError, ProviderError
from llm_platform.providers.registry import build_registry
from tests.support.fake_servers import FakeAnthropic, FakeGemini, FakeOpenAI
from tests.support.providers import ask, drain

KEYS = {
    "openai": "sk-proj-SECRETopenai1234567890abcdef",
    "anthropic": "sk-ant-api03-SECRETanthropic1234567890",
    "google": "AIzaSySECRETgoogle1234567890abcdefghij",
    "deepseek": "sk-SECRETdeepseek1234567890abcd",
    "compat": "compat-SECRET-key-1234567890",
}


@pytest.fixture
def debug_log() -> Iterator[io.StringIO]:
    """The app's logging at DEBUG, every formatted line also written to a buffer."""
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    configure_logging(Settings(_env_file=None, LOG_LEVEL="DEBUG"))  # type: ignore[call-arg]
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(root.handlers[0].formatter)
    root.addHandler(handler)
    yield buffer
    root.handlers = saved_handlers
    root.setLevel(saved_level)


async def test_keys_stay_out_of_logs_and_errors(
    debug_log: io.StringIO,
    fake_openai: FakeOpenAI,
    fake_anthropic: FakeAnthropic,
    fake_gemini: FakeGemini,
    fake_deepseek: FakeOpenAI,
    fake_think: FakeOpenAI,
) -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None,
        LOG_LEVEL="DEBUG",
        OPENAI_API_KEY=KEYS["openai"],
        OPENAI_BASE_URL=fake_openai.base_url,
        ANTHROPIC_API_KEY=KEYS["anthropic"],
        ANTHROPIC_BASE_URL=fake_anthropic.base_url,
        GOOGLE_API_KEY=KEYS["google"],
        GOOGLE_GEMINI_BASE_URL=fake_gemini.base_url,
        DEEPSEEK_API_KEY=KEYS["deepseek"],
        DEEPSEEK_BASE_URL=fake_deepseek.base_url,
        OPENAI_COMPAT_ENDPOINTS=[
            {"name": "lab", "base_url": fake_think.base_url, "api_key": KEYS["compat"]}
        ],
        LOCAL_MODEL_ENABLED=False,
    )
    assert not any(
        key in repr(settings) or key in str(settings.model_dump()) for key in KEYS.values()
    )
    registry = build_registry(settings)
    errors: list[ProviderError] = []
    events: list[ErrorEvent] = []
    # Every vendor rejects its key (the fakes expect other keys) ...
    for name, model in [
        ("openai", "gpt-4o-mini"),
        ("openai", "o4-mini"),
        ("anthropic", "claude-haiku-4-5"),
        ("google", "gemini-2.5-flash"),
        ("deepseek", "deepseek-chat"),
    ]:
        provider, resolved = registry.resolve(name, model)
        with pytest.raises(ProviderAuthError) as caught:
            await drain(provider.stream(ask(resolved)))
        errors.append(caught.value)
        assert name in caught.value.detail
    # ... and a compatible server fails mid-stream.
    fake_think.scenario.error_after = 6  # "<think>" takes three 3-char chunks
    lab, model = registry.resolve("lab", "llama3.2")
    out = await drain(lab.stream(ask(model)))
    assert isinstance(out[-1], ErrorEvent)
    events.append(out[-1])
    await registry.list_models()
    await registry.aclose()

    logged = debug_log.getvalue()
    assert "provider_list_models_failed" in logged and "httpcore" in logged  # DEBUG was on
    for key in KEYS.values():
        assert key not in logged
        assert key[-8:] not in logged  # not even the tail vendors echo back
        for error in errors:
            assert key not in error.detail and key[-8:] not in error.detail
            assert key not in str(error.headers)
        for event in events:
            assert key not in event.model_dump_json()
