"""Helpers for query tests: an app with the scripted provider, SSE parsing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson

from llm_platform.core.config import Settings
from llm_platform.providers.scripted import ScriptedProvider
from llm_platform.providers.sse import ServerSentEvent, aiter_events, decode_text
from tests.conftest import AppClient, start_client

FAST = {
    "ENABLE_SCRIPTED_PROVIDER": True,
    "RETRY_BASE_DELAY_SECONDS": 0.01,
    "RETRY_MAX_DELAY_SECONDS": 0.05,
}


def scripted(client: AppClient) -> ScriptedProvider:
    provider = client.app.state.platform.query.registry.get("scripted")
    assert isinstance(provider, ScriptedProvider)
    return provider


@asynccontextmanager
async def query_client(
    make_settings: Callable[..., Settings], **overrides: Any
) -> AsyncIterator[AppClient]:
    gen = start_client(make_settings(**{**FAST, **overrides}))
    client = await anext(gen)
    try:
        yield client
    finally:
        await gen.aclose()


def parse_sse(body: str) -> list[dict[str, Any]]:
    """Frames as dicts with `_id` and `_event`; `[DONE]` as {"_done": True}."""
    return [_frame(event) for event in decode_text(body)]


def _frame(event: ServerSentEvent) -> dict[str, Any]:
    if event.data == b"[DONE]":
        return {"_done": True}
    frame: dict[str, Any] = orjson.loads(event.data)
    # Each platform frame carries its own id and type (a missing field reads as None).
    frame["_id"] = int(event.id) if event.id else None
    frame["_event"] = None if event.event == "message" else event.event
    return frame


def body(query: str = "hello there", **extra: Any) -> dict[str, Any]:
    return {"user_id": "u1", "query": query, "model_provider": "scripted", **extra}


@asynccontextmanager
async def live_server(settings: Settings) -> AsyncIterator[tuple[str, Any]]:
    """The app served by a real uvicorn on 127.0.0.1 (real streaming, real disconnects)."""
    import asyncio

    import uvicorn

    from llm_platform.main import create_app

    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=1,
        ws="websockets-sansio",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        await task


async def sse_frames(response: Any) -> AsyncIterator[dict[str, Any]]:
    """Parse a live httpx streaming response frame by frame."""
    async for event in aiter_events(response.aiter_bytes()):
        yield _frame(event)


AGENT_FRAME_TYPES = frozenset({"agent", "options", "products", "memory"})


async def next_content(frames: AsyncIterator[dict[str, Any]]) -> dict[str, Any]:
    """The next frame past the agent graph's (agent steps come before the first token)."""
    async for frame in frames:
        if frame.get("type") not in AGENT_FRAME_TYPES:
            return frame
    raise AssertionError("the stream ended")


def without_agents(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in frames if f.get("type") not in AGENT_FRAME_TYPES]
