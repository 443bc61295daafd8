"""Read side of the query log: history and token/cost totals."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.errors import BadRequest, NotFound
from llm_platform.core.security import Principal
from llm_platform.db.models import Query
from llm_platform.db.repositories.queries import QueryRepository, TokenTotals, UsageRow
from llm_platform.schemas.queries import (
    AgentStepOut,
    GroupBy,
    QueryDetailOut,
    QueryLogOut,
    TokenAnalytics,
    TokenGroup,
)
from llm_platform.services.access import visibility
from llm_platform.services.query.log_records import HIDDEN_SYSTEM, participant_view

__all__ = ["UsageRow", "query_page", "token_totals", "usage"]  # UsageRow: `usage`'s rows


def _group(t: TokenTotals) -> TokenGroup:
    return TokenGroup(**asdict(t), total_tokens=t.input_tokens + t.output_tokens)


def _weighted(values: list[tuple[float | None, int]]) -> float | None:
    known = [(v, n) for v, n in values if v is not None]
    count = sum(n for _, n in known)
    return sum(v * n for v, n in known) / count if count else None


async def token_totals(
    db: AsyncSession,
    principal: Principal,
    *,
    group_by: GroupBy,
    user_id: str | None,
    start: datetime | None,
    end: datetime | None,
) -> TokenAnalytics:
    principal.require_staff()
    if start is not None and end is not None and end <= start:
        raise BadRequest("'to' must be after 'from'")
    rows = await QueryRepository(db).token_totals(
        group_by=group_by, visible=await visibility(db, principal, user_id), start=start, end=end
    )
    groups = [_group(r) for r in rows]
    unpriced = sum(g.unpriced_queries for g in groups)
    totals = TokenGroup(
        key="total",
        queries=sum(g.queries for g in groups),
        input_tokens=sum(g.input_tokens for g in groups),
        output_tokens=sum(g.output_tokens for g in groups),
        reasoning_tokens=sum(g.reasoning_tokens for g in groups),
        cached_tokens=sum(g.cached_tokens for g in groups),
        total_tokens=sum(g.total_tokens for g in groups),
        cost_usd=None if unpriced else sum(g.cost_usd or 0.0 for g in groups),
        unpriced_queries=unpriced,
        avg_latency_ms=_weighted([(g.avg_latency_ms, g.queries) for g in groups]),
        avg_ttft_ms=_weighted([(g.avg_ttft_ms, g.queries) for g in groups]),
    )
    return TokenAnalytics(group_by=group_by, start=start, end=end, groups=groups, totals=totals)


async def query_page(
    db: AsyncSession,
    principal: Principal,
    *,
    user_id: str | None,
    session_id: str | None,
    experiment_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Query], str | None]:
    """Logged model calls the caller may read, newest first. What a participant reads of
    their own calls leaves out an experiment arm's system prompt (the researcher's)."""
    rows, next_cursor = await QueryRepository(db).list_page(
        visible=await visibility(db, principal, user_id),
        session_id=session_id,
        experiment_id=experiment_id,
        limit=limit,
        cursor=cursor,
    )
    if not principal.is_staff:
        for row in rows:
            if row.request.get(HIDDEN_SYSTEM):
                db.expunge(row)  # never written back
                row.request = participant_view(row.request)
    return list(rows), next_cursor


async def query_detail(db: AsyncSession, principal: Principal, query_id: str) -> QueryDetailOut:
    """One logged call the caller may read (others: 404), with its agent steps."""
    repo = QueryRepository(db)
    row = await repo.get_visible(query_id, await visibility(db, principal, None))
    if row is None:
        raise NotFound("Query not found")
    steps = await repo.agent_steps(query_id)
    out = QueryLogOut.model_validate(row)
    if not principal.is_staff and row.request.get(HIDDEN_SYSTEM):
        out = out.model_copy(update={"request": participant_view(row.request)})
    return QueryDetailOut(
        **out.model_dump(), agent_steps=[AgentStepOut.model_validate(s) for s in steps]
    )


async def usage(
    db: AsyncSession, principal: Principal, *, provider: str | None, model: str | None
) -> tuple[list[UsageRow], list[str], list[str]]:
    """The token dashboard's rows and filter lists (researchers and admins)."""
    principal.require_staff()
    visible = await visibility(db, principal, None)
    repo = QueryRepository(db)
    rows = await repo.usage_rows(visible=visible, provider=provider, model=model)
    providers, models = await repo.usage_names(visible=visible)
    return rows, providers, models
