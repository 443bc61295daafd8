"""Query endpoints: JSON answer, SSE stream, resume, cancel, and the model list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse

from llm_platform.api.deps import get_current_user, state_of
from llm_platform.api.json_body import JSONRoute
from llm_platform.api.params import PathId
from llm_platform.app_state import AppState
from llm_platform.core.security import Principal
from llm_platform.schemas.query import CancelResult, QueryRequest, QueryResponse
from llm_platform.services.query import service as query_service
from llm_platform.services.query.runtime import QueryRuntime
from llm_platform.services.streams.formats import SSE_HEADERS, sse_stream

router = APIRouter(tags=["query"], route_class=JSONRoute)


@dataclass(frozen=True)
class QueryContext:
    state: AppState
    runtime: QueryRuntime
    user: Principal


def runtime_of(state: AppState) -> QueryRuntime:
    return state.query


async def get_query_context(request: Request) -> QueryContext:
    """State, runtime and caller in one dependency: the query endpoints are the hot path, and
    each FastAPI dependency level costs more than what it resolves. The caller is resolved by
    `get_current_user` itself, which opens a short read session only for an API-key lookup
    (so no transaction stays open while the answer is generated: on SQLite it would hold
    the lock the query log writer needs)."""
    state = state_of(request)
    runtime = runtime_of(state)
    user = await get_current_user(request, state)
    return QueryContext(state=state, runtime=runtime, user=user)


async def get_runtime(request: Request) -> QueryRuntime:
    return runtime_of(state_of(request))


Context = Annotated[QueryContext, Depends(get_query_context)]
Runtime = Annotated[QueryRuntime, Depends(get_runtime)]


# `/query/` (trailing slash) is the original client's: `api/legacy/query.py` answers it.
@router.post("/query", response_model=QueryResponse)
async def query(payload: QueryRequest, ctx: Context) -> QueryResponse:
    """The whole answer at once (built from the same stream as `/query/stream`)."""
    plan = await query_service.prepare(ctx.runtime, ctx.user, payload)
    return query_service.to_response(await query_service.answer(ctx.runtime, plan))


@router.post(
    "/query/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def query_stream(payload: QueryRequest, ctx: Context) -> StreamingResponse:
    """Server-sent events: `start`, `thought`, `token`, `citation`, `usage`, then `done` or
    `error`, then `data: [DONE]`. Resume with `GET /query/stream/{stream_id}`."""
    plan = await query_service.prepare(ctx.runtime, ctx.user, payload)
    opened = await query_service.stream(ctx.runtime, plan)
    return StreamingResponse(
        sse_stream(opened.head, opened.frames),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, "X-Stream-ID": opened.stream_id, "X-Query-ID": plan.query_id},
    )


@router.get(
    "/query/stream/{stream_id}",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def resume_stream(
    stream_id: PathId,
    ctx: Context,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
    after: Annotated[int | None, Query(ge=0, description="Alternative to Last-Event-ID")] = None,
) -> StreamingResponse:
    """Replay the frames after `Last-Event-ID`, then follow the live stream (any instance).
    Only the stream's owner may (another user's stream answers 404)."""
    start = after if after is not None else _parse_event_id(last_event_id)
    opened = await query_service.open_stream(ctx.runtime, stream_id, start, caller=ctx.user)
    return StreamingResponse(
        sse_stream(opened.head, opened.frames),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, "X-Stream-ID": stream_id},
    )


@router.post("/query/{stream_id}/cancel", response_model=CancelResult)
async def cancel_stream(stream_id: str, ctx: Context) -> CancelResult:
    """Stop the caller's generation (on whichever instance runs it); its partial answer is
    logged. `cancelled` is false when it had already finished."""
    cancelled = await query_service.cancel_stream(ctx.runtime, stream_id, ctx.user)
    return CancelResult(stream_id=stream_id, cancelled=cancelled)


def _parse_event_id(value: str | None) -> int:
    if not value:
        return 0
    try:
        return max(0, int(value.strip()))
    except ValueError:
        return 0
