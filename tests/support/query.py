"""Helpers for query tests: an app with the scripted provider, SSE parsing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson

from llm_platform.core.config import Settings
from llm_platform.providers.scripted import ScriptedProvider
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
    out: list[dict[str, Any]] = []
    for block in body.split("\n\n"):
        if not block.strip() or block.startswith(":"):
            continue
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            fields[name] = value
        if fields.get("data") == "[DONE]":
            out.append({"_done": True})
            continue
        frame = orjson.loads(fields["data"])
        frame["_id"] = int(fields["id"]) if "id" in fields else None
        frame["_event"] = fields.get("event")
        out.append(frame)
    return out


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
    buffer = ""
    async for chunk in response.aiter_text():
        buffer += chunk
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            for frame in parse_sse(block + "\n\n"):
                yield frame
