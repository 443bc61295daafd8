from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from llm_platform.db.models import AgentStep, Query
from llm_platform.db.repositories.base import Repository
from llm_platform.db.repositories.pagination import decode_cursor, encode_cursor
from llm_platform.db.repositories.visibility import Visibility


@dataclass(frozen=True)
class UsageRow:
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    latency_ms: float | None
    created_at: datetime


@dataclass(frozen=True)
class TokenTotals:
    key: str
    queries: int
    input_tokens: int
    output_tokens: int
    reasoning_tokens: int
    cached_tokens: int
    cost_usd: float | None
    unpriced_queries: int
    avg_latency_ms: float | None
    avg_ttft_ms: float | None


class QueryRepository(Repository[Query]):
    model = Query

    async def get_visible(self, query_id: str, visible: Visibility) -> Query | None:
        stmt = select(Query).where(
            Query.id == query_id, visible.condition(Query.user_id, Query.experiment_id)
        )
        return (await self.session.scalars(stmt)).first()

    async def agent_steps(self, query_id: str) -> Sequence[AgentStep]:
        """The call's agent steps in the order they ran."""
        stmt = (
            select(AgentStep)
            .where(AgentStep.query_id == query_id)
            .order_by(AgentStep.started_at, AgentStep.id)
        )
        return (await self.session.scalars(stmt)).all()

    async def list_page(
        self,
        *,
        visible: Visibility,
        session_id: str | None,
        experiment_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[Sequence[Query], str | None]:
        stmt = select(Query).where(visible.condition(Query.user_id, Query.experiment_id))
        if session_id is not None:
            stmt = stmt.where(Query.session_id == session_id)
        if experiment_id is not None:
            stmt = stmt.where(Query.experiment_id == experiment_id)
        if cursor:
            at, ident = decode_cursor(cursor)
            stmt = stmt.where(
                or_(Query.created_at < at, and_(Query.created_at == at, Query.id < str(ident)))
            )
        stmt = stmt.order_by(Query.created_at.desc(), Query.id.desc()).limit(limit + 1)
        rows = list((await self.session.scalars(stmt)).all())
        next_cursor = None
        if len(rows) > limit:
            rows = rows[:limit]
            next_cursor = encode_cursor(rows[-1].created_at, rows[-1].id)
        return rows, next_cursor

    async def token_totals(
        self,
        *,
        group_by: str,
        visible: Visibility,
        start: datetime | None,
        end: datetime | None,
    ) -> list[TokenTotals]:
        key: Any
        if group_by == "provider":
            key = Query.provider
        elif group_by == "model":
            key = Query.provider + ":" + Query.model
        elif self.session.get_bind().dialect.name == "postgresql":
            key = func.to_char(func.timezone("UTC", Query.created_at), "YYYY-MM-DD")
        else:
            key = func.substr(Query.created_at, 1, 10)
        unpriced = func.sum(case((Query.cost_usd.is_(None), 1), else_=0))
        stmt = select(
            key.label("key"),
            func.count(),
            func.coalesce(func.sum(Query.input_tokens), 0),
            func.coalesce(func.sum(Query.output_tokens), 0),
            func.coalesce(func.sum(Query.reasoning_tokens), 0),
            func.coalesce(func.sum(Query.cached_tokens), 0),
            func.sum(Query.cost_usd),
            unpriced,
            func.avg(Query.latency_ms),
            func.avg(Query.ttft_ms),
        ).where(visible.condition(Query.user_id, Query.experiment_id))
        if start is not None:
            stmt = stmt.where(Query.created_at >= start)
        if end is not None:
            stmt = stmt.where(Query.created_at < end)
        stmt = stmt.group_by(key).order_by(key)
        out = []
        for row in (await self.session.execute(stmt)).all():
            (k, n, inp, outp, reas, cached, cost, unpriced_n, lat, ttft) = row
            out.append(
                TokenTotals(
                    key=str(k),
                    queries=int(n),
                    input_tokens=int(inp),
                    output_tokens=int(outp),
                    reasoning_tokens=int(reas),
                    cached_tokens=int(cached),
                    # A group with any unpriced call has an unknown total: null, never 0.
                    cost_usd=None if unpriced_n else float(cost or 0.0),
                    unpriced_queries=int(unpriced_n or 0),
                    avg_latency_ms=float(lat) if lat is not None else None,
                    avg_ttft_ms=float(ttft) if ttft is not None else None,
                )
            )
        return out

    async def usage_rows(
        self, *, visible: Visibility, provider: str | None, model: str | None
    ) -> list[UsageRow]:
        """Calls that reported token counts, oldest first (the token dashboard's rows)."""
        stmt = select(
            Query.provider,
            Query.model,
            func.coalesce(Query.input_tokens, 0),
            func.coalesce(Query.output_tokens, 0),
            Query.latency_ms,
            Query.created_at,
        ).where(
            or_(Query.input_tokens.is_not(None), Query.output_tokens.is_not(None)),
            visible.condition(Query.user_id, Query.experiment_id),
        )
        if provider is not None:
            stmt = stmt.where(Query.provider == provider)
        if model is not None:
            stmt = stmt.where(Query.model == model)
        stmt = stmt.order_by(Query.created_at, Query.id)
        return [
            UsageRow(p, m, int(i), int(o), float(lat) if lat is not None else None, at)
            for p, m, i, o, lat, at in (await self.session.execute(stmt)).all()
        ]

    async def usage_names(self, *, visible: Visibility) -> tuple[list[str], list[str]]:
        """Distinct providers and models among calls that reported token counts."""
        stmt = select(Query.provider, Query.model).where(
            or_(Query.input_tokens.is_not(None), Query.output_tokens.is_not(None)),
            visible.condition(Query.user_id, Query.experiment_id),
        )
        rows = (await self.session.execute(stmt.distinct())).all()
        return sorted({p for p, _ in rows}), sorted({m for _, m in rows})

    async def stream_for_session(self, session_id: str) -> AsyncIterator[Query]:
        stmt = (
            select(Query)
            .where(Query.session_id == session_id)
            .order_by(Query.created_at, Query.id)
            .execution_options(yield_per=500)
        )
        result = await self.session.stream_scalars(stmt)
        async for row in result:
            yield row
