"""What the agents need from the rest of the platform, as small typed protocols: the intent
router, the memory store, the product catalog, the shopping interviewer, OCR and the
writer's token-streaming generation. The services layer builds the real ones (adapters over
`agents.intent`, `agents.memory_agent`, `agents.product_agent`, `agents.shopping_agent`,
`rag.extract` and `services.query.generation`) and hands them to each turn; tests use
stand-ins. Nothing here imports a service (dependency inversion)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from llm_platform.agents.state import MemoryChange, RecalledMemory


class Routing(Protocol):
    """A routing decision (helper C's `RoutingDecision` satisfies it)."""

    @property
    def intent(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def decided_by(self) -> str: ...

    def model_dump(self, *, mode: str) -> dict[str, Any]:
        """Everything the router decided (stages, scores, times), for the query's log
        (`mode="json"`: plain values, as the checkpointer stores them)."""
        ...


class Router(Protocol):
    """Helper C's `IntentRouter`."""

    async def route(
        self, text: str, *, has_images: bool, has_files: bool, use_llm: bool = True
    ) -> Routing: ...


class MemoryStore(Protocol):
    """Helper A's memory agent bound to the database and the embedder."""

    async def recall(self, user_id: str, query: str) -> Sequence[RecalledMemory]: ...

    async def has_any(self, user_id: str) -> bool:
        """Whether there is anything to recall for the user (memory on, one memory)."""
        ...

    async def remember(
        self,
        *,
        user_id: str,
        user_text: str,
        session_id: str | None,
        query_id: str,
        when: datetime,
    ) -> Sequence[MemoryChange]: ...

    async def forget(self, *, user_id: str, what: str) -> Sequence[MemoryChange]: ...

    async def learn(
        self,
        *,
        user_id: str,
        user_text: str,
        session_id: str | None,
        query_id: str,
        when: datetime,
    ) -> Sequence[MemoryChange]:
        """After a turn: the durable facts the user's message states, reconciled with the
        memories (nothing without a model; once per query id)."""
        ...

    def prompt(self, memories: Sequence[RecalledMemory]) -> str: ...


class ProductFinder(Protocol):
    """Helper B's product search: `ProductCard` payloads, best first."""

    async def find(
        self, query: str, criteria: Mapping[str, Any] | None, limit: int
    ) -> Sequence[Mapping[str, Any]]: ...


@dataclass(frozen=True)
class InterviewStep:
    """One step of the shopping interview (helper B's `InterviewStep`, criteria as data)."""

    criteria: dict[str, Any]
    question: str | None
    options: list[str] = field(default_factory=list)
    field: str | None = None
    ready: bool = False


class Interviewer(Protocol):
    """Helper B's `interview_step`."""

    async def step(self, criteria: Mapping[str, Any] | None, user_text: str) -> InterviewStep: ...


# The text of an image (PNG/JPEG/... bytes) read by OCR.
Ocr = Callable[[bytes], Awaitable[str]]


@dataclass(frozen=True)
class WriterInput:
    """What the writer adds to the planned model call: system prompt sections (memories,
    products, image text, the interview's question) and whether the images stay attached."""

    system_blocks: list[str] = field(default_factory=list)
    keep_images: bool = True


@dataclass(frozen=True)
class WriterOutput:
    text: str
    status: str  # the generation's: ok | error | incomplete | cancelled
    error: str | None = None
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


# Where a node's stream items go: LangGraph's custom stream writer.
Sink = Callable[[Any], None]
# The writer's token-streaming generation (services.query.generation): streams its frames
# into the sink (thought, token, citation) and returns how the call ended.
Write = Callable[[WriterInput, Sink], Awaitable[WriterOutput]]
