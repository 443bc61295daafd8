"""The composition root: every subsystem the app serves with, built in dependency order and
stopped in reverse.

Each subsystem is an async context manager (database, Redis, providers, files/RAG, query
streaming with its instance heartbeat, warm start); `compose` enters them on one
`AsyncExitStack`, so shutdown order is the stack's and a failed start closes what was
already built. The resulting `AppState` is complete and immutable. `main.py` only wires it
into FastAPI's lifespan; the CLI worker uses the same pieces.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace

import httpx
from redis.asyncio import Redis

from llm_platform import __version__
from llm_platform.agents.intent import IntentRouter
from llm_platform.agents.llm import resolve_llm
from llm_platform.app_state import AppState
from llm_platform.core.config import Settings
from llm_platform.core.logging import get_logger
from llm_platform.core.malloc import MallocTrimmer, limit_arenas
from llm_platform.core.secret_key import load_secret
from llm_platform.core.security import ParticipantTokens
from llm_platform.core.tracing import Tracing
from llm_platform.db.engine import Database, create_database
from llm_platform.db.migrate import upgrade
from llm_platform.middleware.metrics import Metrics
from llm_platform.middleware.rate_limit import RateLimiter
from llm_platform.providers.registry import ProviderRegistry, build_registry
from llm_platform.providers.scripted import with_scripted_provider
from llm_platform.rag.lifecycle import RagDisabled, RagServices, rag_services
from llm_platform.rag.products import ProductSearch, SerpApiShopping
from llm_platform.services.agents.adapters import (
    CatalogFinder,
    HistoryWindow,
    MemoryAdapter,
    ShoppingInterviewer,
)
from llm_platform.services.agents.runtime import (
    AgentPorts,
    AgentRuntime,
    agent_runtime,
    default_ports,
)
from llm_platform.services.query.runtime import QueryRuntime, build_runtime, close_runtime
from llm_platform.services.warmup import Warmer, start_warm_up

log = get_logger("llm_platform")


@asynccontextmanager
async def database(settings: Settings, tracing: Tracing | None) -> AsyncIterator[Database]:
    """The engine (migrated when AUTO_MIGRATE), with SQLite's checkpointer beside it."""
    db = create_database(settings)
    try:
        if tracing is not None:
            tracing.instrument_engine(db.engine)
        if settings.AUTO_MIGRATE:
            await upgrade(db.engine)
        checkpoints = await db.start_checkpoints()  # SQLite only
        try:
            yield db
        finally:
            if checkpoints is not None:
                checkpoints.stop()
    finally:
        await db.dispose()


@asynccontextmanager
async def redis_client(settings: Settings) -> AsyncIterator[Redis | None]:
    if not settings.REDIS_URL:
        yield None
        return
    redis = Redis.from_url(settings.REDIS_URL)
    try:
        yield redis
    finally:
        await redis.aclose()


@asynccontextmanager
async def providers(settings: Settings) -> AsyncIterator[ProviderRegistry]:
    registry = with_scripted_provider(build_registry(settings), settings)
    try:
        yield registry
    finally:
        await registry.aclose()


@asynccontextmanager
async def query_runtime(
    settings: Settings,
    db: Database,
    registry: ProviderRegistry,
    rag: RagServices | RagDisabled,
    redis: Redis | None,
    metrics: Metrics | None,
    tracing: Tracing | None,
    agents: AgentRuntime,
) -> AsyncIterator[QueryRuntime]:
    """Streams, the query log writer and the instance heartbeat."""
    runtime = await build_runtime(
        settings,
        db,
        registry,
        rag=rag.runtime if isinstance(rag, RagServices) else None,
        redis=redis,
        metrics_registry=metrics.registry if metrics is not None else None,
        agents=agents,
    )
    if tracing is not None:
        runtime.tracer = tracing.tracer
    try:
        yield runtime
    finally:
        await close_runtime(runtime)


@asynccontextmanager
async def warm_start(
    settings: Settings,
    registry: ProviderRegistry,
    rag: RagServices | RagDisabled,
    router: IntentRouter | None = None,
) -> AsyncIterator[Warmer]:
    """In-process models load at start-up: before serving (WARM_START_WAIT; uvicorn binds its
    port only after the lifespan's start-up, so no request arrives before the models are
    loaded; a failed load is reported, not fatal), or in the background."""
    warmer = start_warm_up(
        settings, registry, rag if isinstance(rag, RagServices) else None, router
    )
    try:
        if settings.WARM_START_WAIT:
            await warmer.wait()
        yield warmer
    finally:
        await warmer.aclose()


