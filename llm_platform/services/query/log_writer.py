"""The query log: one `queries` row per model call plus the session's `prompt` and
`model_response` events, written by a background writer in batches (group commit).

A call is logged twice: when it starts (the `running` row and the `prompt` event, so a
crash keeps the turn) and when it ends (the whole row, as an upsert, and the
`model_response` event). When both reach the same batch (a quick answer) the start's row
is dropped and the upsert alone inserts it: one row write, as before.

Generations hand over an entry and may wait for its commit; the writer keeps the database
off the token path. On shutdown everything queued is written before the engine closes.
An entry nobody waits for lingers a few milliseconds before its batch is written: the
answer it belongs to is still being sent in those milliseconds, and a write running then
(on SQLite a thread that needs the GIL back and forth) would sit on its latency. Entries
that are waited for (a stream's `done`) are written at once.

On SQLite a batch is written by the plain DBAPI driver on one dedicated thread, in a
single hand-off: through aiosqlite every statement step is a round trip between threads,
each waiting for the GIL and the busy event loop, which made a commit take tens of
milliseconds under load. The rows go to the driver directly (values converted by the
columns' own bind processors, so the stored text is exactly SQLAlchemy's): through
SQLAlchemy's executemany a one-row batch cost ~1 ms of CPU, on the thread that shares the
GIL with the event loop. PostgreSQL (asyncpg, no threads) uses the async engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Dialect, Table, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.logging import get_logger
from llm_platform.db.engine import Database, SqliteTuning
from llm_platform.db.models import AgentStep, Event, Query, Session

log = get_logger("llm_platform.query_log")


@dataclass
class QueryLogEntry:
    query: dict[str, Any]  # column values of the `queries` row
    session: dict[str, Any] | None = None  # a session row to create if it does not exist
    events: list[dict[str, Any]] = field(default_factory=list)  # `events` rows
    agent_steps: list[dict[str, Any]] = field(default_factory=list)  # `agent_steps` rows
    # False: the row is new (a call starting). True: the call's final row, inserted or
    # replacing its `running` row.
    upsert: bool = False


class QueryLogWriter:
    def __init__(self, db: Database, *, max_batch: int = 256, linger: float = 0.005) -> None:
        self.db = db
        self.max_batch = max_batch
        self.linger = linger
        self._queue: asyncio.Queue[tuple[QueryLogEntry, asyncio.Future[None]]] = asyncio.Queue()
        self._awaited = asyncio.Event()  # set when an entry someone waits for is queued
        self._task: asyncio.Task[None] | None = None
        self._inline: set[asyncio.Future[None]] = set()
        self._last_submitted: asyncio.Future[None] | None = None
        self.written = 0
        self.failed = 0
        self._sqlite: _SQLiteWriter | None = None
        self._thread: ThreadPoolExecutor | None = None
        if db.sqlite is not None:
            self._sqlite = _SQLiteWriter(db, db.sqlite)
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="query-log")

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="query-log-writer")

    def submit(self, entry: QueryLogEntry, *, awaited: bool = True) -> asyncio.Future[None]:
        """Queue an entry; the future resolves once it is committed (or given up on).
        `awaited=False`: nobody waits for it, so it may linger to join a later batch."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._last_submitted = future
        if self._task is None or self._task.done():
            # Not running (e.g. shut down): write inline so nothing is lost.
            task = asyncio.ensure_future(self._write_one(entry, future))
            self._inline.add(task)
            task.add_done_callback(self._inline.discard)
        else:
            self._queue.put_nowait((entry, future))
            if awaited:
                self._awaited.set()
        return future

    def hurry(self) -> None:
        """Someone now waits for what is queued: write it without lingering."""
        if not self._queue.empty():
            self._awaited.set()

    async def flush(self) -> None:
        await self._queue.join()

    async def barrier(self) -> None:
        """Wait until every entry submitted before this call is written (or given up on):
        entries are written in order, so the last one's future tells. Unlike `flush`, it
        does not wait for entries submitted meanwhile (which never ends under steady load)."""
        last = self._last_submitted
        if last is not None and not last.done():
            self.hurry()
            await asyncio.shield(last)

    async def close(self) -> None:
        self._awaited.set()  # no lingering on the way out
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._inline:
            await asyncio.gather(*self._inline, return_exceptions=True)
        if self._thread is not None:
            self._thread.shutdown(wait=True)
        if self._sqlite is not None:
            self._sqlite.close()

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            if self.linger > 0 and not self._awaited.is_set():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.linger):
                        await self._awaited.wait()
            self._awaited.clear()
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
        if self._sqlite is not None and self._thread is not None:
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(self._thread, self._sqlite.write, entries)
            return
        async with self.db.write_sessions() as session, session.begin():
            await _insert_async(session, entries)


# How a table's rows are written: plain insert (None), insert skipping existing rows
# ("skip", on these conflict columns) or insert-or-update ("upsert").
Plan = tuple[Table, str | None, list[str] | None, list[Any]]


def _sessions(entries: list[QueryLogEntry]) -> Plan | None:
    """The sessions a batch creates (once each, skipped where they exist)."""
    sessions = {e.session["id"]: e.session for e in entries if e.session is not None}
    if not sessions:
        return None
    return (_table(Session), "skip", ["id"], list(sessions.values()))


def _session_ids(entries: list[QueryLogEntry]) -> list[str]:
    return sorted({e.query["session_id"] for e in entries if e.query.get("session_id")})


