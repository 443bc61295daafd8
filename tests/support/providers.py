"""Small helpers for provider stream tests."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from llm_platform.providers.base import (
    ChatMessage,
    ChatRequest,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
)
from tests.support.fake_servers import FakeServer


def ask(model: str, text: str = "Say hello", **fields: object) -> ChatRequest:
    return ChatRequest(model=model, messages=[ChatMessage(role="user", content=text)], **fields)  # type: ignore[arg-type]


async def drain(stream: AsyncIterator[StreamEvent]) -> list[StreamEvent]:
    return [event async for event in stream]


def kinds(events: list[StreamEvent]) -> list[str]:
    """Event types with consecutive repeats collapsed: ["reasoning", "text", "usage", "done"]."""
    out: list[str] = []
    for event in events:
        if not out or out[-1] != event.type:
            out.append(event.type)
    return out


def reasoning_text(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, ReasoningDelta))


def answer_text(events: list[StreamEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def close_after_first_event(stream: AsyncIterator[StreamEvent], fake: FakeServer) -> float:
    """Read one event, stop consuming (aclose), and return how long the fake waited to
    see the connection closed (seconds); fails if it never did within 1 s."""
    first = await anext(stream)
    assert first is not None
    closed_at = time.monotonic()
    await stream.aclose()  # type: ignore[attr-defined]
    assert await fake.until_disconnected(1.0), "upstream connection still open after 1 s"
    assert fake.disconnected_at is not None
    return max(0.0, fake.disconnected_at - closed_at)
