"""Ingestion jobs on taskiq: in-process by default, Redis-backed when REDIS_URL is set.

Why taskiq: it is asyncio-native (our pipeline is async end to end), has an in-memory broker
that runs tasks in the same event loop for the single-process default, and a maintained Redis
broker (`taskiq-redis`) so `llm-platform worker` processes share the queue. The broker only
carries (file_id, job_id); the job's state lives on the file row, so a lost message, a
killed worker or a restart is recovered by the sweeper, and a duplicate message is a no-op
(the run must claim the file under its job id first)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

from taskiq import AsyncBroker, InMemoryBroker
from taskiq.receiver import Receiver

from llm_platform.core.file_status import FileStatus
from llm_platform.core.logging import get_logger
from llm_platform.db.models import new_id, utcnow
from llm_platform.db.repositories.files import FileRepository
from llm_platform.rag.ingest import Outcome, run_ingestion
from llm_platform.rag.runtime import RagRuntime

log = get_logger("llm_platform.jobs")

TASK_NAME = "llm_platform.ingest_file"


def build_broker(redis_url: str | None, queue: str) -> AsyncBroker:
    if redis_url:
        from taskiq_redis import ListQueueBroker

        # No socket timeout: workers wait on a blocking BRPOP, which redis-py (8+: 5 s by
        # default) would otherwise end with a TimeoutError that stops the receiver for good
        # (an idle `llm-platform worker` then never takes another job). Keep-alive instead.
        return ListQueueBroker(
            redis_url, queue_name=queue, socket_timeout=None, socket_keepalive=True
        )
    return InMemoryBroker()


class IngestionQueue:
    """Enqueue ingestion jobs, run them (optionally), and sweep up what was lost."""

    def __init__(self, runtime: RagRuntime, *, consume: bool = True) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.consume = consume
        self.broker = build_broker(settings.REDIS_URL, settings.INGEST_QUEUE)
        self.distributed = settings.REDIS_URL is not None
        self._limit = asyncio.Semaphore(settings.INGEST_CONCURRENCY)
        queue = self

        async def ingest_file(file_id: str, job_id: str) -> str:
            return await queue._ingest(file_id, job_id)

        self._task = self.broker.register_task(ingest_file, task_name=TASK_NAME)
        self._stop = asyncio.Event()
        self._background: list[asyncio.Task[Any]] = []
        self._receiver: Receiver | None = None

    async def _ingest(self, file_id: str, job_id: str) -> str:
        async with self._limit:
            if self._stop.is_set():
                return Outcome.SKIPPED.value  # the sweep of the next start sends it again
            outcome = await run_ingestion(self.runtime, file_id, job_id, self._stop.is_set)
        return outcome.value

    async def enqueue(self, file_id: str, job_id: str) -> None:
        """Call after the transaction that queued the file has committed."""
        try:
            await self._task.kiq(file_id, job_id)
        except Exception as exc:  # the sweeper re-sends it
            log.warning("enqueue_failed", file_id=file_id, error=str(exc))

    async def start(self) -> None:
        await self.broker.startup()
        if self.consume and self.distributed:
            self._receiver = Receiver(
                self.broker,
                max_async_tasks=self.runtime.settings.INGEST_CONCURRENCY,
                run_startup=False,
                propagate_exceptions=False,
            )
            self._background.append(asyncio.create_task(self._receiver.listen(self._stop)))
        if self.consume:
            await self.sweep(startup=True)
            self._background.append(asyncio.create_task(self._sweep_loop()))

    async def stop(self, grace: float = 15.0) -> None:
        """Stop taking jobs; running ones hand their file back at the next stage boundary
        (an extraction already in a thread is waited for up to `grace` seconds)."""
        self._stop.set()
        running: list[asyncio.Task[Any]] = list(self._background)
        if isinstance(self.broker, InMemoryBroker):
            running += list(self.broker._running_tasks)
        if running:
            _, pending = await asyncio.wait(running, timeout=grace)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        with contextlib.suppress(Exception):
            await self.broker.shutdown()

    async def _sweep_loop(self) -> None:
        interval = self.runtime.settings.INGEST_SWEEP_SECONDS
        while not self._stop.is_set():
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=interval)
                return
            except TimeoutError:
                pass
            try:
                await self.sweep()
            except Exception as exc:
                log.warning("sweep_failed", error=str(exc))

    async def sweep(self, *, startup: bool = False) -> int:
        """Re-send jobs no live worker holds: queued files whose message may be lost,
        processing files whose lease expired (their worker died), and ready files embedded
        with another model than the configured one. Returns how many were sent."""
        settings = self.runtime.settings
        now = utcnow()
        # On start-up this process's in-memory queue is empty: every queued file is ours.
        grace = 0 if (startup and not self.distributed) else settings.INGEST_LEASE_SECONDS
        to_send: list[tuple[str, str]] = []
        async with self.runtime.db.write_sessions() as session, session.begin():
            repo = FileRepository(session)
            for record in await repo.stale(now, now - timedelta(seconds=grace)):
                if record.status == FileStatus.PROCESSING:
                    if record.attempts >= settings.INGEST_MAX_ATTEMPTS:
                        record.status = FileStatus.FAILED
                        record.error = f"Processing did not finish after {record.attempts} attempts"
                        record.lease_until = None
                        record.updated_at = now
                        continue
                    record.status = FileStatus.QUEUED
                    record.job_id = new_id()
                record.updated_at = now
                to_send.append((record.id, record.job_id or ""))
            for record in await repo.outdated_embeddings(self.runtime.embedder.model_name):
                record.status = FileStatus.QUEUED
                record.stage = "re-embedding"
                record.progress = 0.0
                record.attempts = 0
                record.job_id = new_id()
                record.updated_at = now
                to_send.append((record.id, record.job_id))
        for file_id, job_id in to_send:
            if not job_id:
                continue
            log.info("job_resent", file_id=file_id, job_id=job_id)
            await self.enqueue(file_id, job_id)
        return len(to_send)

    async def wait_idle(self) -> None:
        """Tests and benchmarks: wait for in-process jobs to finish."""
        if isinstance(self.broker, InMemoryBroker):
            await self.broker.wait_all()


def outcome_of(result: str) -> Outcome:
    return Outcome(result)
