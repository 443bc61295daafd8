"""The node contract and the wrapper every agent runs in.

A node is `async def run(state, deps) -> NodeResult`: it reads the turn's state and its
dependencies and returns a state update with a one-line summary. `agent_node` wraps it for
the graph: it times the node, emits `AgentEvent`s (started, then ok or error) through
LangGraph's custom stream writer, records an `AgentStep` for the research log, and turns an
exception or a timeout (per agent, `AgentTimeouts`) into status `error` with an empty update,
so a failing agent never fails the turn: the writer answers with what there is.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from langgraph.runtime import Runtime

from llm_platform.agents.ports import (
    Interviewer,
    MemoryStore,
    Ocr,
    ProductFinder,
    Router,
    Sink,
    Write,
)
from llm_platform.agents.state import TurnState
from llm_platform.core.logging import get_logger

log = get_logger("llm_platform.agents")

StepStatus = Literal["started", "ok", "error", "skipped"]
SUMMARY_CHARS = 200


def clip(text: str, limit: int = SUMMARY_CHARS) -> str:
    """One line, at most `limit` characters."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


# ------------------------------------------------------------------ stream items
# What nodes put on the custom stream; services map them to stream frames.


@dataclass(frozen=True, slots=True)
class AgentEvent:
    agent: str
    step_id: str
    status: StepStatus
    duration_ms: float | None = None
    summary: str = ""


@dataclass(frozen=True, slots=True)
class OptionsEvent:
    question: str
    options: tuple[str, ...]
    field: str | None


@dataclass(frozen=True, slots=True)
class ProductsEvent:
    products: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class MemoryEvent:
    used: tuple[tuple[str, str], ...]  # (id, text)
    changes: tuple[tuple[str, str | None, str], ...]  # (action, id, text)


# ------------------------------------------------------------------ the research log


@dataclass(frozen=True, slots=True)
class AgentStep:
    """One node's run in one turn (an `agent_steps` row)."""

    id: str
    agent: str
    status: StepStatus
    input_summary: str
    output_summary: str
    latency_ms: float
    started_at: datetime
    input_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None
    error: str | None = None


@dataclass
class StepRecorder:
    steps: list[AgentStep] = field(default_factory=list)

    def add(self, step: AgentStep) -> None:
        self.steps.append(step)


# ------------------------------------------------------------------ dependencies


@dataclass(frozen=True)
class AgentTimeouts:
    """Seconds an agent may take (None: no limit; the writer's model call has its own)."""

    default: float | None = 20.0
    per_agent: Mapping[str, float] = field(default_factory=dict)

    def of(self, agent: str) -> float | None:
        return self.per_agent.get(agent, self.default)


@dataclass(frozen=True)
class ImageInput:
    name: str | None
    mime: str
    data: bytes


@dataclass
class TurnDeps:
    """A turn's dependencies (LangGraph's run context): the platform's parts the agents
    call, built by the services layer. None: that agent is unavailable."""

    write: Write
    recorder: StepRecorder = field(default_factory=StepRecorder)
    timeouts: AgentTimeouts = field(default_factory=AgentTimeouts)
    router: Router | None = None
    memory: MemoryStore | None = None
    products: ProductFinder | None = None
    interviewer: Interviewer | None = None
    ocr: Ocr | None = None
    images: Sequence[ImageInput] = ()
    # The model the images go to as they are ("provider:model"); None: it cannot see them.
    vision_model: str | None = None
    product_limit: int = 6


# ------------------------------------------------------------------ nodes


@dataclass(frozen=True)
class NodeResult:
    update: dict[str, Any]
    summary: str
    input_summary: str = ""
    input_tokens: int | None = None
    output_tokens: int | None = None
    model: str | None = None


NodeFn = Callable[[TurnState, TurnDeps], Awaitable[NodeResult]]


class GraphNode(Protocol):
    """A node as LangGraph calls it (the run's context injected as `runtime`)."""

    def __call__(
        self, state: TurnState, *, runtime: Runtime[TurnDeps]
    ) -> Awaitable[dict[str, Any]]: ...


class AgentFailed(Exception):
    """A node's own failure with what it has to say (becomes the step's error)."""


def agent_node(name: str, run: NodeFn) -> GraphNode:
    """`run` as a graph node: timed, streamed as agent events, logged, never raising
    (cancellation of the whole turn excepted)."""

    async def node(state: TurnState, *, runtime: Runtime[TurnDeps]) -> dict[str, Any]:
        deps = runtime.context
        emit: Sink = runtime.stream_writer  # a no-op outside a streamed run
        step_id = uuid.uuid4().hex
        started_at = datetime.now(UTC)
        started = time.perf_counter()
        emit(AgentEvent(name, step_id, "started"))
        error: str | None = None
        result: NodeResult | None = None
        try:
            async with asyncio.timeout(deps.timeouts.of(name)):
                result = await run(state, deps)
        except TimeoutError:
            error = f"timed out after {deps.timeouts.of(name):g} s"
        except AgentFailed as exc:
            error = clip(str(exc)) or "failed"
        except Exception as exc:
            log.warning("agent_failed", agent=name, error=repr(exc))
            error = clip(f"{type(exc).__name__}: {exc}")
        latency = round((time.perf_counter() - started) * 1000, 2)
        summary = error if result is None else clip(result.summary)
        status: StepStatus = "ok" if result is not None else "error"
        emit(AgentEvent(name, step_id, status, latency, summary or ""))
        deps.recorder.add(
            AgentStep(
                id=step_id,
                agent=name,
                status=status,
                input_summary=clip(result.input_summary if result else "")
                or clip(state.get("query", "")),
                output_summary=summary or "",
                latency_ms=latency,
                started_at=started_at,
                input_tokens=result.input_tokens if result else None,
                output_tokens=result.output_tokens if result else None,
                model=result.model if result else None,
                error=error,
            )
        )
        return result.update if result is not None else {}

    node.__name__ = f"{name}_node"
    return node
