from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from llm_platform.db.models import Event
from llm_platform.db.repositories.base import Repository


class EventRepository(Repository[Event]):
    model = Event

    async def insert_new(self, rows: Sequence[dict[str, Any]]) -> set[str]:
        """Insert rows, skipping (session_id, event_id) pairs already stored.

        Returns the event ids actually inserted; the rest were duplicates. Safe under
        concurrency: the unique constraint decides, not a read-then-write check.
        """
        if not rows:
            return set()
        dialect = self.session.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        # One cached statement executed with many parameter sets: SQLAlchemy batches it into
        # multi-row INSERT ... RETURNING ("insertmanyvalues") without compiling a new
        # 100-row VALUES clause per request. Core table, so no ORM bulk bookkeeping.
        table = Event.__table__
        assert isinstance(table, Table)
        stmt = (
            insert(table)
            .on_conflict_do_nothing(index_elements=["session_id", "event_id"])
            .returning(table.c.event_id)
        )
        result = await self.session.execute(stmt, list(rows))
        return set(result.scalars().all())

    async def list_page(
        self, session_id: str, *, types: Sequence[str] | None, limit: int, after: int | None
    ) -> tuple[Sequence[Event], int | None]:
        stmt = select(Event).where(Event.session_id == session_id)
        if types:
            stmt = stmt.where(Event.type.in_(types))
        if after is not None:
            stmt = stmt.where(Event.id > after)
        stmt = stmt.order_by(Event.id).limit(limit + 1)
        rows = list((await self.session.scalars(stmt)).all())
        next_after = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_after = rows[-1].id
        return rows, next_after

    async def count_for_session(self, session_id: str) -> int:
        stmt = select(func.count()).select_from(Event).where(Event.session_id == session_id)
        return int((await self.session.scalar(stmt)) or 0)

    async def stream_for_session(self, session_id: str) -> AsyncIterator[Event]:
        stmt = (
            select(Event)
            .where(Event.session_id == session_id)
            .order_by(Event.id)
            .execution_options(yield_per=1000)
        )
        result = await self.session.stream_scalars(stmt)
        async for row in result:
            yield row
