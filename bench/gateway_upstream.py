"""A fake OpenAI-compatible upstream for bench/gateway.py (raw ASGI, served by uvicorn).

The model name sets the behaviour: `bench-d{delay_ms}-c{chunks}-i{interval_ms}` answers after
`delay_ms` (time to first token), in `chunks` pieces `interval_ms` apart when streaming.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import orjson

_PIECES = ["Hello", " from", " the", " fake", " upstream", ",", " streaming", " a", " fixed"]
_PIECES += [" answer", " with", " a", " fixed", " delay", " per", " token", "."]
_MODEL = re.compile(r"bench-d(\d+)-c(\d+)-i(\d+)")


def _behaviour(model: str) -> tuple[float, int, float]:
    match = _MODEL.search(model)
    if not match:
        return 0.0, 16, 0.0
    delay, chunks, interval = (int(g) for g in match.groups())
    return delay / 1000, max(1, chunks), interval / 1000


def _pieces(n: int) -> list[str]:
    return [_PIECES[i % len(_PIECES)] for i in range(n)]


async def _read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            return body


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    request = orjson.loads(await _read_body(receive) or b"{}")
    model = str(request.get("model", ""))
    delay, chunks, interval = _behaviour(model)
    pieces = _pieces(chunks)
    usage = {"prompt_tokens": 9, "completion_tokens": chunks, "total_tokens": 9 + chunks}
    created = int(time.time())
    if delay:
        await asyncio.sleep(delay)
    if not request.get("stream"):
        payload = orjson.dumps(
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(pieces)},
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            }
        )
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
        }
    )
    head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": created}

    async def chunk(data: dict[str, Any]) -> None:
        body = b"data: " + orjson.dumps({**head, "model": model, **data}) + b"\n\n"
        await send({"type": "http.response.body", "body": body, "more_body": True})

    for index, piece in enumerate(pieces):
        if index and interval:
            await asyncio.sleep(interval)
        delta = {"role": "assistant", "content": piece} if index == 0 else {"content": piece}
        await chunk({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
    await chunk({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if (request.get("stream_options") or {}).get("include_usage"):
        await chunk({"choices": [], "usage": usage})
    await send({"type": "http.response.body", "body": b"data: [DONE]\n\n", "more_body": False})
