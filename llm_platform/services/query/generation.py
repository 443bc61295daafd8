"""One generation: run the plan through the resilient stream, emit frames, log the call.

Frames (typed, `services.streams.frames`; each wire format is an encoder of them): `start`,
`thought`, `token`, `citation`, `usage`, then exactly one terminal frame, `done` (status ok /
cancelled) or `error` (status error before the first token, incomplete after).
The call is logged whatever happens: completion, upstream failure, cancellation or a client
that went away (the generation does not belong to any request).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field, fields
from typing import Any

from llm_platform.core.logging import get_logger
from llm_platform.providers.base import (
    CitationEvent,
    DoneEvent,
    ErrorEvent,
    ReasoningDelta,
    TextDelta,
    ToolCallEvent,
    UsageEvent,
    merge_usage,
)
from llm_platform.providers.errors import ProviderError
from llm_platform.schemas.query import (
    ChainOfThought,
    Citation,
    GroundingInfo,
    QueryStatus,
    ToolCallRecord,
    Usage,
)
from llm_platform.services.pricing import call_cost
from llm_platform.services.query.log_records import log_entry, start_entry
from llm_platform.services.query.metrics import QueryMetrics
from llm_platform.services.query.planning import QueryPlan
from llm_platform.services.query.resilience import Selected, resilient_stream
from llm_platform.services.query.runtime import QueryRuntime
from llm_platform.services.query.tracing import end_model_span, start_model_span
from llm_platform.services.streams.frames import (
    CitationFrame,
    DoneFrame,
    ErrorFrame,
    StartFrame,
    StreamFrame,
    StreamMetadata,
    ThoughtFrame,
    TokenFrame,
    ToolCallFrame,
    UsageFrame,
)
from llm_platform.services.thoughts import ThoughtTracker

log = get_logger("llm_platform.query")

Emit = Callable[[StreamFrame], Awaitable[Any]]


@dataclass
class GenerationResult:
    query_id: str
    stream_id: str
    provider: str
    model: str
    status: QueryStatus
    supports_cot: bool
    text: str = ""
    reasoning: str = ""
    citations: list[Citation] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    chain_of_thought: ChainOfThought | None = None
    finish_reason: str | None = None
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    cost_usd: float | None = None
    error: str | None = None
    error_exc: ProviderError | None = None
    grounding: GroundingInfo | None = None
    tool_calls: list[ToolCallRecord] = field(default_factory=list)

    @property
    def response(self) -> str:
        """The answer's text, under its name in the v1 JSON answer."""
        return self.text

    def metadata(self) -> StreamMetadata:
        return StreamMetadata(**{f.name: getattr(self, f.name) for f in fields(StreamMetadata)})


def _usage(event: UsageEvent) -> Usage:
    total = None
    if event.input_tokens is not None or event.output_tokens is not None:
        total = (event.input_tokens or 0) + (event.output_tokens or 0)
    return Usage(
        input_tokens=event.input_tokens,
        output_tokens=event.output_tokens,
        reasoning_tokens=event.reasoning_tokens,
        cached_tokens=event.cached_tokens,
        total_tokens=total,
    )


