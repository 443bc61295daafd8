"""The query service: plan, then run a generation (JSON answer) or start a resumable stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import CollectorRegistry

from llm_platform.core.config import Settings
from llm_platform.core.errors import AppError, NotFound
from llm_platform.core.security import Principal
from llm_platform.db.engine import Database
from llm_platform.providers.registry import ProviderRegistry
from llm_platform.schemas.query import QueryResponse
from llm_platform.services.instances import InstanceRegistry
from llm_platform.services.query.generation import GenerationResult, QueryRuntime, generate
from llm_platform.services.query.log_writer import QueryLogWriter
from llm_platform.services.query.metrics import QueryMetrics
from llm_platform.services.query.planning import QueryPlan
from llm_platform.services.query.resilience import ProviderLimiter, RetryPolicy
from llm_platform.services.streams.frames import Frame
from llm_platform.services.streams.manager import StreamManager
from llm_platform.services.streams.redis_store import RedisStreamStore
from llm_platform.services.streams.store import MemoryStreamStore, StreamStore

__all__ = [
    "QueryRuntime",
    "StreamFailed",
    "build_runtime",
    "cancel_stream",
    "open_stream",
    "run_once",
    "start_stream",
]


async def build_runtime(
    settings: Settings,
    db: Database,
    registry: ProviderRegistry,
    *,
    redis: Any = None,
    metrics_registry: CollectorRegistry | None = None,
) -> QueryRuntime:
    """Built in the lifespan; `close_runtime` stops it."""
    store: StreamStore
    if redis is not None:
        store = RedisStreamStore(redis, retention=settings.STREAM_RETENTION_SECONDS)
    else:
        store = MemoryStreamStore(retention=settings.STREAM_RETENTION_SECONDS)
    instances = InstanceRegistry(
        db,
        heartbeat=settings.INSTANCE_HEARTBEAT_SECONDS,
        timeout=settings.INSTANCE_TIMEOUT_SECONDS,
        redis=redis,
    )
    await instances.start()  # also marks the queries of dead instances `interrupted`
    streams = StreamManager(store)
    await streams.start()
    writer = QueryLogWriter(db)
    await writer.start()
    return QueryRuntime(
        settings=settings,
        registry=registry,
        policy=RetryPolicy.from_settings(settings),
        limiter=ProviderLimiter(settings.PROVIDER_MAX_CONCURRENCY),
        log_writer=writer,
        streams=streams,
        metrics=QueryMetrics(metrics_registry) if metrics_registry is not None else None,
        instance_id=instances.id,
        instances=instances,
    )


async def close_runtime(runtime: QueryRuntime) -> None:
    """Cancel running generations (they log themselves), then drain the log."""
    await runtime.streams.close()
    await runtime.log_writer.close()
    if runtime.instances is not None:
        await runtime.instances.stop()


async def run_once(runtime: QueryRuntime, plan: QueryPlan) -> GenerationResult:
    """A whole answer. Runs in its own task: a client that leaves does not stop logging."""
    task = asyncio.ensure_future(generate(runtime, plan, None))
    return await asyncio.shield(task)


def to_response(result: GenerationResult) -> QueryResponse:
    if result.status == "error" and result.error_exc is not None:
        raise result.error_exc
    return QueryResponse(
        response=result.text,
        citations=result.citations,
        chain_of_thought=result.chain_of_thought,
        supports_cot=result.supports_cot,
        usage=result.usage,
        model=result.model,
        provider=result.provider,
        query_id=result.query_id,
        status=result.status,
        error=result.error,
        latency_ms=result.latency_ms,
        ttft_ms=result.ttft_ms,
        cost_usd=result.cost_usd,
        grounding=result.grounding,
    )


def start_stream(runtime: QueryRuntime, plan: QueryPlan) -> str:
    """Start the generation in the background; its frames go to the stream buffer."""
    store = runtime.streams.store
    stream_id = plan.stream_id
    metrics = runtime.metrics

    async def emit(data: dict[str, Any]) -> None:
        await store.append(stream_id, data)

    async def work() -> None:
        if metrics is not None:
            metrics.active_streams.inc()
        try:
            await generate(runtime, plan, emit)
        finally:
            if metrics is not None:
                metrics.active_streams.dec()

    runtime.streams.launch(stream_id, work())
    return stream_id


async def check_stream_owner(runtime: QueryRuntime, stream_id: str, user: Principal) -> None:
    """Another user's stream answers like a missing one (404), as every owned object."""
    first = await runtime.streams.store.first(stream_id)
    if first is None:
        if await runtime.streams.store.exists(stream_id):
            return  # created, nothing written yet: only its own request knows the id
        raise NotFound(STREAM_NOT_FOUND)
    owner = first.data.get("user_id")
    if isinstance(owner, str):
        user.check_owner(owner, "Stream")


async def cancel_stream(runtime: QueryRuntime, stream_id: str, user: Principal) -> bool:
    """Stop the caller's generation on whichever instance runs it. False: already ended."""
    await check_stream_owner(runtime, stream_id, user)
    if await runtime.streams.cancel(stream_id):
        return True
    if await runtime.streams.store.exists(stream_id):
        return False
    raise NotFound(STREAM_NOT_FOUND)


STREAM_NOT_FOUND = "Stream not found (unknown, or its retention window has ended)"


class StreamFailed(AppError):
    """A stream whose generation failed before its first token: answered as an HTTP error."""

    def __init__(self, frame: Frame) -> None:
        data = frame.data
        retry_after = data.get("retry_after")
        super().__init__(
            str(data.get("error") or "The model provider failed"),
            headers={"Retry-After": str(retry_after)} if retry_after else None,
        )
        self.status_code = int(data.get("http_status") or 502)
        self.type = str(data.get("code") or "provider_error")


async def open_stream(
    runtime: QueryRuntime,
    stream_id: str,
    after: int = 0,
    *,
    wait_first: bool = False,
    caller: Principal | None = None,
) -> tuple[list[Frame], AsyncIterator[Frame | None]]:
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
            if item.type not in ("start", "citation"):  # grounded sources precede tokens
                break
        if head and head[-1].type == "error" and head[-1].data.get("status") == "error":
            aclose = getattr(frames, "aclose", None)
            if aclose is not None:
                await aclose()
            raise StreamFailed(head[-1])
    return head, frames
