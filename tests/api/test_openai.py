"""The OpenAI-compatible facade driven by the official `openai` client over real sockets."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from llm_platform.core.config import Settings
from llm_platform.providers.base import DoneEvent, UsageEvent
from llm_platform.providers.errors import ProviderRateLimited
from llm_platform.providers.scripted import Fail, ScriptedProvider, reasoning_events, text_events
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
        tool = {"type": "function", "function": {"name": "f", "parameters": {}}}
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(model="scripted:echo", messages=msg, tools=[tool])
        assert "tool calling is not supported" in refused.value.message
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
