"""What a model call writes to the query log (its `running` row and prompt event at the start,
the whole row and the `model_response` event at the end), and what a participant reads back
of a logged request."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from llm_platform.db.models import new_id
from llm_platform.services.query.log_writer import QueryLogEntry

if TYPE_CHECKING:
    from llm_platform.services.query.generation import GenerationResult
    from llm_platform.services.query.planning import QueryPlan

# Set in a logged request when its system prompt came from an experiment arm.
HIDDEN_SYSTEM = "system_from_arm"


def participant_view(request: dict[str, Any]) -> dict[str, Any]:
    """A logged request as its participant may read it: without the arm's system prompt."""
    if not request.get(HIDDEN_SYSTEM):
        return request
    return {k: v for k, v in request.items() if k != "system"}


def _session_row(plan: QueryPlan, created: datetime) -> dict[str, Any]:
    return {
        "id": plan.session_id,
        "user_id": plan.user_id,
        "experiment_id": None,
        "variant": None,
        "environment": {},
        "title": None,
        "started_at": created,
        "ended_at": None,
    }


def _query_row(plan: QueryPlan, created: datetime) -> dict[str, Any]:
    return {
        "id": plan.query_id,
        "user_id": plan.user_id,
        "session_id": plan.session_id,
        "experiment_id": plan.experiment_id,
        "variant": plan.variant,
        "request": plan.log_request,
        "created_at": created,
    }


def start_entry(plan: QueryPlan, instance_id: str | None) -> QueryLogEntry:
    """The call as it starts: a `running` row, the session if new, the `prompt` event."""
    created = datetime.fromtimestamp(plan.created_wall, UTC)
    primary = plan.primary
    query = {
        **_query_row(plan, created),
        "provider": primary.provider.name,
        "model": primary.model,
        "citations": [],
        "status": "running",
        "instance_id": instance_id,
    }
    entry = QueryLogEntry(query=query)
    if plan.session_id is None:
        return entry
    if not plan.session_exists:
        entry.session = _session_row(plan, created)
    entry.events = [
        {
            "session_id": plan.session_id,
            "event_id": plan.prompt_event_id,
            "t": int(plan.created_wall * 1000),
            "type": "prompt",
            "data": {
                "text": plan.query,
                "query_id": plan.query_id,
                "provider": primary.provider.name,
                "model": primary.model,
                # A list, as chat clients rebuilding a conversation from events expect.
                "attachments": [
                    {"type": "image", **meta} for meta in plan.log_request.get("attachments") or []
                ],
            },
            "received_at": created,
        }
    ]
    return entry


def log_entry(
    plan: QueryPlan, result: GenerationResult, instance_id: str | None = None
) -> QueryLogEntry:
    """The call as it ended: the whole row (replacing the `running` one) and the
    `model_response` event."""
    created = datetime.fromtimestamp(plan.created_wall, UTC)
    finished = datetime.now(UTC)
    query = {
        **_query_row(plan, created),
        "provider": result.provider,
        "model": result.model,
        "response_text": result.text,
        "reasoning_text": result.reasoning or None,
        "citations": [c.model_dump(exclude_none=True) for c in result.citations],
        "tool_calls": [c.model_dump() for c in result.tool_calls] or None,
        "input_tokens": result.usage.input_tokens,
        "output_tokens": result.usage.output_tokens,
        "reasoning_tokens": result.usage.reasoning_tokens,
        "cached_tokens": result.usage.cached_tokens,
        "cost_usd": result.cost_usd,
        "latency_ms": result.latency_ms,
        "ttft_ms": result.ttft_ms,
        "status": result.status,
        "error": result.error,
        "finished_at": finished,
        "instance_id": instance_id,
    }
    entry = QueryLogEntry(query=query, upsert=True)
    turn = result.agents
    if turn is not None:
        query["request"] = {**plan.log_request, "agents": turn.routing()}
        entry.agent_steps = [
            {
                "id": step.id,
                "query_id": plan.query_id,
                "session_id": plan.session_id,
                "user_id": plan.user_id,
                "agent": step.agent,
                "status": step.status,
                "input_summary": step.input_summary,
                "output_summary": step.output_summary,
                "latency_ms": step.latency_ms,
                "input_tokens": step.input_tokens,
                "output_tokens": step.output_tokens,
                "model": step.model,
                "error": step.error,
                "started_at": step.started_at,
            }
            for step in turn.steps
        ]
    if plan.session_id is None:
        return entry
    entry.events = [
        {
            "session_id": plan.session_id,
            "event_id": new_id(),
            "t": int(finished.timestamp() * 1000),
            "type": "model_response",
            "data": {
                "text": result.text,
                "query_id": plan.query_id,
                "provider": result.provider,
                "model": result.model,
                "citations": query["citations"],
                "tool_calls": query["tool_calls"],
                "status": result.status,
                "error": result.error,
            },
            "received_at": finished,
        },
    ]
    return entry
