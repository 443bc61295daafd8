"""The OpenAI-compatible facade driven by the official `openai` client over real sockets."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from llm_platform.core.config import Settings
from llm_platform.providers.base import DoneEvent, ToolCallEvent, ToolSpec, UsageEvent
from llm_platform.providers.errors import ProviderRateLimited
from llm_platform.providers.scripted import (
    Fail,
    ScriptedProvider,
    reasoning_events,
    text_events,
    tool_call_events,
)
from llm_platform.providers.tools import validate_arguments
from tests.support.fake_servers import OPENAI_TEST_KEY, FakeOpenAI
from tests.support.query import FAST, live_server

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

SCRIPT = [
    *reasoning_events("Let me think."),
    *text_events("Paris is the capital."),
    UsageEvent(input_tokens=12, output_tokens=8, reasoning_tokens=3, cached_tokens=2),
    DoneEvent(finish_reason="stop"),
]


def provider_of(app: Any) -> ScriptedProvider:
    provider = app.state.platform.query.registry.get("scripted")
    assert isinstance(provider, ScriptedProvider)
    return provider


async def logged(app: Any) -> list[Any]:
    from sqlalchemy import select

    from llm_platform.db.models import Query

    await app.state.platform.query.log_writer.flush()
    async with app.state.platform.db.read_sessions() as session:
        return list((await session.scalars(select(Query).order_by(Query.created_at))).all())


async def participant_key(app: Any, user_id: str = "alice") -> str:
    """A participant's API key: what an OpenAI client sends as its `api_key` (every caller
    proves who it is with `Authorization: Bearer`, the header the client sends)."""
    from llm_platform.services.users import create_user_with_key

    async with app.state.platform.db.write_sessions() as session, session.begin():
        issued = await create_user_with_key(session, user_id, role="participant")
    return issued.key


async def test_openai_client_streaming_and_not(make_settings: Callable[..., Settings]) -> None:
    async with live_server(make_settings(**FAST)) as (url, app):
        client = openai.AsyncOpenAI(
            base_url=f"{url}/v1",
            api_key=await participant_key(app, "alice"),
            max_retries=0,
        )
        provider = provider_of(app)
        messages: Any = [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Capital of France?"},
        ]

        provider.queue(SCRIPT)
        completion = await client.chat.completions.create(
            model="scripted:echo", messages=messages, temperature=0.2
        )
        assert completion.choices[0].message.content == "Paris is the capital."
        assert completion.choices[0].message.reasoning_content == "Let me think."  # type: ignore[attr-defined]
        assert completion.choices[0].finish_reason == "stop"
        assert completion.model == "scripted:echo"
        assert completion.usage is not None
        assert completion.usage.prompt_tokens == 12 and completion.usage.completion_tokens == 8
        assert completion.usage.completion_tokens_details.reasoning_tokens == 3  # type: ignore[union-attr]
        sent = provider.last.request
        assert sent.system == "Be brief." and sent.temperature == 0.2
        assert sent.stream is False  # the client's own choice, passed on to the provider

        provider.queue(SCRIPT)
        stream = await client.chat.completions.create(
            model="scripted:echo",
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )
        reasoning, content, finish, usage = [], [], None, None
        async for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                delta: Any = choice.delta
                if getattr(delta, "reasoning_content", None):
                    reasoning.append(delta.reasoning_content)
                    assert not content, "reasoning comes before the answer"
                if delta.content:
                    content.append(delta.content)
                finish = choice.finish_reason or finish
        assert "".join(reasoning) == "Let me think."
        assert "".join(content) == "Paris is the capital."
        assert finish == "stop"
        assert usage is not None and usage.total_tokens == 20

        assert provider.last.request.stream is True
        rows = await logged(app)
        assert [r.user_id for r in rows] == ["alice", "alice"]
        assert [r.status for r in rows] == ["ok", "ok"]
        # The scripted provider streams either way: both calls have a first-token time.
        assert rows[0].ttft_ms is not None and rows[1].ttft_ms is not None
        assert rows[1].response_text == "Paris is the capital."
        assert rows[1].request["system"] == "Be brief."

        models = await client.models.list()
        assert "scripted:echo" in [m.id for m in models.data]


async def test_errors_use_openai_shape(make_settings: Callable[..., Settings]) -> None:
    async with live_server(make_settings(**FAST, PROVIDER_MAX_RETRIES=0)) as (url, app):
        key = await participant_key(app)
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        msg: Any = [{"role": "user", "content": "hi"}]
        with pytest.raises(openai.BadRequestError) as bad:
            await client.chat.completions.create(model="nope:model", messages=msg)
        assert "nope" in bad.value.message
        assert bad.value.body["type"] == "invalid_request_error"  # type: ignore[index]

        provider_of(app).queue([Fail(ProviderRateLimited("scripted", "Too fast", retry_after=3))])
        with pytest.raises(openai.RateLimitError) as limited:
            await client.chat.completions.create(model="scripted:echo", messages=msg, stream=True)
        assert limited.value.response.headers["retry-after"] == "3"

        async with httpx.AsyncClient(headers={"Authorization": f"Bearer {key}"}) as http:
            r = await http.post(f"{url}/v1/chat/completions", json={"model": "x"})
            assert r.status_code == 400
            assert set(r.json()["error"]) == {"message", "type", "param", "code"}
            r = await http.post(
                f"{url}/v1/chat/completions",
                json={
                    "model": "scripted:echo",
                    "messages": [{"role": "assistant", "content": "x"}],
                },
            )
            assert r.status_code == 400 and "last message" in r.json()["error"]["message"]

        # Unsupported features are refused, never silently dropped.
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(model="scripted:echo", messages=msg, n=2)


async def test_images_as_data_urls(make_settings: Callable[..., Settings]) -> None:
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 8).decode()
    async with live_server(make_settings(**FAST)) as (url, app):
        key = await participant_key(app)
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        msg: Any = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                ],
            }
        ]
        completion = await client.chat.completions.create(model="scripted:echo", messages=msg)
        assert completion.choices[0].message.content == "You said: What is this?"
        assert provider_of(app).last.request.messages[-1].images[0].mime == "image/png"


async def test_facade_in_front_of_a_real_openai_server(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """The whole gateway path: the official client -> the facade -> the `openai` adapter (the
    SDK on the lean transport) -> an OpenAI-speaking server, streaming and not: the upstream
    gets the client's `stream` choice, the answers and usage come back unchanged."""
    settings = make_settings(
        **FAST, OPENAI_API_KEY=OPENAI_TEST_KEY, OPENAI_BASE_URL=fake_openai.base_url
    )
    async with live_server(settings) as (url, app):
        key = await participant_key(app)
        client = openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)
        messages: Any = [{"role": "user", "content": "Hi"}]
        for _ in range(2):  # the second call reuses the pooled upstream connection
            completion = await client.chat.completions.create(
                model="openai:gpt-4o-mini", messages=messages
            )
            assert completion.choices[0].message.content == "Hello world!"
            assert completion.usage is not None and completion.usage.prompt_tokens == 12
        assert fake_openai.requests[-1].json()["stream"] is False

        stream = await client.chat.completions.create(
            model="openai:gpt-4o-mini",
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
        )
        pieces, usage = [], None
        async for chunk in stream:
            usage = chunk.usage or usage
            pieces += [c.delta.content or "" for c in chunk.choices]
        assert "".join(pieces) == "Hello world!"
        assert usage is not None and usage.completion_tokens == 34
        assert fake_openai.requests[-1].json()["stream"] is True
        rows = await logged(app)
        assert [r.response_text for r in rows] == ["Hello world!"] * 3
        # Answers that came in one piece have no first-token time; the streamed one has.
        assert [r.ttft_ms is None for r in rows] == [True, True, False]
        assert all(r.latency_ms is not None for r in rows)


