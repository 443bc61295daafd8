"""The model call's span: OpenTelemetry GenAI semantic conventions and the query id.

Only used when tracing is on (`core/tracing.py`); the attribute names follow the GenAI
conventions (`gen_ai.*`), the platform's own are under `llm_platform.*`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llm_platform.services.query.generation import GenerationResult
    from llm_platform.services.query.planning import QueryPlan


def start_model_span(tracer: Any, plan: QueryPlan) -> Any:
    from opentelemetry.trace import SpanKind

    primary = plan.primary
    return tracer.start_span(
        f"chat {primary.model}",
        kind=SpanKind.CLIENT,
        attributes={
            "gen_ai.operation.name": "chat",
            "gen_ai.system": primary.provider.name,
            "gen_ai.provider.name": primary.provider.name,
            "gen_ai.request.model": primary.model,
            "llm_platform.query_id": plan.query_id,
            "llm_platform.stream_id": plan.stream_id,
            "llm_platform.user_id": plan.user_id,
            "llm_platform.session_id": plan.session_id or "",
        },
    )


def end_model_span(span: Any, result: GenerationResult) -> None:
    from opentelemetry.trace import Status, StatusCode

    attributes: dict[str, Any] = {
        "gen_ai.response.model": result.model,
        "gen_ai.response.id": result.query_id,
        "llm_platform.provider": result.provider,
        "llm_platform.status": result.status,
        "llm_platform.latency_ms": result.latency_ms,
    }
    if result.finish_reason:
        attributes["gen_ai.response.finish_reasons"] = [result.finish_reason]
    usage = result.usage
    if usage.input_tokens is not None:
        attributes["gen_ai.usage.input_tokens"] = usage.input_tokens
    if usage.output_tokens is not None:
        attributes["gen_ai.usage.output_tokens"] = usage.output_tokens
    if result.ttft_ms is not None:
        attributes["llm_platform.ttft_ms"] = result.ttft_ms
    span.set_attributes(attributes)
    if result.status in ("error", "incomplete"):
        span.set_status(Status(StatusCode.ERROR, result.error or result.status))
        if result.error_exc is not None:
            span.set_attribute("error.type", result.error_exc.type)
    span.end()
