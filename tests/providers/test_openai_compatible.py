"""One OpenAI-compatible adapter for DeepSeek, OpenRouter and local servers."""

from __future__ import annotations

import pytest

from llm_platform.providers.base import ErrorEvent, ReasoningDelta, UsageEvent, collect
from llm_platform.providers.errors import ModelNotFound, ProviderRateLimited
from llm_platform.providers.openai_compatible import OpenAICompatibleProvider
from tests.support.fake_servers import FakeOpenAI
from tests.support.providers import (
    answer_text,
    ask,
    close_after_first_event,
    drain,
    kinds,
    reasoning_text,
)


async def test_deepseek_reasoning_content_then_answer(
    deepseek_provider: OpenAICompatibleProvider, fake_deepseek: FakeOpenAI
) -> None:
    events = await drain(
        deepseek_provider.stream(ask("deepseek-reasoner", reasoning_effort="high"))
    )
    assert kinds(events) == ["reasoning", "text", "usage", "done"]
    assert reasoning_text(events) == "Let me think about this."
    assert answer_text(events) == "Hello world!"
    usage = next(e for e in events if isinstance(e, UsageEvent))
    # DeepSeek reports cache hits as prompt_cache_hit_tokens
    assert usage == UsageEvent(
        input_tokens=12, output_tokens=34, reasoning_tokens=20, cached_tokens=4
    )
    body = fake_deepseek.requests[-1].json()
    assert "reasoning_effort" not in body  # DeepSeek has no effort knob


async def test_deepseek_unknown_model_400_is_model_not_found(
    deepseek_provider: OpenAICompatibleProvider,
) -> None:
    with pytest.raises(ModelNotFound) as caught:
        await drain(deepseek_provider.stream(ask("deepseek-v9")))
    assert "deepseek" in caught.value.detail and "deepseek-v9" in caught.value.detail


async def test_openrouter_reasoning_is_not_doubled(
    openrouter_provider: OpenAICompatibleProvider, fake_openrouter: FakeOpenAI
) -> None:
    completion = await collect(
        openrouter_provider.stream(ask("deepseek/deepseek-r1", reasoning_effort="medium"))
    )
    # The fake sends each piece in both `reasoning` and `reasoning_details`.
    assert completion.reasoning == "Let me think about this."
    assert completion.text == "Hello world!"
    assert completion.usage.cached_tokens == 4 and completion.usage.reasoning_tokens == 20
    assert fake_openrouter.requests[-1].json()["reasoning"] == {"effort": "medium"}


async def test_openrouter_reasoning_details_only(
    openrouter_provider: OpenAICompatibleProvider,
) -> None:
    from llm_platform.providers.openai_chat import reasoning_from_delta

    delta = {
        "reasoning": None,
        "reasoning_details": [
            {"type": "reasoning.summary", "summary": "Summary."},
            {"type": "reasoning.encrypted", "data": "opaque"},
            {"type": "reasoning.text", "text": "", "signature": "sig-1"},
        ],
    }
    assert reasoning_from_delta(delta) == [
        ReasoningDelta(text="Summary."),
        ReasoningDelta(text="", signature="sig-1"),
    ]


async def test_openrouter_error_chunk_mid_stream(
    openrouter_provider: OpenAICompatibleProvider, fake_openrouter: FakeOpenAI
) -> None:
    fake_openrouter.scenario.error_after = 4
    events = await drain(openrouter_provider.stream(ask("anthropic/claude-sonnet-4.5")))
    assert kinds(events) == ["reasoning", "text", "error"]
    assert isinstance(events[-1], ErrorEvent) and events[-1].retryable


async def test_openrouter_rate_limit(
    openrouter_provider: OpenAICompatibleProvider, fake_openrouter: FakeOpenAI
) -> None:
    fake_openrouter.fail_next(429, "Rate limit exceeded: free-models-per-min", retry_after=3)
    with pytest.raises(ProviderRateLimited) as caught:
        await drain(openrouter_provider.stream(ask("openai/gpt-4o-mini")))
    assert caught.value.retry_after == 3 and "openrouter" in caught.value.detail


def test_openrouter_capabilities_follow_the_vendor() -> None:
    provider = OpenAICompatibleProvider(
        name="openrouter", base_url="http://127.0.0.1:9/v1", default_model="x", flavor="openrouter"
    )
    assert provider.capabilities("anthropic/claude-sonnet-4.5").reasoning
    assert provider.capabilities("openai/gpt-4o-mini").vision
    assert provider.capabilities("deepseek/deepseek-r1:free").reasoning
    assert provider.capabilities("mistralai/some-new-model").model_dump() == {
        "streaming": True,
        "reasoning": False,
        "vision": False,
        "tools": False,
        "web_search": False,
        "max_output_tokens": None,
    }


async def test_local_server_think_tags_split_across_chunks(
    local_server_provider: OpenAICompatibleProvider, fake_think: FakeOpenAI
) -> None:
    events = await drain(local_server_provider.stream(ask("qwen3:0.6b", reasoning_effort="low")))
    assert kinds(events) == ["reasoning", "text", "usage", "done"]
    assert reasoning_text(events) == "Let me think about this."
    assert answer_text(events) == "Hello world!"
    usage = next(e for e in events if isinstance(e, UsageEvent))
    assert usage.input_tokens == 12 and usage.output_tokens == 34
    request = fake_think.requests[-1]
    assert request.headers["authorization"] == "Bearer not-needed"
    assert request.json()["reasoning_effort"] == "low"
    assert local_server_provider.capabilities("qwen3:0.6b").reasoning


@pytest.mark.parametrize("flavor", ["deepseek", "openrouter", "think"])
async def test_whole_answers_carry_each_flavors_reasoning(
    flavor: str,
    deepseek_provider: OpenAICompatibleProvider,
    openrouter_provider: OpenAICompatibleProvider,
    local_server_provider: OpenAICompatibleProvider,
) -> None:
    """A non-streamed answer (`stream=False`) puts reasoning where each server puts it in the
    message (`reasoning_content`, `reasoning` + `reasoning_details`, `<think>` in the text):
    the same events as the stream, reasoning once."""
    provider, model = {
        "deepseek": (deepseek_provider, "deepseek-reasoner"),
        "openrouter": (openrouter_provider, "deepseek/deepseek-r1"),
        "think": (local_server_provider, "qwen3:0.6b"),
    }[flavor]
    events = await drain(provider.stream(ask(model, stream=False)))
    assert kinds(events) == ["reasoning", "text", "usage", "done"]
    assert reasoning_text(events) == "Let me think about this."
    assert answer_text(events) == "Hello world!"


async def test_local_server_early_close(
    local_server_provider: OpenAICompatibleProvider, fake_think: FakeOpenAI
) -> None:
    fake_think.scenario.hold_open = True
    stream = local_server_provider.stream(ask("llama3.2"))
    assert await close_after_first_event(stream, fake_think) < 1.0


async def test_dropped_connection_mid_stream_is_error_event(
    deepseek_provider: OpenAICompatibleProvider, fake_deepseek: FakeOpenAI
) -> None:
    fake_deepseek.scenario.drop_after = 2
    events = await drain(deepseek_provider.stream(ask("deepseek-chat")))
    assert isinstance(events[-1], ErrorEvent)
    assert events[-1].retryable


async def test_list_models(openrouter_provider: OpenAICompatibleProvider) -> None:
    assert "deepseek/deepseek-r1" in await openrouter_provider.list_models()
