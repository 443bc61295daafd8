"""`GET /tokens/data` (no `/api/v1` prefix): the original client's token dashboard.

Rows come from our query log; `tokens.total` is input + output, as in `/api/v1/analytics`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query

from llm_platform.api.deps import CurrentUser, DbSession
from llm_platform.api.json_body import JSONRoute
from llm_platform.api.legacy.schemas import (
    LegacyTokens,
    TokenAggregates,
    TokenCounts,
    TokenDashboard,
    TokenFilters,
    TokenQuery,
)
from llm_platform.services import analytics
from llm_platform.services.analytics import UsageRow

router = APIRouter(tags=["legacy client"], route_class=JSONRoute)

# The old client sends "" for "all": empty is allowed, control characters are not.
Name = Annotated[str | None, Query(max_length=256, pattern=r"^[^\x00-\x1f\x7f]*$")]


@router.get("/tokens/data", response_model=TokenDashboard)
async def tokens_data(
    db: DbSession, user: CurrentUser, model_provider: Name = None, model_used: Name = None
) -> TokenDashboard:
    """Token usage per call with totals per provider and model. The filter lists always
    cover every provider and model (so the dashboard can switch filters)."""
    rows, providers, models = await analytics.usage(
        db, user, provider=model_provider or None, model=model_used or None
    )
    return TokenDashboard(
        queries=[
            TokenQuery(
                model_provider=r.provider,
                model_used=r.model,
                tokens=_tokens(r),
                timestamp=r.created_at,
                latency_ms=r.latency_ms,
            )
            for r in rows
        ],
        filters=TokenFilters(providers=providers, models=models),
        aggregated=aggregate(rows),
    )


def _tokens(row: UsageRow) -> LegacyTokens:
    total = row.input_tokens + row.output_tokens
    return LegacyTokens(prompt=row.input_tokens, completion=row.output_tokens, total=total)


def aggregate(rows: Sequence[UsageRow]) -> TokenAggregates:
    usage: dict[str, int] = defaultdict(int)
    by_provider: dict[str, TokenCounts] = defaultdict(TokenCounts)
    by_model: dict[str, TokenCounts] = defaultdict(TokenCounts)
    latency: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        t = _tokens(row)
        usage[row.model] += 1
        for counts in (by_provider[row.provider], by_model[row.model]):
            counts.prompt += t.prompt
            counts.completion += t.completion
            counts.total += t.total
        if row.latency_ms is not None:
            latency[row.model].append(row.latency_ms)
    return TokenAggregates(
        total_prompt_tokens=sum(c.prompt for c in by_provider.values()),
        total_completion_tokens=sum(c.completion for c in by_provider.values()),
        total_tokens=sum(c.total for c in by_provider.values()),
        model_usage_count=dict(usage),
        provider_stats=dict(by_provider),
        model_stats=dict(by_model),
        model_avg_latency={m: sum(v) / len(v) for m, v in latency.items()},
    )
