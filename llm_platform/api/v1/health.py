from __future__ import annotations

import asyncio
import os
import time

from fastapi import APIRouter, Response
from sqlalchemy import text

from llm_platform import __version__
from llm_platform.api.deps import Staff, State
from llm_platform.api.json_body import JSONRoute
from llm_platform.app_state import AppState
from llm_platform.db.migrate import current_revision, head_revision
from llm_platform.rag.lifecycle import RagDisabled
from llm_platform.schemas.health import (
    DatabaseStatus,
    FilesStatus,
    Health,
    ProcessStatus,
    Readiness,
    Status,
)

router = APIRouter(tags=["health"], route_class=JSONRoute)


@router.get("/health", response_model=Health)
async def health() -> Health:
    """Liveness: answers without touching the database."""
    return Health(status="ok", version=__version__)


@router.get("/ready", response_model=Readiness, responses={503: {"model": Readiness}})
async def ready(state: State, response: Response) -> Readiness:
    """Readiness: 503 while in-process models are still loading at start-up (WARM_START),
    200 once every load has finished (a failed one is reported, not waited for). Point a
    load balancer's or orchestrator's readiness probe here, and no chat waits for a load."""
    pending = any(load.state in ("queued", "loading") for load in state.loads.values())
    if pending:
        response.status_code = 503
    return Readiness(ready=not pending, models=state.loads)


@router.get("/status", response_model=Status)
async def status(state: State, _: Staff) -> Status:
    """Researchers and admins: it names the configured providers, versions and internals."""
    db = state.db
    head = head_revision()
    try:
        async with db.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        revision = await current_revision(db.engine)
        database = DatabaseStatus(
            reachable=True,
            dialect=db.dialect,
            revision=revision,
            head=head,
            migrations_current=revision == head,
        )
    except Exception as exc:  # reported, not raised: this endpoint diagnoses
        database = DatabaseStatus(
            reachable=False,
            dialect=db.dialect,
            revision=None,
            head=head,
            migrations_current=False,
            error=type(exc).__name__,
        )
    redis_state = "not configured"
    if state.redis is not None:
        try:
            await state.redis.ping()
            redis_state = "ok"
        except Exception:
            redis_state = "unreachable"
    healthy = database.reachable and database.migrations_current and redis_state != "unreachable"
    return Status(
        status="ok" if healthy else "degraded",
        version=__version__,
        uptime_s=round(time.monotonic() - state.started_at, 3),
        database=database,
        redis=redis_state,
        providers=state.settings.provider_keys(),
        auth_mode=state.settings.AUTH_MODE.value,
        files=_files_status(state),
        models=state.loads,
        models_ready=all(load.state == "ready" for load in state.loads.values()),
        process=_process_status(state),
    )


def _process_status(state: AppState) -> ProcessStatus:
    rss: int | None = None
    fds: int | None = None
    try:
        with open("/proc/self/statm") as f:
            rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        fds = len(os.listdir("/proc/self/fd"))
    except (OSError, ValueError, IndexError):
        pass
    query = state.query
    return ProcessStatus(
        instance_id=query.instance_id,
        pid=os.getpid(),
        rss_bytes=rss,
        open_fds=fds,
        asyncio_tasks=len(asyncio.all_tasks()),
        running_generations=len(query.streams.running),
    )


def _files_status(state: AppState) -> FilesStatus:
    rag = state.rag
    if isinstance(rag, RagDisabled):
        return FilesStatus(available=False)
    runtime = rag.runtime
    return FilesStatus(
        available=runtime.vector_error is None,
        storage=runtime.storage.name,
        vector_store=runtime.store.name,
        vector_store_error=runtime.vector_error,
        embedding_model=runtime.embedder.model_name,
        ocr=runtime.ocr_available,
        audio_transcription=runtime.audio_available,
        ingestion="redis" if rag.queue.distributed else "in-process",
        reranker=runtime.reranker.name if runtime.reranker else None,
    )
