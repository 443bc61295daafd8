"""Query requests and answers (`/api/v1/query`, `/query/stream`, the WebSocket)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from llm_platform.core.citation import Citation
from llm_platform.schemas.common import ClientId

__all__ = ["Citation"]  # re-exported: part of the query API's schema


class ToolDefinition(BaseModel):
    """A function the model may call; `parameters` is its arguments' JSON Schema."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str = Field(default="", max_length=10_000)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object"})


class ToolCallRecord(BaseModel):
    """A tool call the model made: `arguments` is the JSON text it produced."""

    id: str = Field(min_length=1, max_length=256)
    name: str = Field(min_length=1, max_length=64)
    arguments: str = Field(default="{}", max_length=1_000_000)


class HistoryMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["user", "assistant", "system", "tool"]
    content: str = Field(max_length=1_000_000)
    # An assistant turn's tool calls; a `tool` message's call id and tool name.
    tool_calls: list[ToolCallRecord] = Field(default_factory=list, max_length=128)
    tool_call_id: str | None = Field(default=None, max_length=256)
    name: str | None = Field(default=None, max_length=64)


class Attachment(BaseModel):
    """An image for a vision model: base64, raw or as a `data:<mime>;base64,` URL."""

    model_config = ConfigDict(extra="ignore")
    type: str = Field(default="image", max_length=32)
    name: str | None = Field(default=None, max_length=512)
    mime: str | None = Field(default=None, max_length=128)
    base64: str = Field(min_length=1)
    size: int | None = Field(default=None, ge=0)


class QueryRequest(BaseModel):
    # Unknown fields (a client's location, mode, ...) are accepted and ignored.
    model_config = ConfigDict(extra="ignore")

    user_id: ClientId | None = None
    session_id: ClientId | None = None
    query: str = Field(min_length=1)
    model_provider: str | None = Field(default=None, max_length=64)
    model_name: str | None = Field(default=None, max_length=256)
    system: str | None = Field(default=None, max_length=100_000)
    history: list[HistoryMessage] = Field(default_factory=list)
    attachments: list[Attachment] = Field(default_factory=list)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    reasoning_effort: Literal["minimal", "low", "medium", "high"] | None = None
    web_search: bool = False
    # "provider:model" names tried in order if the model fails before its first token.
    fallback_models: list[str] | None = Field(default=None, max_length=10)
    # Grounding in the user's files: None = on when the user has ready files.
    use_rag: bool | None = None
    # Restrict retrieval to these files (another user's file id: 404).
    file_ids: list[str] | None = Field(default=None, max_length=100)
    # Native tool calling: the model may answer with calls instead of text.
    tools: list[ToolDefinition] = Field(default_factory=list, max_length=128)
    # "auto", "none", "required" or one tool's name.
    tool_choice: str | None = Field(default=None, max_length=64)
    parallel_tool_calls: bool | None = None
    # A turn continued after tool calls: the assistant's calls and the tools' results that
    # follow `query` (in order), sent back for the model's next step.
    tool_rounds: list[HistoryMessage] = Field(default_factory=list, max_length=256)
    # "auto": the agents (memory, shopping, products, vision...) as the turn needs them;
    # "off": a plain model call. None: the server's AGENT_MODE_DEFAULT (an experiment arm's
    # setting wins over both).
    agent_mode: Literal["auto", "off"] | None = None

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("model_provider", "model_name")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None


class GroundingInfo(BaseModel):
    """Whether the answer was grounded in the user's files."""

    used: bool
    supported: bool = Field(description="False: no supporting document passed the threshold")
    notes: list[str] = Field(default_factory=list)


class ThoughtStep(BaseModel):
    step: int
    description: str
    duration_ms: float


class ChainOfThought(BaseModel):
    steps: list[ThoughtStep]
    total_thinking_time_ms: float
    reasoning_tokens: int | None = None


class Usage(BaseModel):
    input_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cached_tokens: int | None = None
    total_tokens: int | None = None


QueryStatus = Literal["ok", "error", "incomplete", "cancelled"]


class QueryResponse(BaseModel):
    response: str
    citations: list[Citation]
    chain_of_thought: ChainOfThought | None
    supports_cot: bool
    usage: Usage
    model: str
    provider: str
    query_id: str
    status: QueryStatus
    error: str | None = None
    latency_ms: float
    ttft_ms: float | None
    cost_usd: float | None
    grounding: GroundingInfo | None = None
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)


class CancelResult(BaseModel):
    stream_id: str
    cancelled: bool
