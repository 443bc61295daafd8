"""OpenAI adapter against a fake OpenAI speaking Chat Completions and Responses SSE."""

from __future__ import annotations

import pytest

from llm_platform.providers.base import (
    ChatMessage,
    ChatRequest,
    DoneEvent,
    ErrorEvent,
    ImagePart,
    ToolCallEvent,
    UsageEvent,
    collect,
)
from llm_platform.providers.errors import (
    ModelNotFound,
    ProviderAuthError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from llm_platform.providers.openai import OpenAIProvider
from tests.support.fake_servers import FakeOpenAI
from tests.support.providers import (
    answer_text,
    ask,
    close_after_first_event,
    drain,
    kinds,
    reasoning_text,
)


async def test_chat_completions_streams_text_and_usage(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    events = await drain(openai_provider.stream(ask("gpt-4o-mini", temperature=0.2)))
    assert kinds(events) == ["text", "usage", "done"]
    assert answer_text(events) == "Hello world!"
    usage = next(e for e in events if isinstance(e, UsageEvent))
    assert usage == UsageEvent(
        input_tokens=12, output_tokens=34, reasoning_tokens=20, cached_tokens=4
    )
    assert events[-1] == DoneEvent(finish_reason="stop")
    sent = fake_openai.requests[-1]
    assert sent.path == "/v1/chat/completions"
    assert sent.headers["content-type"] == "application/json"
    body = sent.json()
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.2


async def test_chat_completions_tool_calls_are_assembled(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    fake_openai.scenario.text = []
    fake_openai.scenario.tool_calls = [
        ("call_1", "get_weather", '{"city": "Paris", "unit": "celsius"}'),
        ("call_2", "get_time", '{"tz": "Europe/Paris"}'),
    ]
    events = await drain(openai_provider.stream(ask("gpt-4o-mini")))
    assert kinds(events) == ["tool_call", "usage", "done"]
    assert events[0] == ToolCallEvent(
        id="call_1", name="get_weather", arguments='{"city": "Paris", "unit": "celsius"}'
    )
    assert events[1] == ToolCallEvent(
        id="call_2", name="get_time", arguments='{"tz": "Europe/Paris"}'
    )
    assert events[-1] == DoneEvent(finish_reason="tool_calls")


async def test_whole_answer_is_one_non_streamed_call_with_the_same_events(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    """`stream=False` (the facade's `stream: false`): one `chat.completion`, read as the
    same events a stream gives."""
    events = await drain(openai_provider.stream(ask("gpt-4o-mini", stream=False)))
    assert kinds(events) == ["text", "usage", "done"]
    assert answer_text(events) == "Hello world!"
    assert events[-1] == DoneEvent(finish_reason="stop", streamed=False)
    assert next(e for e in events if isinstance(e, UsageEvent)) == UsageEvent(
        input_tokens=12, output_tokens=34, reasoning_tokens=20, cached_tokens=4
    )
    body = fake_openai.requests[-1].json()
    assert body["stream"] is False and "stream_options" not in body

    fake_openai.scenario.text = []
    fake_openai.scenario.tool_calls = [("call_9", "get_weather", '{"city": "Oslo"}')]
    events = await drain(openai_provider.stream(ask("gpt-4o-mini", stream=False)))
    assert kinds(events) == ["tool_call", "usage", "done"]
    assert events[0] == ToolCallEvent(id="call_9", name="get_weather", arguments='{"city": "Oslo"}')
    assert events[-1] == DoneEvent(finish_reason="tool_calls", streamed=False)


async def test_whole_answer_errors_map_like_streams(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next(429, "Rate limit reached for requests", retry_after=7)
    with pytest.raises(ProviderRateLimited) as caught:
        await drain(openai_provider.stream(ask("gpt-4o-mini", stream=False)))
    assert caught.value.retry_after == 7
    with pytest.raises(ModelNotFound):
        await drain(openai_provider.stream(ask("gpt-9-nonexistent", stream=False)))


async def test_reasoning_model_uses_responses_api_reasoning_then_text(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    request = ask("o4-mini", reasoning_effort="high", temperature=0.3, max_tokens=500)
    completion = await collect(openai_provider.stream(request))
    assert completion.reasoning == "Let me think about this."
    assert completion.text == "Hello world!"
    assert completion.usage == UsageEvent(
        input_tokens=12, output_tokens=34, reasoning_tokens=20, cached_tokens=4
    )
    assert completion.finish_reason == "stop"
    sent = fake_openai.requests[-1]
    assert sent.path == "/v1/responses"
    body = sent.json()
    assert body["reasoning"] == {"effort": "high", "summary": "auto"}
    assert body["max_output_tokens"] == 500
    assert "temperature" not in body  # reasoning models reject it
    assert body["store"] is False


async def test_responses_event_order(openai_provider: OpenAIProvider) -> None:
    events = await drain(openai_provider.stream(ask("gpt-5-mini")))
    assert kinds(events) == ["reasoning", "text", "usage", "done"]
    assert reasoning_text(events) == "Let me think about this."


async def test_api_selection_rule(fake_openai: FakeOpenAI) -> None:
    auto = OpenAIProvider(api_key="k", base_url=fake_openai.base_url)
    assert auto.uses_responses_api(ask("o3"))
    assert auto.uses_responses_api(ask("gpt-5"))
    assert not auto.uses_responses_api(ask("gpt-4o-mini"))
    assert auto.uses_responses_api(ask("gpt-4o-mini", web_search=True))
    assert not auto.uses_responses_api(ask("some-new-model", web_search=True))
    forced = OpenAIProvider(api_key="k", base_url=fake_openai.base_url, api_mode="chat")
    assert not forced.uses_responses_api(ask("o3"))
    await auto.aclose()
    await forced.aclose()


async def test_images_are_sent_as_data_urls(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    image = ImagePart(mime="image/png", data_b64="iVBORw0KGgo=")
    request = ChatRequest(
        model="gpt-4o-mini",
        system="Be brief.",
        messages=[ChatMessage(role="user", content="What is this?", images=[image])],
    )
    await drain(openai_provider.stream(request))
    messages = fake_openai.requests[-1].json()["messages"]
    assert messages[0] == {"role": "system", "content": "Be brief."}
    assert messages[1]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    await drain(openai_provider.stream(request.model_copy(update={"model": "o4-mini"})))
    body = fake_openai.requests[-1].json()
    assert body["instructions"] == "Be brief."
    assert body["input"][0]["content"][1] == {
        "type": "input_image",
        "image_url": "data:image/png;base64,iVBORw0KGgo=",
        "detail": "auto",
    }


@pytest.mark.parametrize("model", ["gpt-4o-mini", "o4-mini"])
async def test_error_mid_stream_becomes_error_event(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI, model: str
) -> None:
    fake_openai.scenario.error_after = 3
    events = await drain(openai_provider.stream(ask(model)))
    assert isinstance(events[-1], ErrorEvent)
    assert events[-1].code == "provider_unavailable" and events[-1].retryable
    assert "had an error" in events[-1].message
    assert not any(isinstance(e, DoneEvent) for e in events)
    assert len([e for e in events if e.type in ("text", "reasoning")]) >= 1


async def test_bad_key_is_auth_error_naming_provider_not_key(fake_openai: FakeOpenAI) -> None:
    provider = OpenAIProvider(
        api_key="sk-wrong-key-1234567890abcdef", base_url=fake_openai.base_url
    )
    with pytest.raises(ProviderAuthError) as caught:
        await drain(provider.stream(ask("gpt-4o-mini")))
    error = caught.value
    assert error.status_code == 502 and "openai" in error.detail
    assert "sk-wrong" not in error.detail and "cdef" not in error.detail
    assert error.__cause__ is None and error.__suppress_context__
    await provider.aclose()


@pytest.mark.parametrize("model", ["gpt-4o-mini", "o4-mini"])
async def test_unknown_model_is_model_not_found(
    openai_provider: OpenAIProvider, model: str
) -> None:
    missing = "gpt-0-nonexistent" if model == "gpt-4o-mini" else "o9-nonexistent"
    with pytest.raises(ModelNotFound) as caught:
        await drain(openai_provider.stream(ask(missing)))
    assert caught.value.status_code == 400
    assert "openai" in caught.value.detail and missing in caught.value.detail


async def test_rate_limit_carries_retry_after(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next(429, "Rate limit reached for requests", retry_after=7)
    with pytest.raises(ProviderRateLimited) as caught:
        await drain(openai_provider.stream(ask("gpt-4o-mini")))
    assert caught.value.retry_after == 7
    assert caught.value.headers == {"Retry-After": "7"}
    assert caught.value.status_code == 429


async def test_server_error_is_unavailable(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    fake_openai.fail_next(500, "The server had an error")
    with pytest.raises(ProviderUnavailable) as caught:
        await drain(openai_provider.stream(ask("o4-mini")))
    assert caught.value.retryable and caught.value.status_code == 502


async def test_timeout_before_first_token(fake_openai: FakeOpenAI) -> None:
    fake_openai.scenario.first_delay = 2.0
    provider = OpenAIProvider(
        api_key="sk-test-openai-0123456789abcdef",
        base_url=fake_openai.base_url,
        request_timeout=0.3,
    )
    with pytest.raises(ProviderTimeout) as caught:
        await drain(provider.stream(ask("gpt-4o-mini")))
    assert caught.value.status_code == 504
    await provider.aclose()


async def test_connection_refused_is_unavailable() -> None:
    provider = OpenAIProvider(api_key="sk-x", base_url="http://127.0.0.1:9/v1")
    with pytest.raises(ProviderUnavailable):
        await drain(provider.stream(ask("gpt-4o-mini")))
    await provider.aclose()


@pytest.mark.parametrize("model", ["gpt-4o-mini", "o4-mini"])
async def test_closing_the_stream_closes_upstream(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI, model: str
) -> None:
    fake_openai.scenario.hold_open = True
    waited = await close_after_first_event(openai_provider.stream(ask(model)), fake_openai)
    assert waited < 1.0


async def test_list_models_filters_to_chat_models(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    fake_openai.models.append("text-embedding-3-small")
    try:
        models = await openai_provider.list_models()
    finally:
        fake_openai.models.remove("text-embedding-3-small")
    assert models == sorted(["gpt-4o-mini", "gpt-4.1", "gpt-5-mini", "o4-mini"])


async def test_unverified_org_falls_back_to_no_summaries(
    openai_provider: OpenAIProvider, fake_openai: FakeOpenAI
) -> None:
    fake_openai.summaries_allowed = False
    completion = await collect(openai_provider.stream(ask("o4-mini")))
    assert completion.text == "Hello world!" and completion.error is None
    assert completion.usage.reasoning_tokens == 20  # reasoning still counted
    assert [r.json().get("reasoning") for r in fake_openai.requests] == [{"summary": "auto"}, None]
    await collect(openai_provider.stream(ask("o4-mini")))  # no more summary requests
    assert fake_openai.requests[-1].json().get("reasoning") is None
