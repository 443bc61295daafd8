"""FastAPI application factory. Everything stateful is built in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Response
from fastapi.middleware.cors import CORSMiddleware
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from llm_platform import __version__
from llm_platform.api.deps import get_staff
from llm_platform.api.docs import build_docs_router
from llm_platform.api.legacy.router import legacy_router, priority_router
from llm_platform.api.openai.routes import router as openai_router
from llm_platform.api.v1.router import api_router
from llm_platform.composition import compose
from llm_platform.core.config import Settings, load_settings
from llm_platform.core.logging import configure_logging
from llm_platform.core.tracing import setup_tracing
from llm_platform.middleware.body_limit import BodyLimitMiddleware
from llm_platform.middleware.error_handlers import install_error_handlers
from llm_platform.middleware.input_guard import InputGuardMiddleware
from llm_platform.middleware.metrics import Metrics, MetricsMiddleware
from llm_platform.middleware.request_context import RequestContextMiddleware


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    configure_logging(settings)
    metrics = Metrics() if settings.ENABLE_METRICS else None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with compose(settings, metrics=metrics, tracing=tracing) as state:
            app.state.platform = state
            yield

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
