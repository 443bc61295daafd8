from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from sqlalchemy import and_, delete, or_, select

from llm_platform.db.models import AgentStep, Event, Query, Session
from llm_platform.db.repositories.agent_checkpoints import CheckpointRepository
from llm_platform.db.repositories.base import Repository
from llm_platform.db.repositories.pagination import decode_cursor, encode_cursor
from llm_platform.db.repositories.visibility import Visibility


class SessionRepository(Repository[Session]):
    model = Session

    async def owner_of(self, session_id: str) -> str | None:
        """The owner of a session (None: no such session), without loading the row."""
        stmt = select(Session.user_id).where(Session.id == session_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def list_page(
        self,
        *,
        visible: Visibility,
        experiment_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[Sequence[Session], str | None]:
        """Newest first, keyset-paginated on (started_at, id)."""
        stmt = select(Session).where(visible.condition(Session.user_id, Session.experiment_id))
        if experiment_id is not None:
            stmt = stmt.where(Session.experiment_id == experiment_id)
        if cursor:
            at, ident = decode_cursor(cursor)
            stmt = stmt.where(
                or_(
                    Session.started_at < at,
                    and_(Session.started_at == at, Session.id < str(ident)),
                )
            )
        stmt = stmt.order_by(Session.started_at.desc(), Session.id.desc()).limit(limit + 1)
        rows = list((await self.session.scalars(stmt)).all())
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1].started_at, rows[-1].id)
        return rows, next_cursor

    async def stream_for_experiment(
        self, experiment_id: str, user_id: str | None
    ) -> AsyncIterator[Session]:
        stmt = select(Session).where(Session.experiment_id == experiment_id)
        if user_id is not None:
            stmt = stmt.where(Session.user_id == user_id)
        stmt = stmt.order_by(Session.started_at, Session.id).execution_options(yield_per=500)
        result = await self.session.stream_scalars(stmt)
        async for row in result:
            yield row

    async def delete_with_history(self, record: Session) -> None:
        """The session, its events and its logged model calls, in one transaction."""
        await self.session.execute(delete(Event).where(Event.session_id == record.id))
        await self.session.execute(delete(AgentStep).where(AgentStep.session_id == record.id))
        await CheckpointRepository(self.session).delete_threads([record.id])
        await self.session.execute(delete(Query).where(Query.session_id == record.id))
        await self.delete(record)
