"""The provider interface: one typed stream-event model for every vendor.

A provider turns a `ChatRequest` into an async stream of `StreamEvent`s. Non-streaming
completion is folded from the same stream (`collect`), never written twice.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from llm_platform.core.citation import Citation
from llm_platform.core.model_info import ModelCapabilities
from llm_platform.core.model_info import ModelInfo as ModelInfo  # re-exported for providers

# --------------------------------------------------------------------------- requests

Role = Literal["system", "user", "assistant", "tool"]


class ImagePart(BaseModel):
    """An image for a vision model, already validated and base64-encoded."""

    mime: str
    data_b64: str
    name: str | None = None


class ToolCall(BaseModel):
    """A function call the model made: `arguments` is the JSON text it produced."""

    id: str
    name: str
    arguments: str


class ChatMessage(BaseModel):
    role: Role
    content: str
    images: list[ImagePart] = Field(default_factory=list)
    # Anthropic extended thinking: a prior assistant turn's thinking block and its
    # signature, sent back unchanged so a multi-turn conversation stays valid.
    reasoning: str | None = None
    reasoning_signature: str | None = None
    # An assistant turn that called tools (its `content` may be empty)...
    tool_calls: list[ToolCall] = Field(default_factory=list)
    # ...and, on a `tool` message, the call it answers (`content` is the result) and the
    # tool's name (Gemini matches results by name).
    tool_call_id: str | None = None
    name: str | None = None


class ToolSpec(BaseModel):
    """A function the model may call: `parameters` is its arguments' JSON Schema."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})


# "auto" (the model decides), "none", "required" (some tool), or one tool's name.
ToolChoice = str


class ChatRequest(BaseModel):
    model: str
    messages: list[ChatMessage]
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    web_search: bool = False
    # False: the caller wants the whole answer at once (the OpenAI facade's `stream: false`).
    # Chat Completions adapters then ask for one response, as that caller would have; the
    # events are the same, all at the end. Other adapters stream either way.
    stream: bool = True
    # Native tool calling: adapters send them in the vendor's format and yield
    # `ToolCallEvent`s; vendors without tools ignore them.
    tools: list[ToolSpec] = Field(default_factory=list)
    tool_choice: ToolChoice | None = None
    # False: at most one tool call per turn (None: the vendor's default).
    parallel_tool_calls: bool | None = None
    # Constrained output: the answer must be one JSON value valid against this schema
    # (vendors' structured-output modes, llama.cpp's grammar); see providers/structured.py.
    response_schema: dict[str, Any] | None = None


# --------------------------------------------------------------------------- events


class ReasoningDelta(BaseModel):
    type: Literal["reasoning"] = "reasoning"
    text: str
    signature: str | None = None  # Anthropic thinking signature, when the block closes


class TextDelta(BaseModel):
    type: Literal["text"] = "text"
    text: str


class CitationEvent(Citation):
    type: Literal["citation"] = "citation"

    def citation(self) -> Citation:
        return Citation.model_validate(self.model_dump(exclude={"type"}))


class ToolCallEvent(BaseModel):
    """One whole tool call (adapters assemble arguments streamed in pieces)."""

    type: Literal["tool_call"] = "tool_call"
    id: str
    name: str
    arguments: str  # JSON text as the model produced it

    def call(self) -> ToolCall:
        return ToolCall(id=self.id, name=self.name, arguments=self.arguments)


class UsageEvent(BaseModel):
    type: Literal["usage"] = "usage"
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None


class DoneEvent(BaseModel):
    type: Literal["done"] = "done"
    finish_reason: str | None = None
    # False: the answer came in one piece (`ChatRequest.stream=False` honoured), so the time
    # its first token arrived says nothing about the model's time to first token.
    streamed: bool = True


class ErrorEvent(BaseModel):
    type: Literal["error"] = "error"
    message: str
    code: str = "provider_error"
    retryable: bool = False


StreamEvent = Annotated[
    ReasoningDelta
    | TextDelta
    | CitationEvent
    | ToolCallEvent
    | UsageEvent
    | DoneEvent
    | ErrorEvent,
    Field(discriminator="type"),
]


# --------------------------------------------------------------------------- completion


class Completion(BaseModel):
    text: str = ""
    reasoning: str = ""
    reasoning_signature: str | None = None
    citations: list[CitationEvent] = Field(default_factory=list)
    tool_calls: list[ToolCallEvent] = Field(default_factory=list)
    usage: UsageEvent = Field(default_factory=UsageEvent)
    finish_reason: str | None = None
    error: ErrorEvent | None = None


async def collect(events: AsyncIterator[StreamEvent]) -> Completion:
    """Fold a stream into a completion (the one non-streaming code path)."""
    out = Completion()
    text: list[str] = []
    reasoning: list[str] = []
    async for event in events:
        match event:
            case TextDelta():
                text.append(event.text)
            case ReasoningDelta():
                reasoning.append(event.text)
                if event.signature:
                    out.reasoning_signature = event.signature
            case CitationEvent():
                out.citations.append(event)
            case ToolCallEvent():
                out.tool_calls.append(event)
            case UsageEvent():
                out.usage = merge_usage(out.usage, event)
            case DoneEvent():
                out.finish_reason = event.finish_reason
            case ErrorEvent():
                out.error = event
    out.text = "".join(text)
    out.reasoning = "".join(reasoning)
    return out


def merge_usage(a: UsageEvent, b: UsageEvent) -> UsageEvent:
    """Later non-null counts win (vendors report usage cumulatively, sometimes in parts)."""
    return UsageEvent(
        input_tokens=b.input_tokens if b.input_tokens is not None else a.input_tokens,
        output_tokens=b.output_tokens if b.output_tokens is not None else a.output_tokens,
        reasoning_tokens=(
            b.reasoning_tokens if b.reasoning_tokens is not None else a.reasoning_tokens
        ),
        cached_tokens=b.cached_tokens if b.cached_tokens is not None else a.cached_tokens,
    )


# --------------------------------------------------------------------------- provider


class Provider(ABC):
    """A vendor adapter. Built in the app lifespan with its settings; holds its SDK client.

    `stream` must close the upstream connection when the consumer stops iterating
    (cancellation or `aclose()`), and raise `ProviderError` subclasses for failures that
    happen before the first event; failures after it are yielded as `ErrorEvent`.
    """

    name: str

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[StreamEvent]:
        """Yield events for one generation."""

    @abstractmethod
    def capabilities(self, model: str) -> ModelCapabilities:
        """What `model` can do (best knowledge; unknown models get conservative defaults)."""

    @property
    @abstractmethod
    def default_model(self) -> str:
        """The model used when a request names none (or names one the vendor lacks)."""

    async def list_models(self) -> list[str]:
        """Models the vendor offers (its list endpoint where it has one)."""
        return [self.default_model]

    async def complete(self, request: ChatRequest) -> Completion:
        return await collect(self.stream(request))

    # True when `warm_up` has something to do (weights to load in-process): the app then
    # runs it in the background at start-up and reports it in /api/v1/status.
    warms_up: bool = False

    async def warm_up(self, system: str | None = None) -> None:  # noqa: B027 - optional hook
        """Load what the first request would otherwise wait for; `system` is the system
        prompt requests will carry (a local model can evaluate it ahead)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook, nothing to release by default
        """Release the SDK client."""
