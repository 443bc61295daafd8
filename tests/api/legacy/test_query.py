"""The old client's chat against the scripted provider: its exact requests, its stream parser.

The scripted provider reasons, answers token by token and cites; no key is configured, so the
old client's `openai` / `gpt-4o-mini-search-preview` falls back to the server's default
provider (the scripted one), with a `status` line saying so.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from llm_platform.core.config import Settings
from llm_platform.providers.base import (
    CitationEvent,
    DoneEvent,
    ErrorEvent,
    ReasoningDelta,
    TextDelta,
    UsageEvent,
)
from llm_platform.providers.errors import ProviderUnavailable
from llm_platform.providers.scripted import Delay, Fail, reasoning_events, text_events
from llm_platform.providers.sse import aiter_events
from tests.conftest import AppClient, staff_headers
from tests.support.legacy_client import (
    chat_body,
    messages_from_events,
    start_body,
    stream_chat,
)
from tests.support.query import live_server, parse_sse, query_client, scripted

sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

REASONING = "The user asks about Oslo.\nI should check the population figures."
ANSWER = "Oslo has about 700 000 people."
SCRIPT = [
    *reasoning_events(REASONING),
    *text_events(ANSWER),
    CitationEvent(title="Statistics Norway", url="https://www.ssb.no/en", snippet="709 037"),
    CitationEvent(title="Oslo kommune", url="https://www.oslo.kommune.no"),
    UsageEvent(input_tokens=120, output_tokens=40, reasoning_tokens=12),
    DoneEvent(finish_reason="stop"),
]
PNG = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"
    )
).decode()


async def logged(client: AppClient) -> list[dict[str, Any]]:
    await client.app.state.platform.query.log_writer.flush()
    r = await client.get("/api/v1/queries", headers=await staff_headers(client))
    return list(r.json()["items"])


async def test_chat_streams_thinking_answer_citations_and_reloads(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings, LEGACY_CLIENT_COMPAT=True) as client:
        await client.post("/api/v1/session/start", json=start_body("s-1", "u-1"))
        scripted(client).queue(SCRIPT)
        view = await stream_chat(client, chat_body("How many people live in Oslo?"))

        assert view.done and view.errors == []
        assert view.statuses[0] == (
            "openai is not configured on this server: answering with scripted:echo instead."
        )
        # Reasoning shows live as the line being written.
        assert view.statuses[1:] == [
            "The",
            "The user",
            "The user asks",
            "The user asks about",
            "I",  # the delta "Oslo.\nI " starts a new line, which replaces the old one
            "I should",
            "I should check",
            "I should check the",
            "I should check the population",
            "I should check the population figures.",
        ]
        # Real token deltas, one chunk per provider delta, not a finished answer cut up.
        assert view.chunks == [e.text for e in SCRIPT if isinstance(e, TextDelta)]
        assert view.answer == ANSWER
        assert [(c["title"], c["url"]) for c in view.citations] == [
            ("Statistics Norway", "https://www.ssb.no/en"),
            ("Oslo kommune", "https://www.oslo.kommune.no"),
        ]
        assert view.final is not None
        assert view.final["options"] == [] and view.final["memory_context"] == {}
        assert view.final["metadata"]["model"] == "echo"
        query_id = view.final["metadata"]["query_id"]

        # Reloading the chat: the old client rebuilds it from the session's events.
        await client.app.state.platform.query.log_writer.flush()
        session = (await client.get("/api/v1/session/s-1?include_events=true")).json()
        assert messages_from_events(session["events"]) == [
            {"role": "user", "content": "How many people live in Oslo?"},
            {
                "role": "assistant",
                "content": ANSWER,
                "citations": [
                    {
                        "title": "Statistics Norway",
                        "url": "https://www.ssb.no/en",
                        "snippet": "709 037",
                    },
                    {"title": "Oslo kommune", "url": "https://www.oslo.kommune.no"},
                ],
            },
        ]
        prompt, response = session["events"]
        assert prompt["data"]["query_id"] == response["data"]["query_id"] == query_id
        assert response["data"]["model"] == "echo"

        # The call is logged with everything the old client sent.
        row = (await logged(client))[0]
        assert row["id"] == query_id and row["session_id"] == "s-1"
        assert row["provider"] == "scripted" and row["model"] == "echo"
        assert row["response_text"] == ANSWER and row["reasoning_text"] == REASONING
        request = row["request"]
        assert request["model_provider"] == "openai"
        assert request["model_name"] == "gpt-4o-mini-search-preview"
        assert request["use_memory"] is True and request["mode"] == "chat"
        assert request["web_search"] is True and request["client"] == "legacy"
        assert request["location"] == {"latitude": 59.91, "longitude": 10.75, "accuracy": 20}
        assert request["notices"] == [view.statuses[0]]

        # ... and shows up in the old history and token dashboard routes.
        history = (await client.get("/api/v1/query/history/u-1?session_id=s-1")).json()
        assert history["queries"][0]["query"] == "How many people live in Oslo?"
        assert history["queries"][0]["response"] == ANSWER
        tokens = (await client.get("/tokens/data", headers=await staff_headers(client))).json()
        assert tokens["queries"][0]["tokens"] == {"prompt": 120, "completion": 40, "total": 160}
        assert tokens["filters"] == {"providers": ["scripted"], "models": ["echo"]}


async def test_second_turn_sends_history_and_reload_keeps_order(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings, LEGACY_CLIENT_COMPAT=True) as client:
        await client.post("/api/v1/session/start", json=start_body("s-2", "u-1"))
        first = await stream_chat(client, chat_body("hello", "s-2", model_provider="scripted"))
        history = [
            {"role": "user", "content": "hello"},
            {"role": "assistant", "content": first.answer},
        ]
        second = await stream_chat(
            client, chat_body("and again", "s-2", model_provider="scripted", history=history)
        )
        assert first.answer == "You said: hello" and second.answer == "You said: and again"
        sent = scripted(client).last.request.messages
        assert [(m.role, m.content) for m in sent] == [
            *[(h["role"], h["content"]) for h in history],
            ("user", "and again"),
        ]
        await client.app.state.platform.query.log_writer.flush()
        session = (await client.get("/api/v1/session/s-2?include_events=true")).json()
        assert [(m["role"], m["content"]) for m in messages_from_events(session["events"])] == [
            ("user", "hello"),
            ("assistant", "You said: hello"),
            ("user", "and again"),
            ("assistant", "You said: and again"),
        ]


async def test_unknown_model_falls_back_to_the_providers_default(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings, LEGACY_CLIENT_COMPAT=True) as client:
        view = await stream_chat(
            client,
            chat_body("hi", "s-3", model_provider="scripted", model_name="x-ai/grok-3-mini:online"),
        )
        assert view.statuses[0] == (
            "scripted:x-ai/grok-3-mini:online is not available on this server: answering with "
            "scripted:echo instead."
        )
        assert view.answer == "You said: hi" and view.done
        # A model the provider has is used as asked, without a notice.
        view = await stream_chat(
            client, chat_body("hi", "s-3", model_provider="scripted", model_name="plain")
        )
        assert view.statuses == [] and view.final is not None
        assert view.final["metadata"]["model"] == "plain"


async def test_format_selection(make_settings: Callable[..., Settings]) -> None:
    async with query_client(make_settings) as client:  # LEGACY_CLIENT_COMPAT off (default)
        body = chat_body("hi", "s-4", model_provider="scripted", model_name="echo")
        r = await client.post("/api/v1/query/stream", json=body)
        assert r.status_code == 200
        frames = parse_sse(r.text)
        assert frames[0]["_event"] == "start" and frames[-1] == {"_done": True}
        r = await client.post("/api/v1/query/stream?format=legacy", json=body)
        assert r.status_code == 200 and "event:" not in r.text
        assert '"type":"chunk"' in r.text and r.text.endswith("data: [DONE]\n\n")
        r = await client.post("/api/v1/query/stream?format=xml", json=body)
        assert r.status_code == 422

    async with query_client(make_settings, LEGACY_CLIENT_COMPAT=True) as client:
        r = await client.post("/api/v1/query/stream?format=platform", json=body)
        assert r.status_code == 200 and parse_sse(r.text)[0]["_event"] == "start"
        r = await client.post("/api/v1/query/stream", json=body)
        assert '"type":"final"' in r.text and "event:" not in r.text


async def test_midstream_error_then_done(make_settings: Callable[..., Settings]) -> None:
    async with query_client(make_settings, LEGACY_CLIENT_COMPAT=True) as client:
        scripted(client).queue(
            [*text_events("This answer stops"), ErrorEvent(message="Upstream broke")]
        )
        view = await stream_chat(client, chat_body("q", "s-5", model_provider="scripted"))
        assert view.answer == "This answer stops"
        assert view.errors == ["Upstream broke"] and view.done and view.final is None
        row = (await logged(client))[0]
        assert row["status"] == "incomplete" and row["response_text"] == "This answer stops"


async def test_failure_before_the_first_token_is_an_http_error(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(
        make_settings, LEGACY_CLIENT_COMPAT=True, PROVIDER_MAX_RETRIES=0
    ) as client:
        scripted(client).queue([Fail(ProviderUnavailable("scripted", "down"))])
        r = await client.post(
            "/api/v1/query/stream", json=chat_body("q", "s-6", model_provider="scripted")
        )
        # The old client shows "Failed to fetch response: Query failed: 502".
        assert r.status_code == 502 and r.json()["detail"] == "down"
        r = await client.post("/api/v1/query/stream", json=chat_body("   ", "s-6"))
        assert r.status_code in (400, 422)


async def test_image_attachment_reaches_the_model(make_settings: Callable[..., Settings]) -> None:
    async with query_client(make_settings, LEGACY_CLIENT_COMPAT=True) as client:
        await client.post("/api/v1/session/start", json=start_body("s-7", "u-1"))
        attachment = {
            "type": "image",
            "name": "dot.png",
            "mime": "image/png",
            "base64": f"data:image/png;base64,{PNG}",
            "size": 70,
        }
        body = chat_body(
            "what is this?", "s-7", model_provider="scripted", attachments=[attachment]
        )
        view = await stream_chat(client, body)
        assert view.done and view.answer == "You said: what is this?"
        image = scripted(client).last.request.messages[-1].images[0]
        assert image.mime == "image/png" and base64.b64decode(image.data_b64)[:4] == b"\x89PNG"
        await client.app.state.platform.query.log_writer.flush()
        events = (await client.get("/api/v1/sessions/s-7/events")).json()["items"]
        prompt = next(e for e in events if e["type"] == "prompt")
        assert prompt["data"]["attachments"][0]["name"] == "dot.png"
        assert prompt["data"]["attachments"][0]["type"] == "image"


async def test_non_streaming_query(make_settings: Callable[..., Settings]) -> None:
    async with query_client(make_settings) as client:
        scripted(client).queue(SCRIPT)
        r = await client.post("/api/v1/query/", json=chat_body("How many?", "s-8"))
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["response"] == ANSWER
        assert answer["citations"][0]["url"] == "https://www.ssb.no/en"
        assert answer["product_cards"] == [] and answer["options"] == []
        assert answer["memory_context"] == {}
        assert answer["notices"][0].startswith("openai is not configured")
        assert answer["model"] == "echo" and answer["query_id"]


async def test_query_claims_a_session_opened_by_early_events(
    make_settings: Callable[..., Settings],
) -> None:
    async with query_client(make_settings, LEGACY_CLIENT_COMPAT=True) as client:
        r = await client.post(
            "/api/v1/session/event",
            json={"session_id": "s-9", "event": {"t": 1, "type": "click", "data": {}}},
        )
        assert r.status_code == 200
        view = await stream_chat(client, chat_body("hi", "s-9", model_provider="scripted"))
        assert view.done
        assert (await client.get("/api/v1/session/s-9")).json()["user_id"] == "u-1"


@sqlite_only
async def test_thinking_arrives_live_over_a_real_socket(
    make_settings: Callable[..., Settings],
) -> None:
    """Over a real server: the thinking text is on the client's screen while the model is
    still working, and each chunk arrives as the model produces it."""
    settings = make_settings(ENABLE_SCRIPTED_PROVIDER=True, LEGACY_CLIENT_COMPAT=True)
    async with live_server(settings) as (url, app):
        provider = app.state.platform.query.registry.get("scripted")
        provider.queue(
            [
                ReasoningDelta(text="Thinking hard"),
                Delay(0.6),
                TextDelta(text="Done "),
                Delay(0.3),
                TextDelta(text="thinking."),
                DoneEvent(),
            ]
        )
        arrivals: list[tuple[float, dict[str, Any]]] = []
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            body = chat_body("q", "s-10", model_provider="scripted", model_name="echo")
            async with http.stream("POST", "/api/v1/query/stream", json=body) as r:
                async for event in aiter_events(r.aiter_bytes()):
                    if event.data != b"[DONE]":
                        arrivals.append((time.monotonic(), json.loads(event.data)))
        kinds = [f["type"] for _, f in arrivals]
        assert kinds == ["status", "chunk", "chunk", "final"]
        (t_status, _), (t_chunk1, _), (t_chunk2, _), _ = arrivals
        assert t_chunk1 - t_status >= 0.4  # the status was shown before the answer existed
        assert t_chunk2 - t_chunk1 >= 0.2  # chunks stream, they are not batched at the end
