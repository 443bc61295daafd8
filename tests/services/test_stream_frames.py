"""Typed stream frames and their stored payload: what a buffer (Redis) holds reads back as
the same frame, and the payload keeps the wire names clients read."""

from __future__ import annotations

import orjson

from llm_platform.core.citation import Citation
from llm_platform.schemas.query import ChainOfThought, GroundingInfo, ThoughtStep, Usage
from llm_platform.services.streams.frames import (
    AgentFrame,
    CitationFrame,
    DoneFrame,
    ErrorFrame,
    Frame,
    MemoryChangeItem,
    MemoryFrame,
    MemoryUsed,
    OptionsFrame,
    ProductsFrame,
    StartFrame,
    StreamFrame,
    StreamMetadata,
    ThoughtFrame,
    TokenFrame,
    UsageFrame,
    parse,
    payload,
)

USAGE = Usage(input_tokens=3, output_tokens=5, total_tokens=8)
META = StreamMetadata(
    query_id="q1",
    stream_id="s1",
    provider="scripted",
    model="m",
    status="ok",
    finish_reason="stop",
    latency_ms=12.5,
    ttft_ms=3.25,
    usage=USAGE,
    cost_usd=None,
    supports_cot=True,
    chain_of_thought=ChainOfThought(
        steps=[ThoughtStep(step=1, description="Think.", duration_ms=1.0)],
        total_thinking_time_ms=1.0,
    ),
    grounding=GroundingInfo(used=True, supported=False, notes=["none"]),
)
FRAMES: list[StreamFrame] = [
    StartFrame("s1", "q1", "u1", "i1", "scripted", "m", True),
    ThoughtFrame("Let me think"),
    TokenFrame('He said "hi"\n'),
    CitationFrame(Citation(index=1, title="Doc", file_id="f1", page=2, score=0.5)),
    UsageFrame(USAGE),
    DoneFrame(META),
    ErrorFrame("boom", "rate_limited", "error", 429, "7", META),
    ErrorFrame("gone", "interrupted", "interrupted", 503),
]
# The agent graph's frames (before and between the writer's tokens).
AGENT_FRAMES: list[StreamFrame] = [
    AgentFrame("memory", "st1", "started"),
    AgentFrame("memory", "st1", "error", 12.5, "timed out after 5 s"),
    OptionsFrame("What is your budget?", ("Under 800", "Under 1500"), "budget_max"),
    OptionsFrame("Anything else?"),
    ProductsFrame(({"id": "p1", "title": "Aero 14", "price": 799.0, "rating": None},)),
    MemoryFrame(
        used=(MemoryUsed("m1", "Lives in Oslo"),),
        changes=(MemoryChangeItem("add", "m2", "Has a dog"), MemoryChangeItem("delete", None, "x")),
    ),
]


def test_every_frame_reads_back_from_its_stored_json() -> None:
    for number, frame in enumerate([*FRAMES, *AGENT_FRAMES], 1):
        stored = Frame.of(number, frame).json()
        back = Frame.from_json(number, stored)
        assert back.body == frame
        assert back.type == frame.type and back.terminal == (frame.type in ("done", "error"))
        assert orjson.loads(stored)["type"] == frame.type


def test_payload_writes_the_wire_names() -> None:
    meta = payload(DoneFrame(META))["metadata"]
    assert meta["latency"] == meta["latency_ms"] == 12.5
    assert meta["ttft"] == meta["ttft_ms"] == 3.25
    assert meta["tokens"] == USAGE.model_dump()
    assert "usage" not in meta
    # A reader's interruption carries no metadata and no retry hint, as before.
    assert payload(FRAMES[-1]) == {
        "type": "error",
        "error": "gone",
        "code": "interrupted",
        "status": "interrupted",
        "http_status": 503,
    }


def test_unknown_kinds_are_skipped_not_fatal() -> None:
    # A newer instance's frame kind during a rolling upgrade.
    assert parse({"type": "agent_step", "node": "plan"}) is None
    frame = Frame.from_json(3, b'{"type":"agent_step","node":"plan"}')
    assert frame.body is None and not frame.terminal


def test_agent_frames_write_the_contract_payloads() -> None:
    assert payload(AgentFrame("product", "st2", "ok", 3.5, "found 2 products")) == {
        "type": "agent",
        "agent": "product",
        "step_id": "st2",
        "status": "ok",
        "duration_ms": 3.5,
        "summary": "found 2 products",
    }
    assert payload(OptionsFrame("Budget?", ("A", "B"), "budget_max")) == {
        "type": "options",
        "question": "Budget?",
        "field": "budget_max",
        "options": ["A", "B"],
    }
    assert payload(ProductsFrame(({"id": "p1"},))) == {
        "type": "products",
        "products": [{"id": "p1"}],
    }
    assert payload(
        MemoryFrame((MemoryUsed("m1", "t"),), (MemoryChangeItem("add", "m2", "u"),))
    ) == {
        "type": "memory",
        "used": [{"id": "m1", "text": "t"}],
        "changes": [{"action": "add", "id": "m2", "text": "u"}],
    }
    # A malformed stored payload reads back as a frame, never an exception.
    assert parse({"type": "agent", "status": "weird"}) == AgentFrame("", "", "error")
    assert parse({"type": "products", "products": "x"}) == ProductsFrame(())
