"""Engine and session factories, built in the app lifespan (never at import time)."""

from __future__ import annotations

import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from llm_platform.core.config import Settings


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
        # Vector scans read every vector of a user: map the file instead of copying pages.
        cur.execute("PRAGMA mmap_size=1073741824")
        cur.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers take the lock up front: a deferred transaction that reads first and
        # writes later fails at once (SQLITE_BUSY) when another writer committed between.
        if conn.get_execution_options().get("sqlite_immediate"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


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
    kwargs: dict[str, Any] = {"echo": settings.DATABASE_ECHO}
    if url.startswith("sqlite"):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs.update(pool_size=8, max_overflow=8, connect_args={"timeout": 30})
        module = sqlean_dbapi()
        if module is not None:
            kwargs["module"] = module
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