@asynccontextmanager
async def product_search(
    settings: Settings, db: Database, rag: RagServices | RagDisabled
) -> AsyncIterator[ProductSearch]:
    """The catalog search on the RAG embedder (keyword only when RAG is off), with SerpAPI's
    Google Shopping on its own HTTP client when SERPAPI_API_KEY is set."""
    embedder = rag.runtime.embedder if isinstance(rag, RagServices) else None
    if settings.SERPAPI_API_KEY is None:
        yield ProductSearch(db, embedder)
        return
    async with httpx.AsyncClient(timeout=settings.SERPAPI_TIMEOUT_S) as client:
        serpapi = SerpApiShopping(
            client,
            settings.SERPAPI_API_KEY.get_secret_value(),
            base_url=settings.SERPAPI_BASE_URL,
            country=settings.SERPAPI_COUNTRY,
            language=settings.SERPAPI_LANGUAGE,
        )
        yield ProductSearch(db, embedder, serpapi)


def agent_ports(
    settings: Settings,
    registry: ProviderRegistry,
    db: Database,
    rag: RagServices | RagDisabled,
    products: ProductSearch,
    intent_router: IntentRouter,
) -> AgentPorts:
    """The agents' access to the platform: the intent router, the memories, the catalog,
    the shopping interview (their model: AGENT_LLM_MODEL), OCR."""
    llm = (
        resolve_llm(registry, settings.AGENT_LLM_MODEL or settings.INTENT_LLM_MODEL)
        if settings.AGENT_LLM_MODEL or settings.INTENT_LLM_ENABLED
        else None
    )
    embedder = rag.runtime.embedder if isinstance(rag, RagServices) else None
    return replace(
        default_ports(settings),
        router=intent_router,
        products=CatalogFinder(products),
        interviewer=ShoppingInterviewer(products, llm),
        memory=MemoryAdapter(db, embedder, llm, settings),
        history=HistoryWindow(db, embedder, llm, settings.HISTORY_TOKEN_BUDGET),
    )


@asynccontextmanager
async def compose(
    settings: Settings, *, metrics: Metrics | None = None, tracing: Tracing | None = None
) -> AsyncIterator[AppState]:
    """The app's state, every part started; on exit each part stops in reverse order."""
    limit_arenas(settings.MALLOC_ARENA_MAX)  # before the threads below allocate
    async with AsyncExitStack() as stack:
        if tracing is not None:
            stack.callback(tracing.shutdown)
        db = await stack.enter_async_context(database(settings, tracing))
        redis = await stack.enter_async_context(redis_client(settings))
        registry = await stack.enter_async_context(providers(settings))
        rag = await stack.enter_async_context(rag_services(settings, db))
        products = await stack.enter_async_context(product_search(settings, db, rag))
        intent_router = IntentRouter.build(
            settings,
            rag.runtime.embedder if isinstance(rag, RagServices) else None,
            resolve_llm(registry, settings.INTENT_LLM_MODEL),
        )
        # The agent graph and its checkpointer (one saver per process).
        agents = await stack.enter_async_context(
            agent_runtime(
                settings, db, agent_ports(settings, registry, db, rag, products, intent_router)
            )
        )
        query = await stack.enter_async_context(
            query_runtime(settings, db, registry, rag, redis, metrics, tracing, agents)
        )
        warmer = await stack.enter_async_context(warm_start(settings, registry, rag, intent_router))
        state = AppState(
            settings=settings,
            db=db,
            rate_limiter=RateLimiter(
                settings.RATE_LIMIT_PER_MINUTE,
                settings.RATE_LIMIT_PER_MINUTE_IP,
                settings.REDIS_URL,
                new_participants_per_ip=settings.RATE_LIMIT_NEW_PARTICIPANTS_PER_MINUTE_IP,
            ),
            metrics=metrics,
            tokens=ParticipantTokens(load_secret(settings)),
            redis=redis,
            providers=registry,
            query=query,
            rag=rag,
            loads=warmer.loads,
            products=products,
            intent_router=intent_router,
        )
        # Everything built so far lives as long as the process: move it out of the
        # collector's reach, or every full collection rescans it (100+ ms pauses under load).
        gc.collect()
        gc.freeze()
        trimmer = MallocTrimmer(settings.MALLOC_TRIM_SECONDS)
        trimmer.start()
        stack.push_async_callback(trimmer.aclose)
        log.info(
            "started",
            version=__version__,
            database=db.dialect,
            redis=redis is not None,
            auth_mode=settings.AUTH_MODE.value,
        )
        yield state
