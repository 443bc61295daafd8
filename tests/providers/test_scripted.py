from __future__ import annotations

import asyncio

import pytest

from llm_platform.providers.base import (
    ChatMessage,
    ChatRequest,
    ReasoningDelta,
    TextDelta,
    UsageEvent,
    collect,
)
from llm_platform.providers.errors import ModelNotFound, ProviderRateLimited
from llm_platform.providers.scripted import Delay, Fail, Hang, ScriptedProvider, text_events


def request(model: str = "echo", text: str = "hi there") -> ChatRequest:
    return ChatRequest(model=model, messages=[ChatMessage(role="user", content=text)])


async def test_demo_echo_reasons_then_answers_and_records_the_call() -> None:
    provider = ScriptedProvider(token_delay=0)
    events = [e async for e in provider.stream(request())]
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("ReasoningDelta") < kinds.index("TextDelta")
    completion = await collect(_replay(events))
    assert completion.text == "You said: hi there"
    assert "repeat" in completion.reasoning
    assert completion.usage.input_tokens == 2
    assert provider.calls[0].request.model == "echo"
    assert provider.calls[0].outcome == "completed"


async def _replay(events: list) -> object:  # type: ignore[type-arg]
    for event in events:
        yield event


async def test_queued_scripts_play_in_order_then_the_fixed_script() -> None:
    provider = ScriptedProvider(script=[TextDelta(text="default")])
    provider.queue([Fail(ProviderRateLimited("scripted", retry_after=0))], text_events("a b"))
    with pytest.raises(ProviderRateLimited):
        await provider.complete(request())
    assert (await provider.complete(request())).text == "a b"
    assert (await provider.complete(request())).text == "default"
    assert [c.outcome for c in provider.calls] == ["failed", "completed", "completed"]


async def test_script_function_sees_the_request_and_call_index() -> None:
    provider = ScriptedProvider(script=lambda req, i: [TextDelta(text=f"{req.model}-{i}")])
    assert (await provider.complete(request("m"))).text == "m-0"
    assert (await provider.complete(request("m"))).text == "m-1"


async def test_the_record_of_calls_keeps_only_the_last_ones() -> None:
    """A demo server (ENABLE_SCRIPTED_PROVIDER) answering for hours keeps a bounded record;
    a script function still sees every call's index."""
    provider = ScriptedProvider(script=lambda req, i: [TextDelta(text=str(i))], max_calls=3)
    answers = [(await provider.complete(request(text=f"q{n}"))).text for n in range(7)]
    assert answers == [str(n) for n in range(7)]
    assert [c.request.messages[0].content for c in provider.calls] == ["q4", "q5", "q6"]


async def test_demo_grounded_answers_from_the_first_source_and_cites_it() -> None:
    provider = ScriptedProvider(token_delay=0)
    system = (
        "Answer using the numbered sources below.\n\n"
        "[1] notes.pdf, page 2\nChapter 2\nHiking on Saturday. The offsite is in Grenoble.\n\n"
        "[2] other.txt\nWhere is the offsite? Unrelated."
    )
    grounded = request("grounded", "Where is the offsite?").model_copy(update={"system": system})
    answer = await provider.complete(grounded)
    assert answer.text == "According to notes.pdf, page 2: The offsite is in Grenoble [1]."
    assert (await provider.complete(request("grounded"))).text == "I have no source for that."


async def test_unknown_demo_model_fails_before_first_token() -> None:
    with pytest.raises(ModelNotFound):
        await ScriptedProvider().complete(request("nope"))


async def test_cancellation_is_recorded() -> None:
    provider = ScriptedProvider(script=[ReasoningDelta(text="x"), Hang()])

    async def consume() -> None:
        async for _ in provider.stream(request()):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.05)
    assert provider.active == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert provider.last.outcome == "cancelled"
    assert provider.active == 0


async def test_closing_the_stream_early_is_recorded() -> None:
    provider = ScriptedProvider(script=[TextDelta(text="a"), Delay(0.01), UsageEvent()])
    stream = provider.stream(request())
    await anext(stream)  # type: ignore[call-overload]
    await stream.aclose()  # type: ignore[attr-defined]
    assert provider.last.outcome == "closed"
