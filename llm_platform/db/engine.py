"""Engine and session factories, built in the app lifespan (never at import time)."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.util import await_

from llm_platform.core.config import Settings
from llm_platform.core.errors import ServiceUnavailable


@dataclass(frozen=True)
class Database:
    engine: AsyncEngine
    read_sessions: async_sessionmaker[AsyncSession]
    write_sessions: async_sessionmaker[AsyncSession]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def dispose(self) -> None:
        await self.engine.dispose()


SQLITE_LOCK_TIMEOUT_S = 30.0
SQLITE_SWITCH_INTERVAL_S = 0.0005
_HOLDS_WRITE_LOCK = "llmp_holds_write_lock"


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit transactions are off).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    # One writer at a time per process, queued in asyncio rather than in SQLite's busy
    # handler: that one sleeps in growing steps (up to 100 ms) while the lock may already be
    # free, which under concurrent writes costs both throughput and tail latency. Taken when
    # a write transaction begins, released when its connection goes back to the pool (after
    # COMMIT or ROLLBACK). busy_timeout still arbitrates between processes (--workers > 1).
    write_lock = asyncio.Lock()
    # Every statement is a few round trips to the connection's aiosqlite thread, and each
    # one needs the GIL back from the event loop thread. While the loop is busy (parsing the
    # next batches) it keeps the GIL for the whole switch interval, 5 ms by default, so the
    # write transaction, and with it every writer queued behind it, waits. A shorter interval
    # keeps those hand-overs short (process-wide, but this process serves this database).
    sys.setswitchinterval(min(sys.getswitchinterval(), SQLITE_SWITCH_INTERVAL_S))

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front: a deferred transaction that reads first and
        # writes later fails at once (SQLITE_BUSY) when another writer committed between.
        if conn.get_execution_options().get("sqlite_immediate"):
            try:
                await_(asyncio.wait_for(write_lock.acquire(), SQLITE_LOCK_TIMEOUT_S))
            except TimeoutError:
                raise ServiceUnavailable("The database is busy; try again") from None
            conn.connection.info[_HOLDS_WRITE_LOCK] = True
            statement = "BEGIN IMMEDIATE"
        else:
            statement = "BEGIN"
        # Straight to aiosqlite: one round trip to its thread instead of three (cursor,
        # execute, close) for a statement that returns nothing.
        await_(conn.connection.driver_connection.execute(statement))

    def _release(record: Any) -> None:
        if record is not None and record.info.pop(_HOLDS_WRITE_LOCK, False):
            write_lock.release()

    # "reset" comes first on the way back to the pool, before its ROLLBACK round trip (after
    # a COMMIT that ROLLBACK holds no lock); "checkin" covers connections returned without
    # a reset (invalidated ones).
    @event.listens_for(engine.sync_engine, "reset")
    def _on_reset(_dbapi_conn: Any, record: Any, _state: Any) -> None:
        _release(record)

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        _release(record)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def create_database(settings: Settings) -> Database:
    url = settings.database_url
    kwargs: dict[str, Any] = {
        "echo": settings.DATABASE_ECHO,
        "json_serializer": _json_dumps,
        "json_deserializer": orjson.loads,
    }
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.update(pool_size=8, max_overflow=8, connect_args={"timeout": 30})
    else:
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    write_engine = engine
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
        write_engine = engine.execution_options(sqlite_immediate=True)
    return Database(
        engine=engine,
        read_sessions=async_sessionmaker(engine, expire_on_commit=False),
        write_sessions=async_sessionmaker(write_engine, expire_on_commit=False),
    )
