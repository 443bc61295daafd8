"""SQLite tuning in the engine: one queued writer per process, checkpoints off the request path."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from llm_platform.core.config import Settings
from llm_platform.core.errors import ServiceUnavailable
from llm_platform.db import engine as engine_module
from llm_platform.db.engine import Database, create_database
from llm_platform.db.migrate import upgrade
from llm_platform.db.models import Session, utcnow
from llm_platform.db.repositories.events import EventRepository


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = create_database(Settings(_env_file=None, DATA_DIR=tmp_path))  # type: ignore[call-arg]
    await upgrade(database.engine)
    async with database.write_sessions() as session, session.begin():
        session.add(Session(id="s", user_id="u"))
    yield database
    await database.dispose()


async def test_writers_queue_instead_of_failing(db: Database) -> None:
    async def write(n: int) -> None:
        async with db.write_sessions() as session, session.begin():
            rows = [
                {"session_id": "s", "event_id": f"{n}-{i}", "t": i, "type": "x", "data": {},
                 "received_at": utcnow()}
                for i in range(50)
            ]  # fmt: skip
            assert len(await EventRepository(session).insert_new(rows)) == 50
            await asyncio.sleep(0.01)  # hold the transaction across a loop turn

    await asyncio.gather(*(write(n) for n in range(20)))
    async with db.read_sessions() as session:
        assert (await session.execute(text("SELECT count(*) FROM events"))).scalar() == 1000


async def test_a_writer_that_waits_too_long_gets_503(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(engine_module, "SQLITE_LOCK_TIMEOUT_S", 0.2)
    db2 = create_database(
        Settings(_env_file=None, DATABASE_URL=db.engine.url.render_as_string())  # type: ignore[call-arg]
    )
    try:
        async with db2.write_sessions() as holder:
            await holder.execute(text("UPDATE sessions SET title = 'a'"))
            async with db2.write_sessions() as blocked:
                with pytest.raises(ServiceUnavailable):
                    await blocked.execute(text("UPDATE sessions SET title = 'b'"))
            await holder.commit()
        # The lock went back with the connection: the next writer goes through.
        async with db2.write_sessions() as after, after.begin():
            await after.execute(text("UPDATE sessions SET title = 'c'"))
    finally:
        await db2.dispose()


async def test_checkpoints_run_in_the_background(db: Database, tmp_path: Path) -> None:
    checkpointer = await db.start_checkpoints(interval_s=0.05)
    assert checkpointer is not None
    try:
        async with db.engine.connect() as conn:
            pages = (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar()
        assert pages == 0  # requests never checkpoint themselves
        main_file = tmp_path / "llm_platform.db"
        before = main_file.stat().st_size
        async with db.write_sessions() as session, session.begin():
            rows = [
                {"session_id": "s", "event_id": f"e{i}", "t": i, "type": "x",
                 "data": {"pad": "p" * 200}, "received_at": utcnow()}
                for i in range(2000)
            ]  # fmt: skip
            await EventRepository(session).insert_new(rows)
        assert main_file.stat().st_size == before  # still only in the WAL
        for _ in range(100):
            await asyncio.sleep(0.05)
            if main_file.stat().st_size > before + 300_000:
                break
        assert main_file.stat().st_size > before + 300_000  # copied back by the checkpointer
    finally:
        checkpointer.stop()
    assert checkpointer.rounds > 0
    assert not checkpointer._thread.is_alive()


async def test_postgres_has_no_checkpointer(tmp_path: Path) -> None:
    database = create_database(
        Settings(_env_file=None, DATABASE_URL="postgresql://u@127.0.0.1:1/x")  # type: ignore[call-arg]
    )
    try:
        assert database.sqlite is None
        assert await database.start_checkpoints() is None
    finally:
        await database.dispose()


async def test_plain_connections_use_the_engines_sqlite_library(db: Database) -> None:
    """The query log writer and the checkpointer open plain connections beside the engine's:
    from the same SQLite library, or the two copies break each other's locks (seen as a
    SIGBUS when one removed the WAL index the other had mapped)."""
    assert db.sqlite is not None
    assert db.sqlite.driver is db.engine.dialect.loaded_dbapi.sqlite
    async with db.engine.connect() as conn:
        engine_version = (await conn.exec_driver_sql("select sqlite_version()")).scalar()
    plain = db.sqlite.connect(str(db.engine.url.database))
    try:
        assert plain.execute("select sqlite_version()").fetchone()[0] == engine_version
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        plain.close()
