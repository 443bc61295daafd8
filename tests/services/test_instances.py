"""Instances and their heartbeat: the `running` queries of a dead instance become
`interrupted`, a live instance's are never touched (SQLite and PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from llm_platform.db.engine import Database
from llm_platform.db.models import Instance, Query, utcnow
from llm_platform.services.instances import InstanceRegistry


@pytest.fixture
def db(database: Database) -> Database:
    return database


async def add_running(db: Database, query_id: str, instance_id: str | None) -> None:
    async with db.write_sessions() as session, session.begin():
        session.add(
            Query(
                id=query_id,
                user_id="u",
                provider="scripted",
                model="echo",
                request={"query": "q"},
                citations=[],
                status="running",
                instance_id=instance_id,
            )
        )


async def statuses(db: Database) -> dict[str, str]:
    async with db.read_sessions() as session:
        return dict((await session.execute(select(Query.id, Query.status))).all())


def registry(db: Database) -> InstanceRegistry:
    return InstanceRegistry(db, heartbeat=60, timeout=120)


async def test_live_instances_keep_their_running_queries(db: Database) -> None:
    a, b = registry(db), registry(db)
    await a.start()
    await add_running(db, "qa", a.id)
    await b.start()  # its start-up reap sees `a` alive
    await add_running(db, "qb", b.id)
    assert await a.reap() == 0 and await b.reap() == 0
    assert await statuses(db) == {"qa": "running", "qb": "running"}
    await a.stop()
    await b.stop()


async def test_an_expired_heartbeat_interrupts_the_instances_queries(db: Database) -> None:
    a, b = registry(db), registry(db)
    await a.start()
    await b.start()
    await add_running(db, "qa", a.id)
    await add_running(db, "qb", b.id)
    async with db.write_sessions() as session, session.begin():
        stale = utcnow() - timedelta(seconds=600)
        await session.execute(
            update(Instance).where(Instance.id == a.id).values(heartbeat_at=stale)
        )
    assert await b.reap() == 1
    assert await statuses(db) == {"qa": "interrupted", "qb": "running"}
    async with db.read_sessions() as session:
        assert (await session.execute(select(Instance.id))).scalars().all() == [b.id]
    # `a` was only stalled: its next beat registers it again, and its end still lands.
    await a.beat()
    async with db.read_sessions() as session:
        assert set((await session.execute(select(Instance.id))).scalars().all()) == {a.id, b.id}
    await a.stop()
    await b.stop()


def gone_pid() -> int:
    """The pid of a process that has exited."""
    finished = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(finished.stdout)


async def test_a_gone_process_on_this_host_is_dead_at_once(db: Database) -> None:
    dead_pid = gone_pid()
    b = registry(db)
    async with db.write_sessions() as session, session.begin():
        session.add(
            Instance(
                id="crashed", host=b.host, pid=dead_pid, started_at=utcnow(), heartbeat_at=utcnow()
            )
        )
    await add_running(db, "q1", "crashed")
    await add_running(db, "q2", None)  # no instance at all: nobody will finish it
    await b.start()
    assert await statuses(db) == {"q1": "interrupted", "q2": "interrupted"}
    await b.stop()
