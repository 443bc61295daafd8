"""Read side of the query log: history and token/cost totals."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.errors import BadRequest
from llm_platform.core.security import Principal
from llm_platform.db.repositories.queries import QueryRepository, TokenTotals
from llm_platform.schemas.common import as_utc
from llm_platform.schemas.queries import GroupBy, TokenAnalytics, TokenGroup


def _group(t: TokenTotals) -> TokenGroup:
    return TokenGroup(
        key=t.key,
        queries=t.queries,
        input_tokens=t.input_tokens,
        output_tokens=t.output_tokens,
        reasoning_tokens=t.reasoning_tokens,
        cached_tokens=t.cached_tokens,
        total_tokens=t.input_tokens + t.output_tokens,
        cost_usd=t.cost_usd,
        unpriced_queries=t.unpriced_queries,
        avg_latency_ms=t.avg_latency_ms,
        avg_ttft_ms=t.avg_ttft_ms,
    )


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
    # Naive and aware dates do not compare: both in UTC, a naive one taken as UTC.
    start = as_utc(start) if start is not None else None
    end = as_utc(end) if end is not None else None
    if start is not None and end is not None and end <= start:
        raise BadRequest("'to' must be after 'from'")
    rows = await QueryRepository(db).token_totals(
        group_by=group_by, user_id=principal.user_filter(user_id), start=start, end=end
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
