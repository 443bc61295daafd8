"""`GET /api/v1/query/history/{user_id}`: the original client's query history, from our log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from llm_platform.api.deps import CurrentUser, DbSession
from llm_platform.api.json_body import JSONRoute
from llm_platform.api.legacy.schemas import LegacyHistory, LegacyHistoryItem, LegacyTokens
from llm_platform.api.params import PathId
from llm_platform.db.models import Query as QueryRow
from llm_platform.schemas.common import ClientId
from llm_platform.services import analytics

router = APIRouter(tags=["legacy client"], route_class=JSONRoute)


@router.get("/query/history/{user_id}", response_model=LegacyHistory)
async def query_history(
    user_id: PathId,
    db: DbSession,
    user: CurrentUser,
    session_id: ClientId | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> LegacyHistory:
    """Newest first, as the old backend answered."""
    rows, _ = await analytics.query_page(
        db,
        user,
        user_id=user_id,
        session_id=session_id,
        experiment_id=None,
        limit=limit,
        cursor=None,
    )
    items = [history_item(r) for r in rows]
    return LegacyHistory(user_id=user_id, total=len(items), queries=items)


def history_item(row: QueryRow) -> LegacyHistoryItem:
    tokens = None
    if row.input_tokens is not None or row.output_tokens is not None:
        prompt, completion = row.input_tokens or 0, row.output_tokens or 0
        tokens = LegacyTokens(prompt=prompt, completion=completion, total=prompt + completion)
    return LegacyHistoryItem(
        id=row.id,
        query_id=row.id,
        user_id=row.user_id,
        session_id=row.session_id,
        experiment_id=row.experiment_id,
        query=query_text(row.request),
        response=row.response_text,
        reasoning=row.reasoning_text,
        model_provider=row.provider,
        model_used=row.model,
        citations=row.citations,
        tokens=tokens,
        latency_ms=row.latency_ms,
        status=row.status,
        error=row.error,
        timestamp=row.created_at,
    )


def query_text(request: dict[str, Any]) -> str | None:
    """The user's query as logged in the call's request."""
    value = request.get("query")
    return value if isinstance(value, str) else None
