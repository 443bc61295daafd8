"""Gemini adapter (google-genai) against a fake streamGenerateContent?alt=sse server."""

from __future__ import annotations

import pytest

from llm_platform.providers.base import (
    ChatMessage,
    ChatRequest,
    DoneEvent,
    ErrorEvent,
    ImagePart,
    UsageEvent,
    collect,
)
from llm_platform.providers.errors import (
    ModelNotFound,
    ProviderAuthError,
    ProviderRateLimited,
    ProviderUnavailable,
)
from llm_platform.providers.google import GoogleProvider
from tests.support.fake_servers import FakeGemini
from tests.support.fake_servers.gemini_server import camel_keys
from tests.support.providers import (
    answer_text,
    ask,
    close_after_first_event,
    drain,
    kinds,
    reasoning_text,
)


async def test_thought_parts_then_text_and_usage(
    google_provider: GoogleProvider, fake_gemini: FakeGemini
) -> None:
    events = await drain(google_provider.stream(ask("gemini-2.5-flash", reasoning_effort="low")))
    assert kinds(events) == ["reasoning", "text", "usage", "done"]
    assert reasoning_text(events) == "Let me think about this."
    assert answer_text(events) == "Hello world!"
    usage = next(e for e in events if isinstance(e, UsageEvent))
    # output = candidates (14) + thoughts (20)
    assert usage == UsageEvent(
        input_tokens=12, output_tokens=34, reasoning_tokens=20, cached_tokens=4
    )
    assert events[-1] == DoneEvent(finish_reason="stop")
    sent = fake_gemini.requests[-1]
    assert sent.path.endswith("/models/gemini-2.5-flash:streamGenerateContent")
    assert sent.query["alt"] == "sse"
    config = camel_keys(sent.json())["generationConfig"]
    assert config["thinkingConfig"] == {"includeThoughts": True, "thinkingBudget": 1024}


async def test_request_shape_system_history_images(
    google_provider: GoogleProvider, fake_gemini: FakeGemini
) -> None:
    request = ChatRequest(
        model="gemini-3-pro-preview",
        system="Be brief.",
        temperature=0.4,
        max_tokens=256,
        reasoning_effort="high",
        messages=[
            ChatMessage(role="user", content="Hi"),
            ChatMessage(role="assistant", content="Hello!"),
            ChatMessage(
                role="user",
                content="What is in the picture?",
                images=[ImagePart(mime="image/png", data_b64="iVBORw0KGgo=")],
            ),
        ],
    )
    completion = await collect(google_provider.stream(request))
    assert completion.text == "Hello world!"
    body = camel_keys(fake_gemini.requests[-1].json())
    assert body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["contents"][2]["parts"][0] == {
        "inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}
    }
    config = body["generationConfig"]
    assert config["temperature"] == 0.4 and config["maxOutputTokens"] == 256
    assert config["thinkingConfig"] == {"includeThoughts": True, "thinkingLevel": "HIGH"}


async def test_non_thinking_model_gets_no_thinking_config(
    google_provider: GoogleProvider, fake_gemini: FakeGemini
) -> None:
    events = await drain(google_provider.stream(ask("gemini-2.0-flash")))
    assert kinds(events) == ["text", "usage", "done"]
    body = camel_keys(fake_gemini.requests[-1].json())
    assert "thinkingConfig" not in (body.get("generationConfig") or {})


async def test_error_mid_stream(google_provider: GoogleProvider, fake_gemini: FakeGemini) -> None:
    fake_gemini.scenario.error_after = 3
    events = await drain(google_provider.stream(ask("gemini-2.5-flash")))
    assert kinds(events) == ["reasoning", "text", "error"]
    error = events[-1]
    assert isinstance(error, ErrorEvent) and error.code == "provider_unavailable"


async def test_bad_key_is_auth_error(fake_gemini: FakeGemini) -> None:
    provider = GoogleProvider(api_key="AIzaWrongKey000000000000", base_url=fake_gemini.base_url)
    with pytest.raises(ProviderAuthError) as caught:
        await drain(provider.stream(ask("gemini-2.5-flash")))
    assert caught.value.status_code == 502 and "google" in caught.value.detail
    assert "AIza" not in caught.value.detail
    await provider.aclose()


async def test_status_mapping(google_provider: GoogleProvider, fake_gemini: FakeGemini) -> None:
    with pytest.raises(ModelNotFound) as missing:
        await drain(google_provider.stream(ask("gemini-9-ultra")))
    assert "gemini-9-ultra" in missing.value.detail

    fake_gemini.fail_next(429, "Resource has been exhausted (e.g. check quota).", retry_after=13)
    with pytest.raises(ProviderRateLimited) as limited:
        await drain(google_provider.stream(ask("gemini-2.5-flash")))
    assert limited.value.retry_after == 13

    fake_gemini.fail_next(503, "The model is overloaded. Please try again later.")
    with pytest.raises(ProviderUnavailable):
        await drain(google_provider.stream(ask("gemini-2.5-flash")))


async def test_closing_the_stream_closes_upstream(
    google_provider: GoogleProvider, fake_gemini: FakeGemini
) -> None:
    fake_gemini.scenario.hold_open = True
    stream = google_provider.stream(ask("gemini-2.5-flash"))
    assert await close_after_first_event(stream, fake_gemini) < 1.0


async def test_list_models_keeps_generate_content_models(google_provider: GoogleProvider) -> None:
    models = await google_provider.list_models()
    assert "gemini-2.5-flash" in models and "text-embedding-004" not in models
