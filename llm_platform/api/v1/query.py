"""Query endpoints: JSON answer, SSE stream, resume, cancel, and the model list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.api.deps import CurrentUser, DbSession, State
from llm_platform.core.errors import NotFound, ServiceUnavailable
from llm_platform.core.security import Principal
from llm_platform.core.state import AppState
from llm_platform.schemas.query import CancelResult, ModelsResponse, QueryRequest, QueryResponse
from llm_platform.services import query as query_service
from llm_platform.services.query_generation import QueryRuntime
from llm_platform.services.query_plan import QueryPlan, build_plan
from llm_platform.services.streams.formats import SSE_HEADERS, sse_stream

router = APIRouter(tags=["query"])


async def plan_query(
    state: AppState, db: AsyncSession, user: Principal, payload: QueryRequest
) -> QueryPlan:
    """Validate and plan in a read transaction of its own. The request's transaction (the
    caller's API-key lookup) is committed first: on SQLite it would otherwise hold the write
    lock that the query log writer needs while this request waits for its answer."""
    await db.commit()
    runtime = runtime_of(state)
    async with state.db.read_sessions() as read:
        return await build_plan(read, user, runtime.settings, runtime.registry, payload)


def runtime_of(state: AppState) -> QueryRuntime:
    if state.query is None:
        raise ServiceUnavailable("The query service is not running")
    return state.query


async def get_runtime(state: State) -> QueryRuntime:
    return runtime_of(state)


Runtime = Annotated[QueryRuntime, Depends(get_runtime)]


@router.post("/query", response_model=QueryResponse)
@router.post("/query/", response_model=QueryResponse, include_in_schema=False)
async def query(
    payload: QueryRequest, db: DbSession, user: CurrentUser, state: State, runtime: Runtime
) -> QueryResponse:
    """The whole answer at once (built from the same stream as `/query/stream`)."""
    plan = await plan_query(state, db, user, payload)
    result = await query_service.run_once(runtime, plan)
    return query_service.to_response(result)


@router.post(
    "/query/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def query_stream(
    payload: QueryRequest, db: DbSession, user: CurrentUser, state: State, runtime: Runtime
) -> StreamingResponse:
    """Server-sent events: `start`, `thought`, `token`, `citation`, `usage`, then `done` or
    `error`, then `data: [DONE]`. Resume with `GET /query/stream/{stream_id}`."""
    plan = await plan_query(state, db, user, payload)
    stream_id = query_service.start_stream(runtime, plan)
    head, frames = await query_service.open_stream(runtime, stream_id, wait_first=True)
    return StreamingResponse(
        sse_stream(head, frames),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, "X-Stream-ID": stream_id, "X-Query-ID": plan.query_id},
    )


@router.get(
    "/query/stream/{stream_id}",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def resume_stream(
    stream_id: str,
    runtime: Runtime,
    request: Request,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[int | None, Query(ge=0, description="Alternative to Last-Event-ID")] = None,
) -> StreamingResponse:
    """Replay the frames after `Last-Event-ID`, then follow the live stream (any instance).
    The stream id is the capability: it is unguessable and known only to its client."""
    start = after if after is not None else _parse_event_id(last_event_id)
    head, frames = await query_service.open_stream(runtime, stream_id, start)
    return StreamingResponse(
        sse_stream(head, frames),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, "X-Stream-ID": stream_id},
    )


@router.post("/query/{stream_id}/cancel", response_model=CancelResult)
async def cancel_stream(stream_id: str, runtime: Runtime) -> CancelResult:
    """Stop a generation (on whichever instance runs it); its partial answer is logged."""
    if await runtime.streams.cancel(stream_id):
        return CancelResult(stream_id=stream_id, cancelled=True)
    if await runtime.streams.store.exists(stream_id):
        return CancelResult(stream_id=stream_id, cancelled=False)  # already finished
    raise NotFound("Stream not found (unknown, or its retention window has ended)")


@router.get("/models", response_model=ModelsResponse)
async def models(runtime: Runtime) -> ModelsResponse:
    return await query_service.list_models(runtime.registry)


def _parse_event_id(value: str | None) -> int:
    if not value:
        return 0
    try:
        return max(0, int(value.strip()))
    except ValueError:
        return 0