# --------------------------------------------------------------------------- tool calling

PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
    "required": ["city"],
    "additionalProperties": False,
}
TOOLS: Any = [
    {
        "type": "function",
        "function": {"name": "get_weather", "description": "Forecast", "parameters": PARAMETERS},
    },
    {"type": "function", "function": {"name": "get_time"}},
]
CALLS = (
    ("call_1", "get_weather", '{"city": "Paris", "days": 2}'),
    ("call_2", "get_time", "{}"),
)
QUESTION: Any = [{"role": "user", "content": "Weather and time in Paris?"}]


async def client_for(app: Any, url: str) -> openai.AsyncOpenAI:
    key = await participant_key(app, "alice")
    return openai.AsyncOpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0)


async def streamed_calls(stream: Any) -> tuple[list[dict[str, str]], str | None, list[Any]]:
    """Tool calls assembled from `delta.tool_calls` chunks as an OpenAI client does."""
    calls: dict[int, dict[str, str]] = {}
    finish, deltas = None, []
    async for chunk in stream:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                deltas.append(delta)
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                if delta.function is not None:
                    call["name"] += delta.function.name or ""
                    call["arguments"] += delta.function.arguments or ""
    return [calls[i] for i in sorted(calls)], finish, deltas


async def test_tool_calls_stream_and_not_then_a_second_round(
    make_settings: Callable[..., Settings],
) -> None:
    async with live_server(make_settings(**FAST)) as (url, app):
        client = await client_for(app, url)
        provider = provider_of(app)

        provider.queue(tool_call_events(*CALLS))
        completion = await client.chat.completions.create(
            model="scripted:echo",
            messages=QUESTION,
            tools=TOOLS,
            tool_choice="required",
            parallel_tool_calls=True,
        )
        choice = completion.choices[0]
        assert choice.finish_reason == "tool_calls"
        assert choice.message.content is None
        calls = choice.message.tool_calls or []
        assert [(c.id, c.type, c.function.name, c.function.arguments) for c in calls] == [
            (i, "function", n, a) for i, n, a in CALLS
        ]
        sent = provider.last.request
        assert sent.tools == [
            ToolSpec(name="get_weather", description="Forecast", parameters=PARAMETERS),
            ToolSpec(name="get_time", parameters={"type": "object", "properties": {}}),
        ]
        assert sent.tool_choice == "required" and sent.parallel_tool_calls is True
        # The caller checks the arguments against the tool's schema before running it.
        spec = sent.tools[0]
        assert validate_arguments(
            spec,
            ToolCallEvent(
                id="c", name=calls[0].function.name, arguments=calls[0].function.arguments
            ),
        ) == {
            "city": "Paris",
            "days": 2,
        }

        long_args = json.dumps({"city": "Llanfairpwllgwyngyll " * 8, "days": 3})
        provider.queue(tool_call_events(("call_9", "get_weather", long_args), CALLS[1]))
        stream = await client.chat.completions.create(
            model="scripted:echo",
            messages=QUESTION,
            tools=TOOLS,
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
            stream=True,
        )
        assembled, finish, deltas = await streamed_calls(stream)
        assert finish == "tool_calls"
        assert assembled == [
            {"id": "call_9", "name": "get_weather", "arguments": long_args},
            {"id": "call_2", "name": "get_time", "arguments": "{}"},
        ]
        assert len([d for d in deltas if d.index == 0]) > 2  # arguments came in pieces
        assert deltas[0].id == "call_9" and deltas[0].function.arguments == ""
        assert provider.last.request.tool_choice == "get_weather"

        # Second round: the assistant's calls and the tools' results go back.
        provider.queue([*text_events("Sunny, and it is noon.")])
        rounds: Any = [
            *QUESTION,
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
                    for i, n, a in CALLS
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"sky": "sunny"}'},
            {"role": "tool", "tool_call_id": "call_2", "content": "12:00"},
        ]
        answer = await client.chat.completions.create(
            model="scripted:echo", messages=rounds, tools=TOOLS
        )
        assert answer.choices[0].message.content == "Sunny, and it is noon."
        assert answer.choices[0].finish_reason == "stop"
        messages = provider.last.request.messages
        assert [m.role for m in messages] == ["user", "assistant", "tool", "tool"]
        assert [c.name for c in messages[1].tool_calls] == ["get_weather", "get_time"]
        assert (messages[2].tool_call_id, messages[2].content) == ("call_1", '{"sky": "sunny"}')

        rows = await logged(app)
        assert [r.tool_calls is not None for r in rows] == [True, True, False]
        assert rows[0].tool_calls == [{"id": i, "name": n, "arguments": a} for i, n, a in CALLS]
        assert rows[0].request["tools"][0]["name"] == "get_weather"
        assert rows[0].request["tool_choice"] == "required"
        assert [m["role"] for m in rows[2].request["tool_rounds"]] == ["assistant", "tool", "tool"]
        assert rows[2].response_text == "Sunny, and it is noon."


