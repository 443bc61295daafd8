from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from llm_platform.api.deps import CurrentUser, DbSession
from llm_platform.api.json_body import JSONRoute
from llm_platform.api.params import Cursor, Limit
from llm_platform.schemas.common import ClientId, Page, UtcDatetime
from llm_platform.schemas.queries import GroupBy, QueryDetailOut, QueryLogOut, TokenAnalytics
from llm_platform.services import analytics

router = APIRouter(tags=["queries"], route_class=JSONRoute)


@router.get("/queries", response_model=Page[QueryLogOut])
async def list_queries(
    db: DbSession,
    user: CurrentUser,
    user_id: ClientId | None = None,
    session_id: ClientId | None = None,
    experiment_id: ClientId | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[QueryLogOut]:
    rows, next_cursor = await analytics.query_page(
        db,
        user,
        user_id=user_id,
        session_id=session_id,
        experiment_id=experiment_id,
        limit=limit,
        cursor=cursor,
    )
    return Page(items=[QueryLogOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/queries/{query_id}", response_model=QueryDetailOut)
async def get_query(query_id: ClientId, db: DbSession, user: CurrentUser) -> QueryDetailOut:
    """One logged model call with its agent steps (another user's: 404)."""
    return await analytics.query_detail(db, user, query_id)


@router.get("/analytics/tokens", response_model=TokenAnalytics)
async def token_analytics(
    db: DbSession,
    user: CurrentUser,
    group_by: GroupBy = "provider",
    user_id: ClientId | None = None,
    start: Annotated[UtcDatetime | None, Query(alias="from")] = None,
    end: Annotated[UtcDatetime | None, Query(alias="to")] = None,
) -> TokenAnalytics:
    return await analytics.token_totals(
        db, user, group_by=group_by, user_id=user_id, start=start, end=end
    )
