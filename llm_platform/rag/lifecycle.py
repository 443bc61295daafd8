"""Start and stop the RAG services with the app (or the worker)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from llm_platform.core.config import Settings
from llm_platform.core.logging import get_logger
from llm_platform.db.engine import Database
from llm_platform.rag.jobs import IngestionQueue
from llm_platform.rag.runtime import RagRuntime, build_runtime

log = get_logger("llm_platform.rag")


@dataclass(frozen=True, slots=True)
class RagServices:
    runtime: RagRuntime
    queue: IngestionQueue


@dataclass(frozen=True, slots=True)
class RagDisabled:
    """Files and RAG are off on this server, and why (for the log and `/status`)."""

    reason: str


@asynccontextmanager
async def rag_services(
    settings: Settings, db: Database, *, consume: bool | None = None
) -> AsyncIterator[RagServices | RagDisabled]:
    """The runtime and the ingestion queue, stopped on exit. `consume`: run jobs in this
    process (default INGEST_IN_APP). A misconfiguration disables files/RAG, not the app."""
    try:
        runtime = await build_runtime(settings, db)
    except Exception as exc:
        log.error("rag_disabled", error=str(exc))
        yield RagDisabled(reason=str(exc))
        return
    try:
        queue = IngestionQueue(
            runtime, consume=settings.INGEST_IN_APP if consume is None else consume
        )
        await queue.start()
        try:
            yield RagServices(runtime=runtime, queue=queue)
        finally:
            await queue.stop()
    finally:
        await runtime.aclose()
