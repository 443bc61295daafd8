"""EventRepository.insert_new on both databases: large batches, duplicates, exact round trip."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine

from llm_platform.core.config import Settings
from llm_platform.db.engine import create_database
from llm_platform.db.migrate import upgrade
from llm_platform.db.models import Event, Session
from llm_platform.db.repositories.events import EventRepository


def rows(ids: range, session_id: str = "s") -> list[dict[str, object]]:
    at = datetime(2025, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)
    return [
        {"session_id": session_id, "event_id": f"e{i}", "t": i, "type": "k",
         "data": {"i": i, "nested": {"s": "ø🙂", "l": [1, None, True]}}, "received_at": at}
        for i in ids
    ]  # fmt: skip


async def test_large_batch_duplicates_and_round_trip(database_url: str) -> None:
    db = create_database(Settings(_env_file=None, DATABASE_URL=database_url))  # type: ignore[call-arg]
    await upgrade(db.engine)
    try:
        async with db.write_sessions() as session, session.begin():
            session.add(Session(id="s", user_id="u"))
        # More rows than one SQLite statement carries (1,000): several chunks, one transaction.
        async with db.write_sessions() as session, session.begin():
            inserted = await EventRepository(session).insert_new(rows(range(2500)))
        assert inserted == {f"e{i}" for i in range(2500)}
        async with db.write_sessions() as session, session.begin():
            again = await EventRepository(session).insert_new(rows(range(2400, 2600)))
        assert again == {f"e{i}" for i in range(2500, 2600)}
        async with db.read_sessions() as session:
            assert await session.scalar(select(func.count()).select_from(Event)) == 2600
            first = (await session.scalars(select(Event).where(Event.event_id == "e7"))).one()
        assert first.data == {"i": 7, "nested": {"s": "ø🙂", "l": [1, None, True]}}
        assert first.received_at == datetime(2025, 5, 4, 3, 2, 1, 123456, tzinfo=UTC)
        assert first.t == 7 and first.type == "k"
        # A missing session is the foreign key's business, on both databases.
        with pytest.raises(IntegrityError):
            async with db.write_sessions() as session, session.begin():
                await EventRepository(session).insert_new(rows(range(3), session_id="gone"))
    finally:
        await db.dispose()


async def test_rows_written_by_the_fast_path_read_back_through_sqlalchemy(
    database_url: str,
) -> None:
    """The stored text of `data` and `received_at` is what SQLAlchemy itself would write."""
    db = create_database(Settings(_env_file=None, DATABASE_URL=database_url))  # type: ignore[call-arg]
    await upgrade(db.engine)
    try:
        async with db.write_sessions() as session, session.begin():
            session.add(Session(id="s", user_id="u"))
            await session.flush()
            session.add(
                Event(session_id="s", event_id="orm", t=1, type="k", data={"a": [1]},
                      received_at=datetime(2025, 1, 1, tzinfo=UTC))
            )  # fmt: skip
            await session.flush()
            fast = rows(range(1))
            fast[0]["received_at"] = datetime(2025, 1, 1, tzinfo=UTC)
            fast[0]["data"] = {"a": [1]}
            await EventRepository(session).insert_new(fast)
        engine = create_async_engine(database_url)
        async with engine.connect() as conn:
            stored = (
                await conn.exec_driver_sql(
                    "SELECT event_id, CAST(data AS TEXT), CAST(received_at AS TEXT) FROM events "
                    "ORDER BY event_id"
                )
            ).all()
        await engine.dispose()
        assert stored[0][1:] == stored[1][1:], stored
    finally:
        await db.dispose()
