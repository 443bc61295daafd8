"""The query log: one `queries` row per model call plus the session's `prompt` and
`model_response` events, written by a background writer in batches (group commit).

Generations hand over an entry and may wait for its commit; the writer keeps the database
off the token path. On shutdown everything queued is written before the engine closes.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.logging import get_logger
from llm_platform.db.engine import Database
from llm_platform.db.models import Event, Query, Session

log = get_logger("llm_platform.query_log")


@dataclass
class QueryLogEntry:
    query: dict[str, Any]  # column values of the `queries` row
    session: dict[str, Any] | None = None  # a session row to create if it does not exist
    events: list[dict[str, Any]] = field(default_factory=list)  # `events` rows


class QueryLogWriter:
    def __init__(self, db: Database, *, max_batch: int = 256) -> None:
        self.db = db
        self.max_batch = max_batch
        self._queue: asyncio.Queue[tuple[QueryLogEntry, asyncio.Future[None]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._inline: set[asyncio.Future[None]] = set()
        self.written = 0
        self.failed = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="query-log-writer")

    def submit(self, entry: QueryLogEntry) -> asyncio.Future[None]:
        """Queue an entry; the future resolves once it is committed (or given up on)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self._task is None or self._task.done():
            # Not running (e.g. shut down): write inline so nothing is lost.
            task = asyncio.ensure_future(self._write_one(entry, future))
            self._inline.add(task)
            task.add_done_callback(self._inline.discard)
        else:
            self._queue.put_nowait((entry, future))
        return future

    async def flush(self) -> None:
        await self._queue.join()

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._write([entry for entry, _ in batch])
                self.written += len(batch)
                for _, future in batch:
                    if not future.done():
                        future.set_result(None)
            except Exception:
                # One bad row must not lose the others: retry them one by one.
                for entry, future in batch:
                    await self._write_one(entry, future)
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def _write_one(self, entry: QueryLogEntry, future: asyncio.Future[None]) -> None:
        try:
            await self._write([entry])
            self.written += 1
        except Exception as exc:
            self.failed += 1
            log.error("query_log_write_failed", query_id=entry.query.get("id"), error=str(exc))
        if not future.done():
            future.set_result(None)

    async def _write(self, entries: list[QueryLogEntry]) -> None:
        async with self.db.write_sessions() as session, session.begin():
            await self._insert(session, entries)

    async def _insert(self, session: AsyncSession, entries: list[QueryLogEntry]) -> None:
        dialect_insert = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
        sessions = {e.session["id"]: e.session for e in entries if e.session is not None}
        if sessions:
            await session.execute(
                dialect_insert(Session)
                .values(list(sessions.values()))
                .on_conflict_do_nothing(index_elements=["id"])
            )
        await session.execute(insert(Query), [e.query for e in entries])
        events = [row for e in entries for row in e.events]
        if events:
            await session.execute(
                dialect_insert(Event).on_conflict_do_nothing(
                    index_elements=["session_id", "event_id"]
                ),
                events,
            )