async def test_bad_tool_declarations_and_rounds_are_400s(
    make_settings: Callable[..., Settings],
) -> None:
    async with live_server(make_settings(**FAST)) as (url, app):
        client = await client_for(app, url)
        bad_schema: Any = [
            {"type": "function", "function": {"name": "f", "parameters": {"type": "nonsense"}}}
        ]
        with pytest.raises(openai.BadRequestError) as invalid:
            await client.chat.completions.create(
                model="scripted:echo", messages=QUESTION, tools=bad_schema
            )
        assert "not a valid JSON Schema" in invalid.value.message
        assert invalid.value.body["code"] == "tool_schema_invalid"  # type: ignore[index]

        not_object: Any = [
            {"type": "function", "function": {"name": "f", "parameters": {"type": "array"}}}
        ]
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(
                model="scripted:echo", messages=QUESTION, tools=not_object
            )
        bad_name: Any = [{"type": "function", "function": {"name": "no spaces allowed"}}]
        with pytest.raises(openai.BadRequestError):
            await client.chat.completions.create(
                model="scripted:echo", messages=QUESTION, tools=bad_name
            )
        with pytest.raises(openai.BadRequestError) as unknown:
            await client.chat.completions.create(
                model="scripted:echo",
                messages=QUESTION,
                tools=TOOLS,
                tool_choice={"type": "function", "function": {"name": "nope"}},
            )
        assert "nope" in unknown.value.message
        orphan: Any = [
            *QUESTION,
            {"role": "tool", "tool_call_id": "call_x", "content": "?"},
        ]
        with pytest.raises(openai.BadRequestError) as unanswered:
            await client.chat.completions.create(
                model="scripted:echo", messages=orphan, tools=TOOLS
            )
        assert "call_x" in unanswered.value.message
        assert provider_of(app).calls == []  # nothing reached the model


