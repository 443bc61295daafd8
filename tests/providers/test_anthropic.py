"""Anthropic adapter against a fake Messages API speaking Anthropic's SSE events."""

from __future__ import annotations

import pytest

from llm_platform.providers.anthropic import (
    AnthropicProvider,
    claude_version,
    uses_adaptive_thinking,
)
from llm_platform.providers.base import (
    ChatMessage,
    ChatRequest,
    DoneEvent,
    ErrorEvent,
    ImagePart,
    ReasoningDelta,
    UsageEvent,
    collect,
)
from llm_platform.providers.errors import (
    ModelNotFound,
    ProviderAuthError,
    ProviderBadRequest,
    ProviderRateLimited,
    ProviderUnavailable,
)
from tests.support.fake_servers import FakeAnthropic
from tests.support.providers import answer_text, ask, close_after_first_event, drain, kinds


async def test_thinking_then_text_with_signature_and_usage(
    anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    events = await drain(
        anthropic_provider.stream(ask("claude-haiku-4-5", reasoning_effort="medium"))
    )
    assert kinds(events) == ["reasoning", "text", "usage", "done"]
    signed = [e for e in events if isinstance(e, ReasoningDelta) and e.signature]
    assert len(signed) == 1 and signed[0].text == ""
    assert signed[0].signature == fake_anthropic.scenario.signature
    assert answer_text(events) == "Hello world!"
    usage = next(e for e in events if isinstance(e, UsageEvent))
    # input counts cache reads too (8 uncached + 4 read); output includes thinking
    assert usage == UsageEvent(input_tokens=12, output_tokens=34, cached_tokens=4)
    assert events[-1] == DoneEvent(finish_reason="stop")
    body = fake_anthropic.requests[-1].json()
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 8192}
    assert body["max_tokens"] == 4096 + 8192


async def test_no_thinking_without_effort_on_budget_models(
    anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    completion = await collect(
        anthropic_provider.stream(ask("claude-haiku-4-5", temperature=0.5, max_tokens=300))
    )
    assert completion.reasoning == "" and completion.text == "Hello world!"
    body = fake_anthropic.requests[-1].json()
    assert "thinking" not in body
    assert body["temperature"] == 0.5 and body["max_tokens"] == 300


async def test_adaptive_models_always_think_and_take_effort(
    anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    request = ask("claude-opus-4-6", reasoning_effort="minimal", temperature=0.7)
    completion = await collect(anthropic_provider.stream(request))
    assert completion.reasoning == "Let me think about this."
    assert completion.reasoning_signature == fake_anthropic.scenario.signature
    body = fake_anthropic.requests[-1].json()
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert body["output_config"] == {"effort": "low"}
    assert "temperature" not in body  # thinking requires the default temperature


def test_claude_version_parsing() -> None:
    assert claude_version("claude-haiku-4-5") == (4, 5)
    assert claude_version("claude-haiku-4-5-20251001") == (4, 5)
    assert claude_version("claude-3-7-sonnet-20250219") == (3, 7)
    assert claude_version("claude-opus-4-6-v1") == (4, 6)
    assert claude_version("claude-sonnet-5") == (5, 0)
    assert claude_version("claude-mythos-preview") is None
    assert uses_adaptive_thinking("claude-opus-4-6")
    assert uses_adaptive_thinking("claude-fable-5-1")
    assert not uses_adaptive_thinking("claude-haiku-4-5")


async def test_multi_turn_sends_thinking_block_back(
    anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    first = await collect(
        anthropic_provider.stream(ask("claude-haiku-4-5", "2+2?", reasoning_effort="low"))
    )
    assert first.reasoning_signature
    image = ImagePart(mime="image/jpeg", data_b64="/9j/4AAQ")
    second = ChatRequest(
        model="claude-haiku-4-5",
        system="Be brief.",
        reasoning_effort="low",
        messages=[
            ChatMessage(role="user", content="2+2?"),
            ChatMessage(
                role="assistant",
                content=first.text,
                reasoning=first.reasoning,
                reasoning_signature=first.reasoning_signature,
            ),
            ChatMessage(role="user", content="And this?", images=[image]),
        ],
    )
    await drain(anthropic_provider.stream(second))
    body = fake_anthropic.requests[-1].json()
    assert body["system"] == "Be brief."
    assistant = body["messages"][1]
    assert assistant["role"] == "assistant"
    assert assistant["content"][0] == {
        "type": "thinking",
        "thinking": "Let me think about this.",
        "signature": fake_anthropic.scenario.signature,
    }
    assert assistant["content"][1] == {"type": "text", "text": "Hello world!"}
    assert body["messages"][2]["content"][0] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"},
    }


async def test_error_event_mid_stream(
    anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.scenario.error_after = 3  # two thinking deltas, one text delta
    events = await drain(anthropic_provider.stream(ask("claude-haiku-4-5", reasoning_effort="low")))
    assert kinds(events) == ["reasoning", "text", "error"]
    assert answer_text(events) == "Hello"
    error = events[-1]
    assert isinstance(error, ErrorEvent)
    assert error.code == "provider_unavailable" and error.retryable  # overloaded_error


async def test_status_mapping(
    anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.fail_next(
        429, "Number of request tokens has exceeded your rate limit", retry_after=12
    )
    with pytest.raises(ProviderRateLimited) as limited:
        await drain(anthropic_provider.stream(ask("claude-haiku-4-5")))
    assert limited.value.retry_after == 12

    fake_anthropic.fail_next(529, "Overloaded")
    with pytest.raises(ProviderUnavailable):
        await drain(anthropic_provider.stream(ask("claude-haiku-4-5")))

    fake_anthropic.fail_next(400, "messages: at least one message is required")
    with pytest.raises(ProviderBadRequest) as bad:
        await drain(anthropic_provider.stream(ask("claude-haiku-4-5")))
    assert "at least one message" in bad.value.detail

    with pytest.raises(ModelNotFound) as missing:
        await drain(anthropic_provider.stream(ask("claude-nonexistent-9")))
    assert "anthropic" in missing.value.detail and "claude-nonexistent-9" in missing.value.detail


async def test_bad_key(fake_anthropic: FakeAnthropic) -> None:
    provider = AnthropicProvider(
        api_key="sk-ant-wrong-0000000000", base_url=fake_anthropic.base_url
    )
    with pytest.raises(ProviderAuthError) as caught:
        await drain(provider.stream(ask("claude-haiku-4-5")))
    assert "anthropic" in caught.value.detail and "wrong" not in caught.value.detail
    await provider.aclose()


async def test_closing_the_stream_closes_upstream(
    anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.scenario.hold_open = True
    stream = anthropic_provider.stream(ask("claude-haiku-4-5", reasoning_effort="low"))
    assert await close_after_first_event(stream, fake_anthropic) < 1.0


async def test_list_models(anthropic_provider: AnthropicProvider) -> None:
    assert "claude-haiku-4-5" in await anthropic_provider.list_models()


async def test_temperature_only_for_models_that_take_it(
    anthropic_provider: AnthropicProvider, fake_anthropic: FakeAnthropic
) -> None:
    fake_anthropic.models.append("claude-opus-4-7")
    try:
        await drain(anthropic_provider.stream(ask("claude-opus-4-7", temperature=0.2)))
    finally:
        fake_anthropic.models.remove("claude-opus-4-7")
    assert "temperature" not in fake_anthropic.requests[-1].json()