def _owned(entries: list[QueryLogEntry], owners: dict[str, str]) -> list[QueryLogEntry]:
    """A call's row and events join its session only where the session is its user's: a
    session id another user took between planning and writing (they are client-chosen) gets
    none of this user's prompts or answers; the row is kept, without the session."""
    out = []
    for entry in entries:
        sid = entry.query.get("session_id")
        if sid and owners.get(sid) != entry.query["user_id"]:
            log.warning("query_log_foreign_session", query_id=entry.query.get("id"))
            entry = QueryLogEntry(
                query={**entry.query, "session_id": None},
                upsert=entry.upsert,
                events=[],
                agent_steps=[{**step, "session_id": None} for step in entry.agent_steps],
            )
        out.append(entry)
    return out


def _batches(entries: list[QueryLogEntry]) -> list[Plan]:
    """What a batch writes after its sessions, table by table: new query rows, final query
    rows (upserts), the session events (skipped if already stored), the agent steps."""
    out: list[Plan] = []
    final = [e.query for e in entries if e.upsert]
    ending = {row["id"] for row in final}
    started = [e.query for e in entries if not e.upsert and e.query["id"] not in ending]
    if started:
        out.append((_table(Query), None, None, started))
    if final:
        out.append((_table(Query), "upsert", ["id"], final))
    events = [row for e in entries for row in e.events]
    if events:
        out.append((_table(Event), "skip", ["session_id", "event_id"], events))
    steps = [row for e in entries for row in e.agent_steps]
    if steps:
        out.append((_table(AgentStep), None, None, steps))
    return out


def _statements(entries: list[QueryLogEntry], dialect: str) -> list[tuple[Any, Any]]:
    dialect_insert = pg_insert if dialect == "postgresql" else sqlite_insert
    out: list[tuple[Any, Any]] = []
    for table, mode, conflict, rows in _batches(entries):
        stmt: Any = insert(table)
        if mode == "skip":
            stmt = dialect_insert(table).on_conflict_do_nothing(index_elements=conflict)
        elif mode == "upsert":
            stmt = dialect_insert(table)
            updated = {c: stmt.excluded[c] for c in rows[0] if c not in (conflict or ())}
            stmt = stmt.on_conflict_do_update(index_elements=conflict, set_=updated)
        out.append((stmt, rows))
    return out


async def _insert_async(session: AsyncSession, entries: list[QueryLogEntry]) -> None:
    dialect = session.get_bind().dialect.name
    created = _sessions(entries)
    if created is not None:
        stmt = (pg_insert if dialect == "postgresql" else sqlite_insert)(created[0])
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["id"]), created[3])
    ids = _session_ids(entries)
    if ids:
        found = await session.execute(
            select(Session.id, Session.user_id).where(Session.id.in_(ids))
        )
        entries = _owned(entries, {sid: owner for sid, owner in found.all()})
    for stmt, rows in _statements(entries, dialect):
        await session.execute(stmt, rows)


class _SQLiteTable:
    """One table's INSERT for the raw driver: column order and bind processors."""

    def __init__(
        self, table: Table, dialect: Dialect, mode: str | None, conflict: list[str] | None
    ) -> None:
        self.table = table
        self.dialect = dialect
        self.mode = mode
        self.conflict = ", ".join(conflict) if conflict else None
        self.keys = set(conflict or ())
        self._plans: dict[tuple[str, ...], tuple[str, list[Any]]] = {}

    def _plan(self, columns: tuple[str, ...]) -> tuple[str, list[Any]]:
        plan = self._plans.get(columns)
        if plan is None:
            sql = (
                f"INSERT INTO {self.table.name} ({', '.join(columns)}) "
                f"VALUES ({', '.join('?' * len(columns))})"
            )
            if self.mode == "skip":
                sql += f" ON CONFLICT ({self.conflict}) DO NOTHING"
            elif self.mode == "upsert":
                updated = ", ".join(f"{c} = excluded.{c}" for c in columns if c not in self.keys)
                sql += f" ON CONFLICT ({self.conflict}) DO UPDATE SET {updated}"
            processors = [
                self.table.c[c].type.dialect_impl(self.dialect).bind_processor(self.dialect)
                for c in columns
            ]
            plan = self._plans[columns] = (sql, processors)
        return plan

    def insert(self, conn: sqlite3.Connection, rows: list[dict[str, Any]]) -> None:
        by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            by_columns.setdefault(tuple(row), []).append(row)
        for columns, group in by_columns.items():
            sql, processors = self._plan(columns)
            params = [
                tuple(
                    value if process is None or value is None else process(value)
                    for value, process in zip(row.values(), processors, strict=True)
                )
                for row in group
            ]
            conn.executemany(sql, params)


class _SQLiteWriter:
    """The writer thread's own connection on the same file (opened on first use, in that
    thread, on the engine's SQLite library), one IMMEDIATE transaction per batch."""

    def __init__(self, db: Database, tuning: SqliteTuning) -> None:
        self.dialect = db.engine.dialect
        self.path = str(db.engine.url.database)
        self.tuning = tuning
        self._tables: dict[str, _SQLiteTable] = {}
        self._conn: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self.tuning.connect(self.path)
        return self._conn

    def write(self, entries: list[QueryLogEntry]) -> None:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            created = _sessions(entries)
            if created is not None:
                self._table(created).insert(conn, created[3])
            ids = _session_ids(entries)
            if ids:
                marks = ", ".join("?" * len(ids))
                found = conn.execute(
                    f"SELECT id, user_id FROM sessions WHERE id IN ({marks})", ids
                ).fetchall()
                entries = _owned(entries, {sid: owner for sid, owner in found})
            for plan in _batches(entries):
                self._table(plan).insert(conn, plan[3])
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _table(self, plan: Plan) -> _SQLiteTable:
        table, mode, conflict, _ = plan
        name = f"{table.name}:{mode}"
        writer = self._tables.get(name)
        if writer is None:
            writer = self._tables[name] = _SQLiteTable(table, self.dialect, mode, conflict)
        return writer

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def _table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)
