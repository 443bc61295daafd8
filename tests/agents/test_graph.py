"""The turn graph on its own: routing, parallel agents, the writer's context, failures and
timeouts as error steps, the shopping interview kept by the checkpointer across turns."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver

from llm_platform.agents.base_agent import (
    AgentEvent,
    AgentTimeouts,
    ImageInput,
    MemoryEvent,
    OptionsEvent,
    ProductsEvent,
    TurnDeps,
)
from llm_platform.agents.graph import TurnGraph, build_graph
from llm_platform.agents.ports import Sink, WriterInput, WriterOutput
from llm_platform.agents.state import turn_input
from llm_platform.agents.vision_agent import extractor_ocr
from llm_platform.rag.extract.base import Limits
from tests.support.agents import (
    Catalog,
    KeywordRouter,
    ListMemory,
    ThreeStepInterviewer,
    fake_ocr,
    hang,
)
from tests.support.documents import make_png
from tests.support.system import needs_system


@dataclass
class FakeWriter:
    """The writer's generation: records what it was given, streams two tokens."""

    inputs: list[WriterInput] = field(default_factory=list)
    status: str = "ok"

    async def __call__(self, request: WriterInput, sink: Sink) -> WriterOutput:
        self.inputs.append(request)
        sink("token:Hello")
        sink("token: there")
        return WriterOutput(text="Hello there", status=self.status, model="scripted:echo")

    @property
    def system(self) -> str:
        return "\n\n".join(self.inputs[-1].system_blocks)


async def run(
    graph: TurnGraph, deps: TurnDeps, query: str, session: str | None = None, **fields: Any
) -> tuple[list[Any], dict[str, Any]]:
    state = turn_input(query=query, user_id="u1", session_id=session, query_id="q1", **fields)
    config = {"configurable": {"thread_id": session}} if session else None
    items: list[Any] = []
    final: dict[str, Any] = {}
    async for mode, item in graph.astream(
        state, config, context=deps, stream_mode=["custom", "values"]
    ):
        if mode == "custom":
            items.append(item)
        else:
            final = item
    return items, final


def steps(items: list[Any]) -> list[tuple[str, str]]:
    return [(i.agent, i.status) for i in items if isinstance(i, AgentEvent)]


async def test_plain_chat_is_the_coordinator_then_the_writer() -> None:
    writer = FakeWriter()
    deps = TurnDeps(write=writer, router=KeywordRouter())
    items, final = await run(build_graph(), deps, "hello there")
    assert steps(items) == [
        ("coordinator", "started"),
        ("coordinator", "ok"),
        ("writer", "started"),
        ("writer", "ok"),
    ]
    # The writer's tokens stream between its started and ok events.
    assert items[3:5] == ["token:Hello", "token: there"]
    assert final["intent"] == "chat" and final["agents"] == [] and final["answer"] == "Hello there"
    assert writer.inputs[0].system_blocks == [] and writer.inputs[0].keep_images
    recorded = deps.recorder.steps
    assert [s.agent for s in recorded] == ["coordinator", "writer"]
    assert recorded[1].model == "scripted:echo" and recorded[0].latency_ms >= 0
    assert "chat (rules" not in recorded[0].output_summary  # decided by the router's default
    assert recorded[0].output_summary.startswith("chat (default")


async def test_memory_and_products_run_in_parallel_before_the_writer() -> None:
    writer = FakeWriter()
    memory = ListMemory(items={"m1": "prefers light laptop models"}, delay=0.2)
    catalog = Catalog()
    deps = TurnDeps(write=writer, router=KeywordRouter(), memory=memory, products=catalog)
    started = time.perf_counter()
    items, final = await run(
        build_graph(), deps, "find a light laptop", memory_enabled=True, grounded_passages=2
    )
    took = time.perf_counter() - started
    events = steps(items)
    # All three run in the same step: the product search starts before the (slow) memory
    # recall ends; the writer only after all ended.
    assert events.index(("product", "started")) < events.index(("memory", "ok"))
    assert events.index(("retrieval", "started")) < events.index(("memory", "ok"))
    writer_start = events.index(("writer", "started"))
    assert all(events.index((a, "ok")) < writer_start for a in ("memory", "retrieval", "product"))
    assert took < 1.0
    assert next(e for e in items if isinstance(e, ProductsEvent)).products[0]["id"] == "p1"
    used = next(e for e in items if isinstance(e, MemoryEvent)).used
    assert used == (("m1", "prefers light laptop models"),)
    assert "Known about the user:\n* prefers light laptop models" in writer.system
    assert "[P1] Aero 14 laptop — 799 EUR, rated 4.5" in writer.system
    assert final["products"][1]["id"] == "p2"


async def test_a_failing_agent_is_an_error_step_and_the_writer_still_answers() -> None:
    writer = FakeWriter()
    deps = TurnDeps(
        write=writer, router=KeywordRouter(), memory=ListMemory(fail=True), products=Catalog()
    )
    items, final = await run(build_graph(), deps, "find a laptop", memory_enabled=True)
    errors = [i for i in items if isinstance(i, AgentEvent) and i.status == "error"]
    assert [(e.agent, e.summary) for e in errors] == [
        ("memory", "RuntimeError: vector index unavailable")
    ]
    assert final["answer"] == "Hello there" and final["products"]
    step = next(s for s in deps.recorder.steps if s.agent == "memory")
    assert step.status == "error" and step.error == "RuntimeError: vector index unavailable"


