"""The query service: the one facade every entry point uses (v1 JSON, SSE and WebSocket,
the original client's routes, the OpenAI-style facade).

`prepare` decides everything about a query (validation, the session's experiment arm,
grounding in the user's files, the entry point's options) and returns a frozen plan; then
`answer` runs it to the end or `stream` starts it as a resumable stream. Routes only
translate their wire format.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any

from llm_platform.core.errors import AppError, NotFound
from llm_platform.core.security import Principal
from llm_platform.schemas.query import QueryRequest, QueryResponse
from llm_platform.services.query.generation import GenerationResult, generate
from llm_platform.services.query.grounding import ground
from llm_platform.services.query.planning import QueryPlan, build_plan
from llm_platform.services.query.runtime import QueryRuntime
from llm_platform.services.streams.frames import (
    LEADING_TYPES,
    ErrorFrame,
    Frame,
    StartFrame,
    StreamFrame,
)

__all__ = [
    "OpenedStream",
    "PlanOptions",
    "StreamFailed",
    "answer",
    "cancel_stream",
    "open_stream",
    "prepare",
    "stream",
    "to_response",
]

STREAM_NOT_FOUND = "Stream not found (unknown, or its retention window has ended)"
_NO_SPAN = nullcontext()


@dataclass(frozen=True, slots=True)
class PlanOptions:
    """What an entry point asks beyond its `QueryRequest`."""

    # The whole answer in one upstream response (the OpenAI facade's `stream: false`): every
    # candidate asks its provider for exactly that, as the caller would have. Providers that
    # honour it answer in one piece (no token timing); the others stream as usual.
    at_once: bool = False
    # What the client sent, logged over the request's own fields (the original client's
    # model names, its mode and location, the notices it was given).
    logged: Mapping[str, Any] | None = None


async def prepare(
    runtime: QueryRuntime,
    caller: Principal,
    request: QueryRequest,
    options: PlanOptions | None = None,
) -> QueryPlan:
    """Validate and plan (a read transaction only when a session must be looked up), ground
    the plan in the caller's files, apply the entry point's options."""
    tracer = runtime.tracer
    with tracer.start_as_current_span("query.plan") if tracer is not None else _NO_SPAN:
        if request.session_id is None:
            plan = await build_plan(None, caller, runtime.settings, runtime.registry, request)
        else:
            async with runtime.db.read_sessions() as read:
                plan = await build_plan(read, caller, runtime.settings, runtime.registry, request)
    if tracer is None:
        plan = await ground(runtime.rag, plan, request)
    else:
        with tracer.start_as_current_span("rag.retrieve") as span:
            span.set_attribute("llm_platform.query_id", plan.query_id)
            plan = await ground(runtime.rag, plan, request)
            span.set_attribute("llm_platform.rag.sources", len(plan.citations))
    if options is not None:
        if options.at_once:
            plan = plan.with_requests({"stream": False})
        if options.logged:
            plan = replace(plan, log_request={**plan.log_request, **options.logged})
    return plan


async def answer(runtime: QueryRuntime, plan: QueryPlan) -> GenerationResult:
    """The whole answer; a failure before the first token is raised (the provider's error).
    Runs in its own task: a client that leaves does not stop logging."""
    task = asyncio.ensure_future(generate(runtime, plan, None))
    result = await asyncio.shield(task)
    if result.status == "error" and result.error_exc is not None:
        raise result.error_exc
    return result


def to_response(result: GenerationResult) -> QueryResponse:
    """The v1 JSON answer."""
    return QueryResponse.model_validate(result, from_attributes=True)


@dataclass(frozen=True, slots=True)
class OpenedStream:
    """A stream being read: the frames already read (`head`) and the rest (None items are
    heartbeats)."""

    stream_id: str
    head: list[Frame]
    frames: AsyncIterator[Frame | None]


async def stream(
    runtime: QueryRuntime, plan: QueryPlan, *, wait_first: bool = True
) -> OpenedStream:
    """Start the generation in the background (its frames go to the stream buffer, where any
    instance can replay them) and open the stream from its start. With `wait_first`, a
    failure before the first token is raised as `StreamFailed` (see `open_stream`)."""
    store = runtime.streams.store
    stream_id = plan.stream_id
    metrics = runtime.metrics

    async def emit(frame: StreamFrame) -> None:
        await store.append(stream_id, frame)

    async def work() -> None:
        if metrics is not None:
            metrics.active_streams.inc()
        try:
            await generate(runtime, plan, emit)
        finally:
            if metrics is not None:
                metrics.active_streams.dec()

    runtime.streams.launch(stream_id, work())
    return await open_stream(runtime, stream_id, wait_first=wait_first)


async def check_stream_owner(runtime: QueryRuntime, stream_id: str, user: Principal) -> None:
    """Another user's stream answers like a missing one (404), as every owned object."""
    first = await runtime.streams.store.first(stream_id)
    if first is None:
        if await runtime.streams.store.exists(stream_id):
            return  # created, nothing written yet: only its own request knows the id
        raise NotFound(STREAM_NOT_FOUND)
    start = first.body
    if isinstance(start, StartFrame) and start.user_id is not None:
        user.check_owner(start.user_id, "Stream")


async def cancel_stream(runtime: QueryRuntime, stream_id: str, user: Principal) -> bool:
    """Stop the caller's generation on whichever instance runs it. False: already ended."""
    await check_stream_owner(runtime, stream_id, user)
    if await runtime.streams.cancel(stream_id):
        return True
    if await runtime.streams.store.exists(stream_id):
        return False
    raise NotFound(STREAM_NOT_FOUND)


class StreamFailed(AppError):
    """A stream whose generation failed before its first token: answered as an HTTP error."""

    def __init__(self, frame: ErrorFrame) -> None:
        super().__init__(
            frame.error,
            headers={"Retry-After": frame.retry_after} if frame.retry_after else None,
        )
        self.status_code = frame.http_status
        self.type = frame.code


async def open_stream(
    runtime: QueryRuntime,
    stream_id: str,
    after: int = 0,
    *,
    wait_first: bool = False,
    caller: Principal | None = None,
) -> OpenedStream:
    """Subscribe to a stream from frame `after`. With `wait_first`, read up to the first frame
    past `start` (or a heartbeat's worth of silence) so that a failure before the first token
    can still be answered with an HTTP status (`StreamFailed`). With `caller` (a resume),
    only the stream's owner may open it."""
    store = runtime.streams.store
    if caller is not None:
        await check_stream_owner(runtime, stream_id, caller)
    elif not await store.exists(stream_id):
        raise NotFound(STREAM_NOT_FOUND)
    heartbeat = runtime.settings.STREAM_HEARTBEAT_SECONDS
    frames = aiter(store.subscribe(stream_id, after, heartbeat=heartbeat))
    head: list[Frame] = []
    if wait_first:
        async for item in frames:
            if item is None:
                break
            head.append(item)
            if item.type not in LEADING_TYPES:  # grounded sources, agent steps precede tokens
                break
        failed = head[-1].body if head else None
        if isinstance(failed, ErrorFrame) and failed.status == "error":
            aclose = getattr(frames, "aclose", None)
            if aclose is not None:
                await aclose()
            raise StreamFailed(failed)
    return OpenedStream(stream_id, head, frames)
