"""One ingestion run: claim the file's job, extract, chunk, embed, index, mark ready.

Idempotent: a run only proceeds if it can claim the file under its job id; the chunks,
vectors and keyword entries of the file are replaced in one transaction at the end, so a
crash at any point leaves either the old state or the new one, never half of each."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum

import numpy as np
from sqlalchemy import update

from llm_platform.core.file_status import FileStatus
from llm_platform.core.logging import get_logger
from llm_platform.db.models import File, FileChunk, FileSection, utcnow
from llm_platform.db.repositories.files import ChunkRepository, FileRepository
from llm_platform.rag.embeddings import EmbeddingError
from llm_platform.rag.extract import ExtractionError
from llm_platform.rag.filetypes import FileKind
from llm_platform.rag.runtime import RagRuntime
from llm_platform.rag.store import IndexEntry

log = get_logger("llm_platform.ingest")

# Progress bands per stage (extraction is the slow part for scans and audio).
_EXTRACT = (0.02, 0.45)
_EMBED = (0.45, 0.95)


class Outcome(StrEnum):
    READY = "ready"
    FAILED = "failed"
    SKIPPED = "skipped"  # not ours to run (already done, taken, deleted or re-queued)
    REQUEUED = "requeued"  # handed back on shutdown; the next sweep sends it again
    LOST = "lost"  # our lease was taken over or the file deleted meanwhile


class _LeaseLost(Exception):
    pass


class _Stopping(Exception):
    """The process is shutting down: hand the job back instead of being killed mid-write."""


class _Heartbeat:
    """Writes progress and extends the lease about once a second, from the event loop."""

    def __init__(self, runtime: RagRuntime, file_id: str, job_id: str) -> None:
        self.runtime = runtime
        self.file_id = file_id
        self.job_id = job_id
        self.progress = 0.0
        self.stage = "starting"
        self._written: tuple[float, str] | None = None
        self._last = 0.0
        self.lost = False

    def set(self, progress: float, stage: str | None = None) -> None:
        self.progress = max(self.progress, min(progress, 1.0))
        if stage:
            self.stage = stage

    async def beat(self, force: bool = False) -> None:
        now = time.monotonic()
        lease_s = self.runtime.settings.INGEST_LEASE_SECONDS
        due = now - self._last >= min(1.0, lease_s / 4)
        if not (force or due):
            return
        state = (round(self.progress, 3), self.stage)
        self._last = now
        async with self.runtime.db.write_sessions() as session, session.begin():
            result = await session.execute(
                update(File)
                .where(
                    File.id == self.file_id,
                    File.job_id == self.job_id,
                    File.status == FileStatus.PROCESSING,
                )
                .values(
                    progress=state[0],
                    stage=state[1],
                    lease_until=utcnow() + timedelta(seconds=lease_s),
                    updated_at=utcnow(),
                )
            )
        self._written = state
        if result.rowcount == 0:  # type: ignore[attr-defined]
            self.lost = True
            raise _LeaseLost

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.5)
            try:
                await self.beat()
            except _LeaseLost:
                return
            except Exception as exc:  # a busy database must not kill the ingestion
                log.warning("heartbeat_failed", file_id=self.file_id, error=str(exc))


def _band(band: tuple[float, float], fraction: float) -> float:
    return band[0] + (band[1] - band[0]) * max(0.0, min(1.0, fraction))


async def _finish_failed(runtime: RagRuntime, file_id: str, job_id: str, message: str) -> None:
    async with runtime.db.write_sessions() as session, session.begin():
        await session.execute(
            update(File)
            .where(File.id == file_id, File.job_id == job_id)
            .values(
                status=FileStatus.FAILED,
                stage=None,
                error=message[:2000],
                lease_until=None,
                updated_at=utcnow(),
            )
        )


async def _requeue(runtime: RagRuntime, file_id: str, job_id: str) -> None:
    async with runtime.db.write_sessions() as session, session.begin():
        await session.execute(
            update(File)
            .where(File.id == file_id, File.job_id == job_id, File.status == FileStatus.PROCESSING)
            .values(
                status=FileStatus.QUEUED,
                stage=None,
                progress=0.0,
                lease_until=None,
                attempts=File.attempts - 1,
                updated_at=utcnow(),
            )
        )


def _never() -> bool:
    return False


async def run_ingestion(
    runtime: RagRuntime,
    file_id: str,
    job_id: str,
    stopping: Callable[[], bool] = _never,
) -> Outcome:
    settings = runtime.settings
    async with runtime.db.write_sessions() as session, session.begin():
        lease = utcnow() + timedelta(seconds=settings.INGEST_LEASE_SECONDS)
        record = await FileRepository(session).claim(file_id, job_id, lease)
        if record is None:
            return Outcome.SKIPPED
        kind, media_type, key, name = (
            FileKind(record.kind),
            record.media_type,
            record.storage_key,
            record.name,
        )
    log.info("ingest_started", file_id=file_id, job_id=job_id, kind=kind.value)
    started = time.perf_counter()
    heartbeat = _Heartbeat(runtime, file_id, job_id)
    stop = asyncio.Event()
    beating = asyncio.create_task(heartbeat.run(stop))
    try:
        heartbeat.set(_EXTRACT[0], "extracting")
        async with runtime.storage.local_path(key) as path:
            doc = await runtime.extract(
                path, kind, media_type, lambda f: heartbeat.set(_band(_EXTRACT, f))
            )
        if stopping():
            raise _Stopping
        heartbeat.set(_EXTRACT[1], "chunking")
        chunks, sections = await asyncio.to_thread(runtime.chunker().chunk_with_sections, doc, name)
        heartbeat.set(_EMBED[0], "embedding")
        embedder = runtime.embedder
        batch = max(1, settings.EMBEDDING_BATCH_SIZE)
        # Batches of similar lengths: a batch is padded to its longest text, so document
        # order would pay for padding on most batches.
        order = sorted(range(len(chunks)), key=lambda n: len(chunks[n].embed_text))
        vectors = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
        for i in range(0, len(order), batch):
            part = order[i : i + batch]
            vectors[part] = await embedder.embed_documents([chunks[n].embed_text for n in part])
            heartbeat.set(_band(_EMBED, (i + len(part)) / len(chunks)))
            if heartbeat.lost:
                raise _LeaseLost
            if stopping():
                raise _Stopping
        heartbeat.set(_EMBED[1], "indexing")
        await heartbeat.beat(force=True)

        async with runtime.db.write_sessions() as session, session.begin():
            record = await session.get(File, file_id, with_for_update=True)
            if record is None or record.job_id != job_id or record.status != FileStatus.PROCESSING:
                return Outcome.LOST
            await runtime.store.delete_file(session, file_id)
            await ChunkRepository(session).delete_for_file(file_id)
            rows = [
                FileChunk(
                    file_id=file_id,
                    user_id=record.user_id,
                    chunk_index=c.index,
                    page=c.page,
                    char_start=c.char_start,
                    char_end=c.char_end,
                    heading=c.heading[:512] if c.heading else None,
                    context=c.context,
                    text=c.text,
                    token_count=c.token_count,
                    embedding_model=embedder.model_name,
                    embedding_dim=embedder.dimension,
                    section_index=c.section,
                )
                for c in chunks
            ]
            session.add_all(
                FileSection(
                    file_id=file_id,
                    section_index=s.index,
                    kind=s.kind,
                    page=s.page,
                    page_end=s.page_end,
                    heading=s.heading[:512] if s.heading else None,
                    text=s.text,
                    token_count=s.token_count,
                )
                for s in sections
            )
            session.add_all(rows)
            await session.flush()
            entries = [
                IndexEntry(row.id, record.user_id, file_id, c.embed_text, vec)
                for row, c, vec in zip(rows, chunks, vectors, strict=True)
            ]
            await runtime.store.add(session, embedder.model_name, embedder.dimension, entries)
            record.status = FileStatus.READY
            record.stage = None
            record.progress = 1.0
            record.error = "; ".join(doc.notes)[:2000] or None
            record.page_count = doc.page_count
            record.chunk_count = len(rows)
            record.char_count = doc.char_count
            record.title = (doc.title or "")[:512] or None
            record.embedding_model = embedder.model_name
            record.embedding_dim = embedder.dimension
            record.lease_until = None
            record.updated_at = record.ready_at = utcnow()
        log.info(
            "ingest_ready",
            file_id=file_id,
            chunks=len(chunks),
            pages=doc.page_count,
            seconds=round(time.perf_counter() - started, 3),
        )
        return Outcome.READY
    except _Stopping:
        log.info("ingest_handed_back", file_id=file_id, job_id=job_id)
        await _requeue(runtime, file_id, job_id)
        return Outcome.REQUEUED
    except _LeaseLost:
        log.warning("ingest_lease_lost", file_id=file_id, job_id=job_id)
        return Outcome.LOST
    except (ExtractionError, EmbeddingError) as exc:
        log.info("ingest_failed", file_id=file_id, error=str(exc))
        await _finish_failed(runtime, file_id, job_id, str(exc))
        return Outcome.FAILED
    except FileNotFoundError:
        await _finish_failed(runtime, file_id, job_id, "The stored file is missing")
        return Outcome.FAILED
    except Exception as exc:
        # Unknown errors are retried by the sweeper (lease expiry) up to INGEST_MAX_ATTEMPTS.
        log.exception("ingest_error", file_id=file_id, job_id=job_id, error=type(exc).__name__)
        async with runtime.db.read_sessions() as session:
            current = await session.get(File, file_id)
            attempts = current.attempts if current else settings.INGEST_MAX_ATTEMPTS
        if attempts >= settings.INGEST_MAX_ATTEMPTS:
            await _finish_failed(
                runtime, file_id, job_id, f"Processing failed ({type(exc).__name__})"
            )
            return Outcome.FAILED
        raise
    finally:
        stop.set()
        await beating