async def test_tool_calls_from_a_real_openai_server_through_the_facade(
    make_settings: Callable[..., Settings], fake_openai: FakeOpenAI
) -> None:
    """client -> facade -> `openai` adapter -> an OpenAI-speaking server streaming calls."""
    settings = make_settings(
        **FAST, OPENAI_API_KEY=OPENAI_TEST_KEY, OPENAI_BASE_URL=fake_openai.base_url
    )
    fake_openai.scenario.text = []
    fake_openai.scenario.tool_calls = list(CALLS)
    async with live_server(settings) as (url, app):
        client = await client_for(app, url)
        stream = await client.chat.completions.create(
            model="openai:gpt-4o-mini", messages=QUESTION, tools=TOOLS, stream=True
        )
        assembled, finish, _ = await streamed_calls(stream)
        assert finish == "tool_calls"
        assert assembled == [{"id": i, "name": n, "arguments": a} for i, n, a in CALLS]
        upstream = fake_openai.requests[-1].json()
        assert [t["function"]["name"] for t in upstream["tools"]] == ["get_weather", "get_time"]

        whole = await client.chat.completions.create(
            model="openai:gpt-4o-mini", messages=QUESTION, tools=TOOLS
        )
        assert [c.function.name for c in whole.choices[0].message.tool_calls or []] == [
            "get_weather",
            "get_time",
        ]
        assert whole.choices[0].finish_reason == "tool_calls"
