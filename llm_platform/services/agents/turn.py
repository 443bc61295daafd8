"""One turn through the agent graph, streamed: the nodes' events (through LangGraph's custom
stream writer) become `agent`, `options`, `products` and `memory` frames, emitted in order;
the writer's thought, token and citation frames follow them (see `Flush`)."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from llm_platform.agents.base_agent import (
    AgentEvent,
    AgentStep,
    ImageInput,
    MemoryEvent,
    OptionsEvent,
    ProductsEvent,
    TurnDeps,
)
from llm_platform.agents.ports import Write
from llm_platform.agents.state import turn_input
from llm_platform.services.agents.runtime import AgentRuntime
from llm_platform.services.query.planning import QueryPlan
from llm_platform.services.streams.frames import (
    AgentFrame,
    MemoryChangeItem,
    MemoryFrame,
    MemoryUsed,
    OptionsFrame,
    ProductsFrame,
    StreamFrame,
)

Emit = Callable[[StreamFrame], Awaitable[Any]]


@dataclass(frozen=True)
class Flush:
    """Put on the graph's stream by the writer before it emits its frames directly: set
    once every item before it has been emitted (the frames keep their order)."""

    done: asyncio.Event


@dataclass
class TurnOutcome:
    """What the turn's agents did, beyond the writer's answer."""

    steps: list[AgentStep] = field(default_factory=list)
    intent: str | None = None
    confidence: float | None = None
    decided_by: str | None = None
    agents: list[str] = field(default_factory=list)
    decision: dict[str, Any] | None = None  # the router's (stages, scores, times)
    products: list[dict[str, Any]] = field(default_factory=list)
    options: OptionsFrame | None = None
    memory: MemoryFrame | None = None

    def routing(self) -> dict[str, Any]:
        """What the query's log keeps of the routing."""
        return {
            "intent": self.intent,
            "confidence": self.confidence,
            "decided_by": self.decided_by,
            "agents": self.agents,
            "decision": self.decision,
            # Which memories the answer used and what it changed, by id (the text is in
            # the memories table, and goes with a deletion).
            "memories_used": [m.id for m in self.memory.used] if self.memory else [],
            "memory_changes": (
                [{"action": c.action, "id": c.id} for c in self.memory.changes]
                if self.memory
                else []
            ),
            "products": [str(p.get("id")) for p in self.products],
        }


def to_frame(item: Any) -> StreamFrame | None:
    """A custom stream item as its frame (the writer's frames are frames already)."""
    match item:
        case AgentEvent():
            return AgentFrame(
                agent=item.agent,
                step_id=item.step_id,
                status=item.status,
                duration_ms=item.duration_ms,
                summary=item.summary,
            )
        case OptionsEvent():
            return OptionsFrame(question=item.question, options=item.options, field=item.field)
        case ProductsEvent():
            return ProductsFrame(products=item.products)
        case MemoryEvent():
            return MemoryFrame(
                used=tuple(MemoryUsed(i, t) for i, t in item.used),
                changes=tuple(MemoryChangeItem(a, i, t) for a, i, t in item.changes),
            )
    return None


def turn_deps(agents: AgentRuntime, plan: QueryPlan, write: Write) -> TurnDeps:
    ports = agents.ports
    caps = plan.capabilities
    primary = plan.primary
    return TurnDeps(
        write=write,
        timeouts=agents.timeouts,
        router=ports.router,
        memory=ports.memory,
        products=ports.products,
        interviewer=ports.interviewer,
        ocr=ports.ocr,
        images=[
            ImageInput(name=i.name, mime=i.mime, data=base64.b64decode(i.data_b64))
            for i in plan.images
        ],
        vision_model=f"{primary.provider.name}:{primary.model}" if caps.vision else None,
    )


async def run_turn(
    agents: AgentRuntime, plan: QueryPlan, write: Write, emit: Emit | None
) -> TurnOutcome:
    """Run the graph to the end, emitting its frames; raises only what the graph raises
    (cancellation, a bug): every agent's own failure is a step with status error."""
    deps = turn_deps(agents, plan, write)
    outcome = TurnOutcome(steps=deps.recorder.steps)
    graph, config = agents.graph_for(plan.session_id)
    grounded = plan.grounding is not None and plan.grounding.used
    state = turn_input(
        query=plan.query,
        user_id=plan.user_id,
        session_id=plan.session_id,
        query_id=plan.query_id,
        has_images=bool(plan.images),
        has_files=grounded,
        memory_enabled=plan.memory is not False,
        grounded_passages=len(plan.citations),
    )
    final: dict[str, Any] = {}
    stream = (
        graph.astream(state, config, context=deps, stream_mode=["custom", "values"])
        if config is None
        else graph.astream(
            state, config, context=deps, stream_mode=["custom", "values"], durability="exit"
        )
    )
    async for mode, item in stream:
        if mode == "values":
            final = cast(dict[str, Any], item)
            continue
        if isinstance(item, Flush):
            item.done.set()
            continue
        frame = to_frame(item)
        if isinstance(frame, ProductsFrame):
            outcome.products = list(frame.products)
        elif isinstance(frame, OptionsFrame):
            outcome.options = frame
        elif isinstance(frame, MemoryFrame):
            outcome.memory = frame
        if frame is not None and emit is not None:
            await emit(frame)
    outcome.intent = final.get("intent")
    outcome.confidence = final.get("confidence")
    outcome.decided_by = final.get("decided_by")
    outcome.agents = list(final.get("agents") or [])
    outcome.decision = final.get("routing")
    return outcome
