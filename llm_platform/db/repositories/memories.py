"""Memories, their per-user switch and the conversations' rolling summaries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.exc import IntegrityError

from llm_platform.db.models import Memory, Query, SessionSummary, User, utcnow
from llm_platform.db.repositories.base import Repository
from llm_platform.db.repositories.pagination import decode_cursor, encode_cursor

# A user's memories scored in one pass (search and recall read them all): a bound, newest kept.
MAX_SCANNED = 5000


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class MemoryRepository(Repository[Memory]):
    model = Memory

    async def get_for_user(self, user_id: str, memory_id: str) -> Memory | None:
        stmt = select(Memory).where(Memory.id == memory_id, Memory.user_id == user_id)
        return (await self.session.scalars(stmt)).first()

    async def list_page(
        self, user_id: str, *, limit: int, cursor: str | None
    ) -> tuple[Sequence[Memory], str | None]:
        """Newest first, keyset-paginated on (created_at, id)."""
        stmt = select(Memory).where(Memory.user_id == user_id)
        if cursor:
            at, ident = decode_cursor(cursor)
            stmt = stmt.where(
                or_(Memory.created_at < at, and_(Memory.created_at == at, Memory.id < ident))
            )
        stmt = stmt.order_by(Memory.created_at.desc(), Memory.id.desc()).limit(limit + 1)
        rows = list((await self.session.scalars(stmt)).all())
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id)
        return rows, next_cursor

    async def all_for_user(self, user_id: str, limit: int = MAX_SCANNED) -> list[Memory]:
        """The user's memories, newest first (what a search by meaning scores)."""
        stmt = (
            select(Memory)
            .where(Memory.user_id == user_id)
            .order_by(Memory.created_at.desc(), Memory.id.desc())
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

    async def matching_terms(
        self, user_id: str, terms: Sequence[str], limit: int = MAX_SCANNED
    ) -> list[Memory]:
        """Memories containing any of `terms` (case-insensitive): the keyword fallback."""
        if not terms:
            return []
        conditions = [Memory.text.ilike(f"%{_like_escape(t)}%", escape="\\") for t in terms]
        stmt = (
            select(Memory)
            .where(Memory.user_id == user_id, or_(*conditions))
            .order_by(Memory.created_at.desc(), Memory.id.desc())
            .limit(limit)
        )
        return list((await self.session.scalars(stmt)).all())

    async def any_for_user(self, user_id: str) -> bool:
        """Whether the user has a memory (asked before every turn's recall)."""
        found = await self.session.scalar(
            select(Memory.id).where(Memory.user_id == user_id).limit(1)
        )
        return found is not None

    async def learned_from(self, user_id: str, query_id: str) -> bool:
        """Whether a memory of the user came from this query (its turn was read)."""
        found = await self.session.scalar(
            select(Memory.id)
            .where(Memory.user_id == user_id, Memory.source_query_id == query_id)
            .limit(1)
        )
        return found is not None

    async def count_for_user(self, user_id: str) -> int:
        stmt = select(func.count()).select_from(Memory).where(Memory.user_id == user_id)
        return int((await self.session.scalar(stmt)) or 0)

    async def delete_for_user(self, user_id: str) -> int:
        result = await self.session.execute(delete(Memory).where(Memory.user_id == user_id))
        return int(getattr(result, "rowcount", 0) or 0)


class MemorySwitchRepository(Repository[User]):
    """`users.memory_enabled`: on for users without a row (named by X-User-ID, say)."""

    model = User

    async def enabled(self, user_id: str) -> bool:
        stmt = select(User.memory_enabled).where(User.id == user_id)
        found = (await self.session.execute(stmt)).scalar_one_or_none()
        return True if found is None else bool(found)

    async def set_enabled(self, user_id: str, enabled: bool) -> None:
        user = await self.get(user_id)
        if user is None:
            try:
                async with self.session.begin_nested():
                    await self.add(User(id=user_id, memory_enabled=enabled))
                return
            except IntegrityError:  # created concurrently: update it below
                user = await self.get(user_id)
                assert user is not None
        user.memory_enabled = enabled
        await self.session.flush()


class SessionSummaryRepository(Repository[SessionSummary]):
    model = SessionSummary

    async def save(
        self,
        *,
        session_id: str,
        user_id: str,
        summary: str,
        message_count: int,
        covered_until_query_id: str | None,
        covered_until: datetime | None,
    ) -> SessionSummary:
        record = await self.get(session_id)
        if record is None:
            record = SessionSummary(session_id=session_id, user_id=user_id, summary=summary)
            self.session.add(record)
        record.summary = summary
        record.message_count = message_count
        record.covered_until_query_id = covered_until_query_id
        record.covered_until = covered_until
        record.updated_at = utcnow()
        await self.session.flush()
        return record

    async def delete_for_user(self, user_id: str) -> None:
        await self.session.execute(delete(SessionSummary).where(SessionSummary.user_id == user_id))

    async def turns(self, session_id: str) -> list[Query]:
        """The session's answered model calls, oldest first (what a summary covers)."""
        stmt = (
            select(Query)
            .where(Query.session_id == session_id, Query.status == "ok")
            .order_by(Query.created_at, Query.id)
        )
        return list((await self.session.scalars(stmt)).all())
