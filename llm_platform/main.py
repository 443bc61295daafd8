"""FastAPI application factory. Everything stateful is built in the lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.asyncio import Redis

from llm_platform import __version__
from llm_platform.api.deps import get_staff
from llm_platform.api.docs import build_docs_router
from llm_platform.api.legacy.router import legacy_router, priority_router
from llm_platform.api.openai.routes import router as openai_router
from llm_platform.api.v1.router import api_router
from llm_platform.core.config import Settings, load_settings
from llm_platform.core.logging import configure_logging, get_logger
from llm_platform.core.malloc import MallocTrimmer, limit_arenas
from llm_platform.core.secret_key import load_secret
from llm_platform.core.security import ParticipantTokens
from llm_platform.core.state import AppState
from llm_platform.core.tracing import setup_tracing
from llm_platform.db.engine import create_database
from llm_platform.db.migrate import upgrade
from llm_platform.middleware.body_limit import BodyLimitMiddleware
from llm_platform.middleware.error_handlers import install_error_handlers
from llm_platform.middleware.input_guard import InputGuardMiddleware
from llm_platform.middleware.metrics import Metrics, MetricsMiddleware
from llm_platform.middleware.rate_limit import RateLimiter
from llm_platform.middleware.request_context import RequestContextMiddleware
from llm_platform.providers.registry import build_registry
from llm_platform.providers.scripted import with_scripted_provider
from llm_platform.rag.lifecycle import start_rag, stop_rag
from llm_platform.services.query.runtime import build_runtime, close_runtime
from llm_platform.services.warmup import start_warm_up

log = get_logger("llm_platform")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings)
    metrics = Metrics() if settings.ENABLE_METRICS else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limit_arenas(settings.MALLOC_ARENA_MAX)  # before the threads below allocate
        trimmer = MallocTrimmer(settings.MALLOC_TRIM_SECONDS)
        db = create_database(settings)
        if tracing is not None:
            tracing.instrument_engine(db.engine)
        if settings.AUTO_MIGRATE:
            await upgrade(db.engine)
        checkpoints = await db.start_checkpoints()  # SQLite only
        redis = Redis.from_url(settings.REDIS_URL) if settings.REDIS_URL else None
        providers = build_registry(settings)
        app.state.platform = AppState(
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
            providers=providers,
        )
        rag = await start_rag(settings, db)
        app.state.platform.rag = rag
        # --- query streaming ---
        with_scripted_provider(providers, settings)
        app.state.platform.query = await build_runtime(
            settings,
            db,
            providers,
            rag=rag.runtime if rag is not None else None,
            redis=redis,
            metrics_registry=metrics.registry if metrics is not None else None,
        )
        if tracing is not None:
            app.state.platform.query.tracer = tracing.tracer
        # --- warm start: in-process models load before serving, or in the background ---
        warmer = start_warm_up(settings, providers, rag)
        app.state.platform.loads = warmer.loads
        if settings.WARM_START_WAIT:
            # uvicorn binds its port after the lifespan's start-up: no request arrives
            # before the models are loaded (a failed load is reported, not fatal).
            await warmer.wait()
        # Everything built so far lives as long as the process: move it out of the
        # collector's reach, or every full collection rescans it (100+ ms pauses under load).
        gc.collect()
        gc.freeze()
        trimmer.start()
        log.info(
            "started",
            version=__version__,
            database=db.dialect,
            redis=bool(redis),
            auth_mode=settings.AUTH_MODE.value,
        )
        try:
            yield
        finally:
            # --- shutdown of the above, in reverse order ---
            await trimmer.aclose()
            await warmer.aclose()
            await close_runtime(app.state.platform.query)
            await stop_rag(rag)
            await providers.aclose()

            if redis is not None:
                await redis.aclose()
            if checkpoints is not None:
                checkpoints.stop()
            await db.dispose()
            if tracing is not None:
                tracing.shutdown()

    app = FastAPI(
        title=settings.APP_NAME,
        version=__version__,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        # Served from packaged assets (offline, under a CSP): api/docs.py.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    install_error_handlers(app)
    app.include_router(build_docs_router(settings.APP_NAME, "/openapi.json"))
    tracing = setup_tracing(settings, app)
    # The OpenAI facade first: routes are matched in order and it is the gateway's hot path
    # (its /v1/ paths collide with nothing else).
    app.include_router(openai_router)
    app.include_router(priority_router)  # before the v1 API: see api/legacy/router.py
    app.include_router(api_router)
    # --- other routers (legacy client, web UI) ---
    if settings.UI_ENABLED:
        from llm_platform.web.ui import build_web_router

        app.include_router(build_web_router(settings))
    app.include_router(legacy_router)

    if metrics is not None:

        @app.get("/metrics", include_in_schema=False, dependencies=[Depends(get_staff)])
        async def metrics_endpoint() -> Response:
            """Scrapers send a researcher or admin key (Prometheus: `authorization`)."""
            return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # Outermost last: request context wraps everything, so every line has the request id.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=int(settings.MAX_REQUEST_BODY_MB * 1024 * 1024),
        upload_max_bytes=int((settings.MAX_FILE_SIZE_MB + 1) * 1024 * 1024),
    )
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.CORS_ORIGINS,
        allow_credentials=True,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["X-Request-ID", "Server-Timing", "Retry-After"],
    )
    if metrics is not None:
        app.add_middleware(MetricsMiddleware, metrics=metrics)
    app.add_middleware(RequestContextMiddleware)
    return app
