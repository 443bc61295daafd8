"""What the original Next.js client does, in Python: its requests and its stream parser."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from tests.conftest import AppClient

FRONTEND_ORIGIN = "http://localhost:3000"


def environment(**extra: Any) -> dict[str, Any]:
    """The `environment` useSession sends."""
    return {
        "device": "desktop",
        "browser": "Firefox",
        "os": "Linux",
        "viewport": {"width": 1280, "height": 800},
        "language": "en-GB",
        "connection": "4g",
        **extra,
    }


def start_body(session_id: str, user_id: str, experiment_id: str = "production_v1") -> dict:
    return {
        "session_id": session_id,
        "user_id": user_id,
        "experiment_id": experiment_id,
        "environment": environment(),
    }


async def read_stream(chunks: AsyncIterator[str]) -> list[dict[str, Any]]:
    """useChat's reader loop: buffer, split on newlines, keep trimmed `data: ` lines, stop at
    `[DONE]`, JSON-parse the rest. Returns the parsed frames in order; a frame that is not
    JSON fails the test (the client would drop it with a console warning)."""
    frames: list[dict[str, Any]] = []
    buffer = ""
    async for chunk in chunks:
        buffer += chunk
        *lines, buffer = buffer.split("\n")
        for line in lines:
            trimmed = line.strip()
            if not trimmed.startswith("data: "):
                continue
            data = trimmed[6:]
            if data == "[DONE]":
                frames.append({"type": "[DONE]"})
                return frames
            frames.append(json.loads(data))
    return frames


class ChatView:
    """What the client shows once a stream is read: thinking texts, answer, citations..."""

    def __init__(self, frames: list[dict[str, Any]]) -> None:
        self.frames = frames
        self.statuses = [f["message"] for f in frames if f["type"] == "status"]
        self.answer = "".join(f.get("content", "") for f in frames if f["type"] == "chunk")
        self.chunks = [f["content"] for f in frames if f["type"] == "chunk"]
        self.citations = [
            c
            for f in frames
            if f["type"] == "node" and f.get("node_type") == "citations"
            for c in f["citations"]
        ]
        finals = [f for f in frames if f["type"] == "final"]
        self.final = finals[-1] if finals else None
        self.errors = [f["error"] for f in frames if f["type"] == "error"]
        self.done = bool(frames) and frames[-1]["type"] == "[DONE]"


def messages_from_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """parseEventsToMessages: rebuild a chat from a session's `prompt`/`model_response` events."""
    out = []
    for event in events:
        data = event.get("data") or {}
        if event["type"] == "prompt":
            out.append({"role": "user", "content": data.get("text") or data.get("query") or ""})
        if event["type"] in ("response", "model_response"):
            out.append(
                {
                    "role": "assistant",
                    "content": data.get("text") or data.get("response") or "",
                    "citations": data.get("citations") or [],
                }
            )
    return out


def chat_body(query: str, session_id: str = "s-1", **extra: Any) -> dict[str, Any]:
    """Exactly what useChat sends (the default model of the old client's model picker)."""
    return {
        "user_id": "u-1",
        "session_id": session_id,
        "query": query,
        "model_name": "gpt-4o-mini-search-preview",
        "model_provider": "openai",
        "web_search": True,
        "use_memory": True,
        "history": [],
        "location": {"latitude": 59.91, "longitude": 10.75, "accuracy": 20},
        "attachments": [],
        "mode": "chat",
        **extra,
    }


async def stream_chat(client: AppClient, body: dict[str, Any], url: str = "") -> ChatView:
    path = url or "/api/v1/query/stream"
    async with client.stream("POST", path, json=body, headers={"Origin": FRONTEND_ORIGIN}) as r:
        assert r.status_code == 200, await r.aread()
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["access-control-allow-origin"] == FRONTEND_ORIGIN
        frames = await read_stream(r.aiter_text())
    return ChatView(frames)