async def generate(runtime: QueryRuntime, plan: QueryPlan, emit: Emit | None) -> GenerationResult:
    """Run the plan to the end. Never raises; a pre-token failure is in `error_exc`."""
    started = time.perf_counter()
    primary = plan.primary
    result = GenerationResult(
        query_id=plan.query_id,
        stream_id=plan.stream_id,
        provider=primary.provider.name,
        model=primary.model,
        status="ok",
        supports_cot=plan.capabilities.reasoning,
        grounding=plan.grounding,
    )
    # The `running` row and the prompt event: committed before the first token is sent (a
    # crash then keeps the turn), lingering with other rows until then (a quick answer's
    # start and end are written as one row).
    begun = runtime.log_writer.submit(start_entry(plan, runtime.instance_id), awaited=False)
    span = start_model_span(runtime.tracer, plan) if runtime.tracer is not None else None
    if emit is not None:
        await emit(
            StartFrame(
                stream_id=plan.stream_id,
                query_id=plan.query_id,
                user_id=plan.user_id,  # the owner: only they may resume or cancel it
                instance_id=runtime.instance_id,  # readers elsewhere watch it is alive
                provider=result.provider,
                model=result.model,
                supports_cot=result.supports_cot,
            )
        )
    text: list[str] = []
    reasoning: list[str] = []
    thoughts = ThoughtTracker()
    usage = UsageEvent()
    first_token: float | None = None
    streamed = True  # False: the provider answered in one piece (no token timing)

    async def cite(event: CitationEvent) -> None:
        citation = event.citation()
        result.citations.append(citation)
        if emit is not None:
            await emit(CitationFrame(citation))

    def on_retry(candidate: Any, error: ProviderError) -> None:
        if runtime.metrics is not None:
            runtime.metrics.retries.labels(candidate.provider.name, error.type).inc()

    async def logged_start() -> None:
        if not begun.done():
            runtime.log_writer.hurry()
            await asyncio.shield(begun)

    try:
        for source in plan.citations:  # grounded sources come before any token
            await cite(source)
        stream = resilient_stream(
            plan.candidates, runtime.policy, runtime.limiter, on_retry=on_retry
        )
        async with aclosing(stream):
            async for event in stream:
                if isinstance(event, TextDelta):
                    if first_token is None:
                        first_token = time.perf_counter()
                        if emit is not None:
                            await logged_start()
                    thoughts.end()
                    text.append(event.text)
                    if emit is not None:
                        await emit(TokenFrame(event.text))
                elif isinstance(event, ReasoningDelta):
                    if first_token is None:
                        first_token = time.perf_counter()
                        if emit is not None:
                            await logged_start()
                    thoughts.add(event.text)
                    reasoning.append(event.text)
                    if emit is not None and event.text:
                        await emit(ThoughtFrame(event.text))
                elif isinstance(event, Selected):
                    result.provider = event.candidate.provider.name
                    result.model = event.candidate.model
                    caps = event.candidate.provider.capabilities(event.candidate.model)
                    result.supports_cot = caps.reasoning
                elif isinstance(event, ToolCallEvent):
                    if first_token is None:
                        first_token = time.perf_counter()
                        if emit is not None:
                            await logged_start()
                    thoughts.end()
                    result.tool_calls.append(
                        ToolCallRecord(id=event.id, name=event.name, arguments=event.arguments)
                    )
                    if emit is not None:
                        await emit(ToolCallFrame(event.id, event.name, event.arguments))
                elif isinstance(event, UsageEvent):
                    usage = merge_usage(usage, event)
                elif isinstance(event, CitationEvent):
                    await cite(event)
                elif isinstance(event, DoneEvent):
                    result.finish_reason = event.finish_reason
                    streamed = event.streamed
                elif isinstance(event, ErrorEvent):
                    result.status = "incomplete"
                    result.error = event.message
                    result.finish_reason = event.code
    except ProviderError as exc:
        result.status = "error"
        result.error = exc.detail
        result.error_exc = exc
    except asyncio.CancelledError:
        result.status = "cancelled"
        result.finish_reason = "cancelled"
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()
    except Exception as exc:  # a bug in an adapter: log it, keep the partial answer
        log.exception("generation_failed", query_id=plan.query_id)
        result.status = "incomplete" if text or reasoning or result.tool_calls else "error"
        result.error = f"Internal error while generating ({type(exc).__name__})"

    thoughts.end()
    if result.tool_calls and result.status == "ok" and result.finish_reason in (None, "stop"):
        result.finish_reason = "tool_calls"
    result.text = "".join(text)
    result.reasoning = "".join(reasoning)
    result.usage = _usage(usage)
    result.supports_cot = result.supports_cot or bool(reasoning)
    result.chain_of_thought = thoughts.result(usage.reasoning_tokens)
    result.latency_ms = round((time.perf_counter() - started) * 1000, 2)
    if first_token is not None and streamed:
        result.ttft_ms = round((first_token - started) * 1000, 2)
    result.cost_usd = call_cost(
        runtime.settings.MODEL_PRICES,
        result.provider,
        result.model,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_tokens=usage.cached_tokens,
    )
    _observe(runtime.metrics, result)
    if span is not None:
        end_model_span(span, result)
    wait = emit is not None or runtime.settings.QUERY_LOG_WAIT
    written = runtime.log_writer.submit(log_entry(plan, result, runtime.instance_id), awaited=wait)
    if not wait:
        return result
    # Wait for the log and announce the end even if a cancel arrives meanwhile.
    final = asyncio.ensure_future(_finish(result, emit, written))
    while not final.done():
        try:
            await asyncio.shield(final)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
    return result


async def _finish(
    result: GenerationResult, emit: Emit | None, written: asyncio.Future[None]
) -> None:
    await written
    if emit is None:
        return
    if result.usage.input_tokens is not None or result.usage.output_tokens is not None:
        await emit(UsageFrame(result.usage))
    if result.status in ("ok", "cancelled"):
        await emit(DoneFrame(result.metadata()))
    else:
        exc = result.error_exc
        await emit(
            ErrorFrame(
                error=result.error or "The model provider failed",
                code=exc.type if exc else (result.finish_reason or "provider_error"),
                status=result.status,
                http_status=exc.status_code if exc else 502,
                retry_after=(exc.headers or {}).get("Retry-After") if exc else None,
                metadata=result.metadata(),
            )
        )


def _observe(metrics: QueryMetrics | None, result: GenerationResult) -> None:
    if metrics is None:
        return
    labels = (result.provider, result.model)
    metrics.calls.labels(*labels, result.status).inc()
    metrics.latency.labels(*labels).observe(result.latency_ms / 1000)
    if result.ttft_ms is not None:
        metrics.ttft.labels(*labels).observe(result.ttft_ms / 1000)
    for kind in ("input", "output", "reasoning", "cached"):
        value = getattr(result.usage, f"{kind}_tokens")
        if value:
            metrics.tokens.labels(*labels, kind).inc(value)
