"""Engine and session factories, built in the app lifespan (never at import time)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import types
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
from llm_platform.core.logging import get_logger

log = get_logger("llm_platform.db")


@dataclass
class SqliteTuning:
    # SQLite's default: a checkpoint (and its fsyncs) inside the COMMIT of whichever write
    # crosses 1,000 WAL pages. 0 when `Database.run_checkpoints` does them instead.
    autocheckpoint_pages: int = 1000
    # The DBAPI module of the engine's connections (`sqlean`, else `sqlite3`). Every other
    # connection of this process to the file must come from the same library: two copies of
    # SQLite in one process do not see each other's POSIX locks, and one closing its last
    # connection removes the WAL index the other still has mapped (SIGBUS, corruption).
    driver: Any = sqlite3

    def connect(self, path: str) -> Any:
        """A plain connection to `path` on the engine's SQLite library, with its pragmas."""
        conn = self.driver.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        for pragma in SQLITE_CONNECTION_PRAGMAS:
            conn.execute(f"PRAGMA {pragma}")
        return conn


@dataclass(frozen=True)
class Database:
    engine: AsyncEngine
    read_sessions: async_sessionmaker[AsyncSession]
    write_sessions: async_sessionmaker[AsyncSession]
    sqlite: SqliteTuning | None = None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def dispose(self) -> None:
        await self.engine.dispose()

    async def start_checkpoints(self, interval_s: float = 1.0) -> SqliteCheckpointer | None:
        """SQLite only: move WAL checkpoints off the request path (call before serving).

        With `synchronous=NORMAL` a COMMIT does not fsync; only checkpoints do. Left to
        SQLite, every few hundred batches one unlucky request pays for copying the WAL back
        and syncing it: the tail of the ingest latency. PASSIVE checkpoints run beside
        readers and writers and never block them. `stop()` the returned checkpointer at
        shutdown.
        """
        if self.sqlite is None:
            return None
        self.sqlite.autocheckpoint_pages = 0
        await self.engine.dispose()  # pooled connections were opened with the old setting
        checkpointer = SqliteCheckpointer(self.sqlite, str(self.engine.url.database), interval_s)
        checkpointer.start()
        return checkpointer


class SqliteCheckpointer:
    """PASSIVE checkpoints every `interval_s` from a thread with its own `sqlite3` connection:
    nothing of it runs on the event loop (through the engine, each round was a pool checkout,
    a statement and a rollback, every one a hop to aiosqlite's thread and back), and SQLite
    copies the pages with the GIL released."""

    def __init__(self, tuning: SqliteTuning, path: str, interval_s: float) -> None:
        self.tuning = tuning
        self.path = path
        self.interval_s = interval_s
        self.rounds = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sqlite-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        conn: Any = None
        driver = self.tuning.driver
        while not self._stopping.wait(self.interval_s):
            try:
                if conn is None:
                    conn = self.tuning.connect(self.path)
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                self.rounds += 1
            except driver.Error as exc:  # next round; a failed checkpoint loses nothing
                log.warning("sqlite_checkpoint_failed", error=str(exc))
        if conn is not None:
            conn.close()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)


SQLITE_LOCK_TIMEOUT_S = 30.0
_HOLDS_WRITE_LOCK = "llmp_holds_write_lock"


# Every connection to the database file, the engine's and the query-log writer's.
SQLITE_CONNECTION_PRAGMAS = (
    "journal_mode=WAL",
    "synchronous=NORMAL",
    "foreign_keys=ON",
    "busy_timeout=30000",
)


def _configure_sqlite(engine: AsyncEngine, tuning: SqliteTuning) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's implicit transactions are off).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in SQLITE_CONNECTION_PRAGMAS:
            cur.execute(f"PRAGMA {pragma}")
        cur.execute(f"PRAGMA wal_autocheckpoint={int(tuning.autocheckpoint_pages)}")
        # Vector scans read every vector of a user: map the file instead of copying pages.
        cur.execute("PRAGMA mmap_size=1073741824")
        cur.close()

    # One writer at a time per process, queued in asyncio rather than in SQLite's busy
    # handler: that one sleeps in growing steps (up to 100 ms) while the lock may already be
    # free, which under concurrent writes costs both throughput and tail latency. Taken when
    # a write transaction begins, released when its connection goes back to the pool (after
    # COMMIT or ROLLBACK). busy_timeout still arbitrates between processes (--workers > 1).
    write_lock = asyncio.Lock()
    # The serving process also shortens the GIL switch interval for SQLite
    # (`server.configure_process`): a process-wide setting, not the engine's to change.

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


def sqlean_dbapi() -> Any | None:
    """The aiosqlite DBAPI re-based on `sqlean` (a sqlite3 that can load extensions) with
    sqlite-vec loaded into every connection; None when either package is missing.

    Many Pythons (pyenv builds, macOS system Python) ship a `sqlite3` that cannot load
    extensions. SQLAlchemy takes a replacement DBAPI module (`module=`): connections then come
    from sqlean and its exception classes map to SQLAlchemy's as usual (a creator function
    alone would leave sqlean's IntegrityError untranslated)."""
    try:
        import aiosqlite
        import sqlean
        import sqlite_vec
        from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_dbapi
    except ImportError:
        return None

    def connect(database: str, iter_chunk_size: int = 64, **kwargs: Any) -> aiosqlite.Connection:
        def connector() -> Any:
            conn = sqlean.connect(database, **kwargs)
            conn.enable_load_extension(True)
            sqlite_vec.load(conn)
            conn.enable_load_extension(False)
            return conn

        return aiosqlite.Connection(connector, iter_chunk_size)

    shim = types.ModuleType("aiosqlite_sqlean")
    shim.__dict__.update(vars(aiosqlite))
    for name in ("DatabaseError", "Error", "IntegrityError", "NotSupportedError"):
        setattr(shim, name, getattr(sqlean, name))
    shim.OperationalError = sqlean.OperationalError  # type: ignore[attr-defined]
    shim.ProgrammingError = sqlean.ProgrammingError  # type: ignore[attr-defined]
    shim.sqlite_version = sqlean.sqlite_version  # type: ignore[attr-defined]
    shim.sqlite_version_info = sqlean.sqlite_version_info  # type: ignore[attr-defined]
    shim.connect = connect  # type: ignore[attr-defined]
    return AsyncAdapt_aiosqlite_dbapi(shim, sqlean)


def create_database(settings: Settings) -> Database:
    url = settings.database_url
    driver: Any = sqlite3  # the SQLite library of the engine's connections
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
        module = sqlean_dbapi()
        if module is not None:
            kwargs["module"] = module
            driver = module.sqlite
    else:
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    write_engine = engine
    tuning = None
    if engine.dialect.name == "sqlite":
        tuning = SqliteTuning(driver=driver)
        _configure_sqlite(engine, tuning)
        write_engine = engine.execution_options(sqlite_immediate=True)
    return Database(
        engine=engine,
        read_sessions=async_sessionmaker(engine, expire_on_commit=False),
        write_sessions=async_sessionmaker(write_engine, expire_on_commit=False),
        sqlite=tuning,
    )
