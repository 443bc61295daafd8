"""Temporary stand-in for the query service (same SSE contract), used only while the
query branch has not landed: start, thought, token, usage, done, `data: [DONE]`."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import StreamingResponse

from llm_platform.db.models import Query

MODELS = [
    {
        "provider": "scripted",
        "model": "echo",
        "id": "scripted:echo",
        "default": True,
        "streaming": True,
        "reasoning": True,
        "vision": True,
        "tools": False,
        "web_search": False,
        "max_output_tokens": 4096,
    },
    {
        "provider": "scripted",
        "model": "slow",
        "id": "scripted:slow",
        "default": False,
        "streaming": True,
        "reasoning": True,
        "vision": False,
        "tools": False,
        "web_search": False,
        "max_output_tokens": 4096,
    },
]


def install_stub_query(app: FastAPI) -> None:
    router = APIRouter(prefix="/api/v1")
    cancels: dict[str, asyncio.Event] = {}
    tasks: set[asyncio.Task[None]] = set()

    @router.get("/models")
    async def models() -> dict[str, Any]:
        return {"providers": [], "models": MODELS}

    @router.post("/query/{stream_id}/cancel")
    async def cancel(stream_id: str) -> dict[str, Any]:
        ev = cancels.get(stream_id)
        if ev:
            ev.set()
        return {"stream_id": stream_id, "cancelled": ev is not None}

    @router.post("/query/stream")
    async def stream(request: Request) -> StreamingResponse:
        body = await request.json()
        user = request.headers.get("x-user-id", "anonymous")
        model = body.get("model_name") or "echo"
        delay = 0.2 if model == "slow" else 0.03
        query = body["query"]
        reasoning = f"The user wrote {len(query.split())} words.\n\nI will repeat them back."
        answer = f"You said: {query}" + (" and so on" * 20 if model == "slow" else "")
        stream_id, query_id = uuid.uuid4().hex, uuid.uuid4().hex
        cancelled = cancels.setdefault(stream_id, asyncio.Event())

        queue: asyncio.Queue[bytes | None] = asyncio.Queue()

        async def generate() -> None:
            # Runs on its own (like the real service): a dropped client does not stop it.
            n = 0
            started = time.perf_counter()
            ttft = None
            status = "ok"
            text = ""

            def frame(data: dict[str, Any]) -> None:
                nonlocal n
                n += 1
                queue.put_nowait(
                    f"id: {n}\nevent: {data['type']}\ndata: {json.dumps(data)}\n\n".encode()
                )

            frame(
                {
                    "type": "start",
                    "stream_id": stream_id,
                    "query_id": query_id,
                    "provider": "scripted",
                    "model": model,
                }
            )
            for word in reasoning.split(" "):
                await asyncio.sleep(delay)
                frame({"type": "thought", "content": word + " "})
            for word in answer.split(" "):
                if cancelled.is_set():
                    status = "cancelled"
                    break
                await asyncio.sleep(delay)
                ttft = ttft or (time.perf_counter() - started) * 1000
                text += word + " "
                frame({"type": "token", "content": word + " "})
            usage = {
                "input_tokens": len(query.split()),
                "output_tokens": len(text.split()),
                "reasoning_tokens": len(reasoning.split()),
            }
            latency = (time.perf_counter() - started) * 1000
            async with app.state.platform.db.write_sessions() as db, db.begin():
                db.add(
                    Query(
                        id=query_id,
                        user_id=user,
                        session_id=body.get("session_id"),
                        provider="scripted",
                        model=model,
                        request={"query": query},
                        response_text=text,
                        reasoning_text=reasoning,
                        status=status,
                        latency_ms=latency,
                        ttft_ms=ttft,
                        **usage,
                    )
                )
            frame({"type": "usage", "usage": usage})
            frame(
                {
                    "type": "done",
                    "metadata": {
                        "query_id": query_id,
                        "stream_id": stream_id,
                        "latency": latency,
                        "ttft": ttft,
                        "tokens": usage,
                        "status": status,
                        "provider": "scripted",
                        "model": model,
                    },
                }
            )
            queue.put_nowait(None)

        tasks.add(asyncio.create_task(generate()))

        async def frames() -> AsyncIterator[bytes]:
            while (item := await queue.get()) is not None:
                yield item
            yield b"data: [DONE]\n\n"

        return StreamingResponse(
            frames(),
            media_type="text/event-stream",
            headers={"X-Stream-ID": stream_id, "Cache-Control": "no-cache"},
        )

    # Ahead of the real /models (which lists no scripted provider until the query service).
    before = len(app.router.routes)
    app.include_router(router)
    app.router.routes[:] = app.router.routes[before:] + app.router.routes[:before]
