"""The query log writer: entries nobody waits for linger to join a batch, waited-for ones
are written at once, nothing is lost on close. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from llm_platform.db.engine import Database
from llm_platform.db.models import Query, utcnow
from llm_platform.services.query.log_writer import QueryLogEntry, QueryLogWriter


@pytest.fixture
def db(database: Database) -> Database:
    return database


def entry(n: int) -> QueryLogEntry:
    row: dict[str, Any] = {
        "id": f"q{n}",
        "user_id": "u",
        "provider": "scripted",
        "model": "echo",
        "request": {"query": f"question {n}"},
        "response_text": f"answer {n}",
        "citations": [],
        "status": "ok",
        "created_at": utcnow(),
        "finished_at": utcnow(),
    }
    return QueryLogEntry(query=row)


async def count(db: Database) -> int:
    async with db.read_sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Query)) or 0)


async def test_unawaited_entries_linger_into_one_batch(db: Database) -> None:
    writer = QueryLogWriter(db, linger=0.2)
    await writer.start()
    futures = [writer.submit(entry(1), awaited=False)]
    await asyncio.sleep(0.05)  # still lingering: a later entry joins the same batch
    futures.append(writer.submit(entry(2), awaited=False))
    assert await count(db) == 0
    await asyncio.gather(*futures)
    assert await count(db) == 2 and writer.written == 2
    await writer.close()


async def test_an_awaited_entry_cuts_the_linger_short(db: Database) -> None:
    writer = QueryLogWriter(db, linger=5.0)
    await writer.start()
    background = writer.submit(entry(1), awaited=False)
    await asyncio.sleep(0.02)
    started = time.perf_counter()
    await asyncio.wait_for(writer.submit(entry(2)), 2.0)  # not 5 s
    assert time.perf_counter() - started < 2.0
    assert background.done()  # written in the same batch
    assert await count(db) == 2
    await writer.close()


async def test_close_writes_what_still_lingers(db: Database) -> None:
    writer = QueryLogWriter(db, linger=5.0)
    await writer.start()
    for n in range(3):
        writer.submit(entry(n), awaited=False)
    await asyncio.wait_for(writer.close(), 2.0)  # not after the 5 s linger
    assert await count(db) == 3


def started(n: int) -> QueryLogEntry:
    row: dict[str, Any] = {
        "id": f"q{n}",
        "user_id": "u",
        "provider": "scripted",
        "model": "echo",
        "request": {"query": f"question {n}"},
        "citations": [],
        "status": "running",
        "created_at": utcnow(),
        "instance_id": "i1",
    }
    return QueryLogEntry(query=row)


def ended(n: int) -> QueryLogEntry:
    final = entry(n)
    final.query["instance_id"] = "i1"
    final.upsert = True
    return final


async def rows(db: Database) -> list[tuple[str, str, str | None]]:
    async with db.read_sessions() as session:
        result = await session.execute(
            select(Query.id, Query.status, Query.response_text).order_by(Query.id)
        )
        return [tuple(r) for r in result.all()]  # type: ignore[misc]


async def test_a_start_is_committed_then_its_end_replaces_the_running_row(db: Database) -> None:
    writer = QueryLogWriter(db, linger=0.0)
    await writer.start()
    await writer.submit(started(1))
    assert await rows(db) == [("q1", "running", None)]
    await writer.submit(ended(1))
    assert await rows(db) == [("q1", "ok", "answer 1")]
    await writer.close()


async def test_start_and_end_in_one_batch_write_one_row(db: Database) -> None:
    writer = QueryLogWriter(db, linger=0.2)
    await writer.start()
    first = writer.submit(started(1), awaited=False)
    writer.submit(started(2), awaited=False)  # still running when the batch goes
    await writer.submit(ended(1))
    assert first.done()
    assert await rows(db) == [("q1", "ok", "answer 1"), ("q2", "running", None)]
    await writer.close()


async def test_an_end_without_its_start_still_inserts_the_row(db: Database) -> None:
    writer = QueryLogWriter(db)
    await writer.start()
    await writer.submit(ended(3))
    assert await rows(db) == [("q3", "ok", "answer 3")]
    await writer.close()


async def test_a_call_never_joins_another_users_session(db: Database) -> None:
    """Session ids are chosen by clients: one another user took between a call's planning
    and its log write gets none of the call's prompt or answer (the row is kept, unlinked);
    the caller's own session, made by the write, gets them."""
    from llm_platform.db.models import Event
    from llm_platform.db.models import Session as SessionRow

    async with db.write_sessions() as session, session.begin():
        session.add(SessionRow(id="taken", user_id="someone-else", environment={}))
    writer = QueryLogWriter(db)
    await writer.start()
    for n, sid in ((1, "taken"), (2, "mine")):
        e = entry(n)
        e.query["session_id"] = sid
        e.session = {"id": sid, "user_id": "u", "environment": {}, "started_at": utcnow()}
        e.events = [
            {
                "session_id": sid,
                "event_id": f"prompt-q{n}",
                "t": 1,
                "type": "prompt",
                "data": {"text": f"question {n}"},
                "received_at": utcnow(),
            }
        ]
        await writer.submit(e)
    await writer.close()
    async with db.read_sessions() as session:
        rows = dict((await session.execute(select(Query.id, Query.session_id))).all())
        events = (await session.execute(select(Event.session_id, Event.event_id))).all()
        owners = dict((await session.execute(select(SessionRow.id, SessionRow.user_id))).all())
    assert rows == {"q1": None, "q2": "mine"}
    assert events == [("mine", "prompt-q2")]
    assert owners == {"taken": "someone-else", "mine": "u"}
