"""What the query service needs, built once in the app lifespan (`build_runtime`) and
stopped with it (`close_runtime`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from llm_platform.core.config import Settings
from llm_platform.db.engine import Database
from llm_platform.providers.registry import ProviderRegistry
from llm_platform.rag.runtime import RagRuntime
from llm_platform.services.agents.runtime import AgentRuntime
from llm_platform.services.instances import InstanceRegistry
from llm_platform.services.query.log_writer import QueryLogWriter
from llm_platform.services.query.metrics import QueryMetrics
from llm_platform.services.query.resilience import ProviderLimiter, RetryPolicy
from llm_platform.services.streams.manager import StreamManager
from llm_platform.services.streams.redis_store import RedisStreamStore
from llm_platform.services.streams.store import MemoryStreamStore, StreamStore


@dataclass
class QueryRuntime:
    settings: Settings
    db: Database
    registry: ProviderRegistry
    policy: RetryPolicy
    limiter: ProviderLimiter
    log_writer: QueryLogWriter
    streams: StreamManager
    rag: RagRuntime | None = None  # None: files and retrieval are off
    metrics: QueryMetrics | None = None
    instance_id: str | None = None  # this process, on `running` query rows
    instances: InstanceRegistry | None = None
    tracer: Any = None  # an OpenTelemetry tracer when tracing is on (core/tracing.py)
    agents: AgentRuntime | None = None  # the agent graph (None: every query is a plain call)


async def build_runtime(
    settings: Settings,
    db: Database,
    registry: ProviderRegistry,
    *,
    rag: RagRuntime | None = None,
    redis: Any = None,
    metrics_registry: CollectorRegistry | None = None,
    agents: AgentRuntime | None = None,
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
        db=db,
        registry=registry,
        policy=RetryPolicy.from_settings(settings),
        limiter=ProviderLimiter(settings.PROVIDER_MAX_CONCURRENCY),
        log_writer=writer,
        streams=streams,
        rag=rag,
        metrics=QueryMetrics(metrics_registry) if metrics_registry is not None else None,
        instance_id=instances.id,
        instances=instances,
        agents=agents,
    )


async def close_runtime(runtime: QueryRuntime) -> None:
    """Cancel running generations (they log themselves), then drain the log."""
    await runtime.streams.close()
    await runtime.log_writer.close()
    if runtime.instances is not None:
        await runtime.instances.stop()