async def test_a_hanging_agent_times_out() -> None:
    writer = FakeWriter()
    catalog = Catalog()
    catalog.find = hang  # type: ignore[method-assign]
    deps = TurnDeps(
        write=writer,
        router=KeywordRouter(),
        products=catalog,
        timeouts=AgentTimeouts(default=5, per_agent={"product": 0.2}),
    )
    started = time.perf_counter()
    items, final = await run(build_graph(), deps, "find a laptop")
    assert time.perf_counter() - started < 1.5
    product = [i for i in items if isinstance(i, AgentEvent) and i.agent == "product"][-1]
    assert product.status == "error" and product.summary == "timed out after 0.2 s"
    assert product.duration_ms is not None and product.duration_ms >= 200
    assert final["answer"] == "Hello there"


async def test_the_router_failing_leaves_a_writer_only_turn() -> None:
    router = KeywordRouter()
    router.route = hang  # type: ignore[method-assign]
    deps = TurnDeps(
        write=FakeWriter(), router=router, timeouts=AgentTimeouts(per_agent={"coordinator": 0.1})
    )
    items, final = await run(build_graph(), deps, "hi")
    assert steps(items) == [
        ("coordinator", "started"),
        ("coordinator", "error"),
        ("writer", "started"),
        ("writer", "ok"),
    ]
    assert final["answer"] == "Hello there"


async def test_a_failed_model_call_is_the_writers_error() -> None:
    deps = TurnDeps(write=FakeWriter(status="error"))
    items, final = await run(build_graph(), deps, "hi")
    assert steps(items)[-1] == ("writer", "error")
    assert final["answer"] is None


async def test_the_shopping_interview_resumes_from_the_checkpoint() -> None:
    saver = InMemorySaver()
    catalog = Catalog()

    def deps(writer: FakeWriter) -> TurnDeps:
        return TurnDeps(
            write=writer,
            router=KeywordRouter(),
            interviewer=ThreeStepInterviewer(),
            products=catalog,
        )

    writer = FakeWriter()
    items, final = await run(build_graph(saver), deps(writer), "I want to buy a laptop", "s1")
    options = [i for i in items if isinstance(i, OptionsEvent)]
    assert options == [
        OptionsEvent("What will you mainly use it for?", ("Work", "Gaming", "Travel"), "use_case")
    ]
    assert "What will you mainly use it for?" in writer.system
    # "Gaming" alone routes as chat: the open question makes it the interview's answer.
    items, final = await run(build_graph(saver), deps(writer), "Gaming", "s1")
    assert [i.field for i in items if isinstance(i, OptionsEvent)] == ["budget_max"]
    assert final["shopping"]["criteria"]["use_case"] == "gaming"
    items, final = await run(build_graph(saver), deps(writer), "under 1000", "s1")
    assert not [i for i in items if isinstance(i, OptionsEvent)]
    assert [a for a, s in steps(items) if s == "ok"] == [
        "coordinator",
        "shopping",
        "product",
        "writer",
    ]
    assert catalog.calls[-1][1] == {"use_case": "gaming", "budget_max": 1000.0}
    assert [p["id"] for p in final["products"]] == ["p1"]
    assert final["shopping"] is None  # done: the next request starts a new interview
    # Another conversation has its own state.
    _, other = await run(build_graph(saver), deps(writer), "Gaming", "s2")
    assert other["intent"] == "chat" and other.get("shopping") is None


async def test_images_a_model_cannot_see_are_read_by_ocr() -> None:
    writer = FakeWriter()
    image = ImageInput(name="invoice.png", mime="image/png", data=b"\x89PNG")
    deps = TurnDeps(write=writer, router=KeywordRouter(), ocr=fake_ocr, images=[image])
    items, _final = await run(build_graph(), deps, "what is the total?", has_images=True)
    vision = [i for i in items if isinstance(i, AgentEvent) and i.agent == "vision"][-1]
    assert vision.summary == "no vision model: OCR read text from 1 of 1 image(s)"
    assert "INVOICE 4711 total 99 EUR" in writer.system and "OCR" in writer.system
    assert writer.inputs[-1].keep_images is False

    writer = FakeWriter()
    deps = TurnDeps(write=writer, ocr=fake_ocr, images=[image], vision_model="scripted:echo")
    items, _ = await run(build_graph(), deps, "what is the total?", has_images=True)
    vision = [i for i in items if isinstance(i, AgentEvent) and i.agent == "vision"][-1]
    assert vision.summary == "1 image sent to scripted:echo"
    assert writer.inputs[-1].keep_images and writer.inputs[-1].system_blocks == []


async def test_remember_and_forget_tell_the_writer_what_changed() -> None:
    writer = FakeWriter()
    memory = ListMemory()
    deps = TurnDeps(write=writer, router=KeywordRouter(), memory=memory)
    items, _ = await run(
        build_graph(), deps, "please remember my dog is called Rex", memory_enabled=True
    )
    (event,) = [i for i in items if isinstance(i, MemoryEvent)]
    assert event.changes == (("add", "m1", "my dog is called Rex"),)
    assert "- Saved: my dog is called Rex" in writer.system
    items, _ = await run(build_graph(), deps, "forget dog", memory_enabled=True)
    assert "- Deleted: my dog is called Rex" in writer.system and memory.items == {}
    # Memory off for this turn (the arm's or the user's setting): no memory agent.
    items, _ = await run(build_graph(), deps, "remember my cat", memory_enabled=False)
    assert "memory" not in {a for a, _ in steps(items)}


@needs_system("tesseract")
async def test_the_extractors_ocr_reads_an_image() -> None:
    limits = Limits(
        max_pages=1,
        max_chars=10_000,
        max_image_pixels=20_000_000,
        max_audio_seconds=0,
        ocr=True,
        audio=False,
    )
    ocr = extractor_ocr(limits)
    text = await ocr(make_png(["Invoice total 4711 EUR"]))
    assert "4711" in text and "Invoice" in text
