from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from llm_platform.schemas.common import Schema


class QueryLogOut(Schema):
    """One logged model call."""

    id: str
    user_id: str
    session_id: str | None
    experiment_id: str | None
    variant: str | None
    provider: str
    model: str
    request: dict[str, Any]
    response_text: str | None
    reasoning_text: str | None
    citations: list[dict[str, Any]]
    tool_calls: list[dict[str, Any]] | None = None
    input_tokens: int | None
    output_tokens: int | None
    reasoning_tokens: int | None
    cached_tokens: int | None
    cost_usd: float | None
    latency_ms: float | None
    ttft_ms: float | None
    status: str
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class AgentStepOut(Schema):
    """One agent's step in a turn of the agent graph."""

    id: str
    agent: str
    status: str
    input_summary: str | None
    output_summary: str | None
    latency_ms: float | None
    input_tokens: int | None
    output_tokens: int | None
    model: str | None
    error: str | None
    started_at: datetime


class QueryDetailOut(QueryLogOut):
    """One logged model call with its turn's agent steps (empty: a plain call)."""

    agent_steps: list[AgentStepOut]


GroupBy = Literal["provider", "model", "day"]


class TokenGroup(BaseModel):
    key: str
    queries: int
    input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cached_tokens: int
    total_tokens: int
    cost_usd: float | None
    unpriced_queries: int
    avg_latency_ms: float | None
    avg_ttft_ms: float | None


class TokenAnalytics(BaseModel):
    group_by: GroupBy
    start: datetime | None
    end: datetime | None
    groups: list[TokenGroup]
    totals: TokenGroup
