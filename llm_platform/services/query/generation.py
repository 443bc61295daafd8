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
from dataclasses import dataclass, field, fields, replace
from typing import Any

from llm_platform.agents.ports import Sink, WriterInput, WriterOutput
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
from llm_platform.services.agents.adapters import SUMMARY_BLOCK, HistoryWindow
from llm_platform.services.agents.runtime import AgentRuntime
from llm_platform.services.agents.turn import Flush, TurnOutcome, run_turn
from llm_platform.services.pricing import call_cost
from llm_platform.services.query.log_records import log_entry, start_entry
from llm_platform.services.query.metrics import QueryMetrics
from llm_platform.services.query.planning import Candidate, QueryPlan
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
    agents: TurnOutcome | None = None  # the agent graph's turn (agent mode auto)

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


class _Generation:
    """One generation's running state: its start, the model call(s) streaming into it (the
    plan's, or the writer's within an agent turn), its end."""

    def __init__(self, runtime: QueryRuntime, plan: QueryPlan, emit: Emit | None) -> None:
        self.runtime, self.plan, self.emit = runtime, plan, emit
        self.started = time.perf_counter()
        primary = plan.primary
        self.result = GenerationResult(
            query_id=plan.query_id,
            stream_id=plan.stream_id,
            provider=primary.provider.name,
            model=primary.model,
            status="ok",
            supports_cot=plan.capabilities.reasoning,
            grounding=plan.grounding,
        )
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.thoughts = ThoughtTracker()
        self.usage = UsageEvent()
        self.first_token: float | None = None
        self.streamed = True  # False: the provider answered in one piece (no token timing)
        self.called = False  # a model call has started
        self.begun: asyncio.Future[None] | None = None
        self.span: Any = None
        # The conversation is past the history budget (set by the writer).
        self.long_history = False

    async def begin(self) -> None:
        runtime, plan, result = self.runtime, self.plan, self.result
        # The `running` row and the prompt event: committed before the first token is sent
        # (a crash then keeps the turn), lingering with other rows until then (a quick
        # answer's start and end are written as one row).
        self.begun = runtime.log_writer.submit(
            start_entry(plan, runtime.instance_id), awaited=False
        )
        if runtime.tracer is not None:
            self.span = start_model_span(runtime.tracer, plan)
        if self.emit is not None:
            await self.emit(
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

    async def _logged_start(self) -> None:
        if self.begun is not None and not self.begun.done():
            self.runtime.log_writer.hurry()
            await asyncio.shield(self.begun)

    async def call(self, candidates: tuple[Candidate, ...], emit: Emit | None) -> None:
        """The model call: grounded sources first, then the resilient stream's events as
        frames. Provider failures and adapter bugs end up in the result, never raised."""
        self.called = True
        runtime, result = self.runtime, self.result

        async def cite(event: CitationEvent) -> None:
            citation = event.citation()
            result.citations.append(citation)
            if emit is not None:
                await emit(CitationFrame(citation))

        def on_retry(candidate: Any, error: ProviderError) -> None:
            if runtime.metrics is not None:
                runtime.metrics.retries.labels(candidate.provider.name, error.type).inc()

        try:
            for source in self.plan.citations:  # grounded sources come before any token
                await cite(source)
            stream = resilient_stream(
                candidates, runtime.policy, runtime.limiter, on_retry=on_retry
            )
            async with aclosing(stream):
                async for event in stream:
                    if isinstance(event, TextDelta):
                        if self.first_token is None:
                            self.first_token = time.perf_counter()
                            if emit is not None:
                                await self._logged_start()
                        self.thoughts.end()
                        self.text.append(event.text)
                        if emit is not None:
                            await emit(TokenFrame(event.text))
                    elif isinstance(event, ReasoningDelta):
                        if self.first_token is None:
                            self.first_token = time.perf_counter()
                            if emit is not None:
                                await self._logged_start()
                        self.thoughts.add(event.text)
                        self.reasoning.append(event.text)
                        if emit is not None and event.text:
                            await emit(ThoughtFrame(event.text))
                    elif isinstance(event, ToolCallEvent):
                        if self.first_token is None:
                            self.first_token = time.perf_counter()
                            if emit is not None:
                                await self._logged_start()
                        self.thoughts.end()
                        result.tool_calls.append(
                            ToolCallRecord(id=event.id, name=event.name, arguments=event.arguments)
                        )
                        if emit is not None:
                            await emit(ToolCallFrame(event.id, event.name, event.arguments))
                    elif isinstance(event, Selected):
                        result.provider = event.candidate.provider.name
                        result.model = event.candidate.model
                        caps = event.candidate.provider.capabilities(event.candidate.model)
                        result.supports_cot = caps.reasoning
                    elif isinstance(event, UsageEvent):
                        self.usage = merge_usage(self.usage, event)
                    elif isinstance(event, CitationEvent):
                        await cite(event)
                    elif isinstance(event, DoneEvent):
                        result.finish_reason = event.finish_reason
                        self.streamed = event.streamed
                    elif isinstance(event, ErrorEvent):
                        result.status = "incomplete"
                        result.error = event.message
                        result.finish_reason = event.code
        except ProviderError as exc:
            result.status = "error"
            result.error = exc.detail
            result.error_exc = exc
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in an adapter: log it, keep the partial answer
            log.exception("generation_failed", query_id=self.plan.query_id)
            partial = self.text or self.reasoning or result.tool_calls
            result.status = "incomplete" if partial else "error"
            result.error = f"Internal error while generating ({type(exc).__name__})"

    def cancelled(self) -> None:
        self.result.status = "cancelled"
        self.result.finish_reason = "cancelled"
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()

    async def write(self, request: WriterInput, sink: Sink) -> WriterOutput:
        """The agent graph's writer: the plan's call with the agents' context added. Its
        frames go out directly once every agent frame before them has (a `Flush` through
        the graph's stream): LangGraph's custom stream costs a cross-thread wake-up per
        item, too much per token."""
        if self.emit is not None:
            flushed = asyncio.Event()
            sink(Flush(flushed))
            await flushed.wait()
        candidates = writer_candidates(self.plan, request)
        agents = self.runtime.agents
        history = agents.ports.history if agents is not None else None
        if history is not None and self.plan.session_id is not None:
            # Counted once per turn: the writer's window and the summary job both use it.
            self.long_history = history.over_budget(candidates[0].request.messages)
            if self.long_history:
                candidates = await within_history_budget(history, self.plan.session_id, candidates)
        await self.call(candidates, self.emit)
        result = self.result
        return WriterOutput(
            text="".join(self.text),
            status=result.status,
            error=result.error,
            model=f"{result.provider}:{result.model}",
            input_tokens=self.usage.input_tokens,
            output_tokens=self.usage.output_tokens,
        )

    async def end(self, turn: TurnOutcome | None) -> GenerationResult:
        runtime, plan, result, usage = self.runtime, self.plan, self.result, self.usage
        self.thoughts.end()
        if result.tool_calls and result.status == "ok" and result.finish_reason in (None, "stop"):
            result.finish_reason = "tool_calls"
        result.text = "".join(self.text)
        result.reasoning = "".join(self.reasoning)
        result.usage = _usage(usage)
        result.supports_cot = result.supports_cot or bool(self.reasoning)
        result.chain_of_thought = self.thoughts.result(usage.reasoning_tokens)
        result.latency_ms = round((time.perf_counter() - self.started) * 1000, 2)
        if self.first_token is not None and self.streamed:
            result.ttft_ms = round((self.first_token - self.started) * 1000, 2)
        result.cost_usd = call_cost(
            runtime.settings.MODEL_PRICES,
            result.provider,
            result.model,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cached_tokens=usage.cached_tokens,
        )
        result.agents = turn
        _observe(runtime.metrics, result)
        if self.span is not None:
            end_model_span(self.span, result)
        emit = self.emit
        wait = emit is not None or runtime.settings.QUERY_LOG_WAIT
        entry = log_entry(plan, result, runtime.instance_id)
        written = runtime.log_writer.submit(entry, awaited=wait)
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


def writer_candidates(plan: QueryPlan, request: WriterInput) -> tuple[Candidate, ...]:
    """The plan's candidates with the writer's context in their system prompt (after the
    provider's or the arm's, and the file passages), images dropped when read by OCR."""
    if not request.system_blocks and request.keep_images:
        return plan.candidates
    block = "\n\n".join(request.system_blocks)
    out = []
    for candidate in plan.candidates:
        chat = candidate.request
        update: dict[str, Any] = {}
        if block:
            update["system"] = f"{chat.system}\n\n{block}" if chat.system else block
        if not request.keep_images:
            update["messages"] = [m.model_copy(update={"images": []}) for m in chat.messages]
        out.append(replace(candidate, request=chat.model_copy(update=update)))
    return tuple(out)


async def within_history_budget(
    history: HistoryWindow, session_id: str, candidates: tuple[Candidate, ...]
) -> tuple[Candidate, ...]:
    """Past the history budget: the session's rolling summary (in the system prompt) and
    the newest messages instead of the whole conversation."""
    past = candidates[0].request.messages[:-1]
    summary, recent = await history.fit(session_id, past)
    if summary is None and len(recent) == len(past):
        return candidates
    out = []
    for candidate in candidates:
        chat = candidate.request
        update: dict[str, Any] = {"messages": [*recent, chat.messages[-1]]}
        if summary:
            block = SUMMARY_BLOCK + summary
            update["system"] = f"{chat.system}\n\n{block}" if chat.system else block
        out.append(replace(candidate, request=chat.model_copy(update=update)))
    return tuple(out)


async def generate(runtime: QueryRuntime, plan: QueryPlan, emit: Emit | None) -> GenerationResult:
    """Run the plan to the end: a plain model call, or (agent mode `auto`) a turn of the
    agent graph whose writer makes that call. Never raises; a pre-token failure is in
    `error_exc`."""
    gen = _Generation(runtime, plan, emit)
    await gen.begin()
    turn: TurnOutcome | None = None
    try:
        if plan.agent_mode == "auto" and runtime.agents is not None:
            turn = await _agent_turn(runtime.agents, gen)
        else:
            await gen.call(plan.candidates, emit)
    except asyncio.CancelledError:
        gen.cancelled()
    result = await gen.end(turn)
    agents = runtime.agents
    if turn is not None and agents is not None and result.status == "ok":
        if plan.memory is not False:
            agents.learn_later(
                user_id=plan.user_id,
                text=plan.query,
                session_id=plan.session_id,
                query_id=plan.query_id,
                intent=turn.intent,
            )
        if gen.long_history and plan.session_id is not None:
            agents.summarize_later(plan.session_id)
    return result


async def _agent_turn(agents: AgentRuntime, gen: _Generation) -> TurnOutcome | None:
    """The graph's turn; if the graph itself breaks before its writer called the model (a
    bug, not an agent's failure: those are steps with status error), the plain call."""
    try:
        return await run_turn(agents, gen.plan, gen.write, gen.emit)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("agent_graph_failed", query_id=gen.plan.query_id)
        if not gen.called:
            await gen.call(gen.plan.candidates, gen.emit)
        return None


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
