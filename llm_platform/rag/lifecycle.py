"""Start and stop the RAG services with the app (or the worker)."""

from __future__ import annotations

from llm_platform.core.config import Settings
from llm_platform.core.logging import get_logger
from llm_platform.core.state import RagServices
from llm_platform.db.engine import Database
from llm_platform.rag.jobs import IngestionQueue
from llm_platform.rag.runtime import build_runtime

log = get_logger("llm_platform.rag")


async def start_rag(
    settings: Settings, db: Database, *, consume: bool | None = None
) -> RagServices | None:
    """Build the runtime and the ingestion queue. `consume`: run jobs in this process
    (default INGEST_IN_APP). A misconfiguration disables files/RAG, not the app."""
    try:
        runtime = await build_runtime(settings, db)
    except Exception as exc:
        log.error("rag_disabled", error=str(exc))
        return None
    queue = IngestionQueue(runtime, consume=settings.INGEST_IN_APP if consume is None else consume)
    await queue.start()
    return RagServices(runtime=runtime, queue=queue)


async def stop_rag(rag: RagServices | None) -> None:
    if rag is None:
        return
    await rag.queue.stop()
    await rag.runtime.aclose()
