from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse

from llm_platform.api.deps import CurrentUser, DbSession, State
from llm_platform.api.json_body import JSONRoute
from llm_platform.api.params import Cursor, EventCursor, EventTypeFilter, Limit, PathId
from llm_platform.schemas.common import ClientId, Page
from llm_platform.schemas.events import EventOut
from llm_platform.schemas.sessions import (
    SessionDetail,
    SessionOut,
    SessionStart,
    SessionStarted,
    SessionUpdate,
)
from llm_platform.services import events as event_service
from llm_platform.services import export as export_service
from llm_platform.services import sessions as session_service

router = APIRouter(prefix="/sessions", tags=["sessions"], route_class=JSONRoute)


@router.post("", response_model=SessionStarted)
async def start_session(
    payload: SessionStart, db: DbSession, user: CurrentUser, response: Response
) -> SessionStarted:
    record, created = await session_service.start(db, user, payload)
    response.status_code = 201 if created else 200
    return SessionStarted.model_validate(
        {
            **SessionOut.model_validate(record).model_dump(),
            "status": "created" if created else "exists",
        }
    )


@router.get("", response_model=Page[SessionOut])
async def list_sessions(
    db: DbSession,
    user: CurrentUser,
    user_id: ClientId | None = None,
    experiment_id: ClientId | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[SessionOut]:
    rows, next_cursor = await session_service.list_page(
        db, user, user_id=user_id, experiment_id=experiment_id, limit=limit, cursor=cursor
    )
    return Page(items=[SessionOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/{session_id}", response_model=SessionDetail)
async def get_session(
    session_id: PathId,
    db: DbSession,
    user: CurrentUser,
    include_events: bool = False,
    event_limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
) -> SessionDetail:
    found = await event_service.session_with_events(
        db, user, session_id, include_events=include_events, limit=event_limit
    )
    detail = SessionDetail.model_validate(found.session)
    detail.event_count = found.event_count
    if found.events is not None:
        detail.events = [EventOut.model_validate(e) for e in found.events]
    return detail


@router.patch("/{session_id}", response_model=SessionOut)
async def update_session(
    session_id: PathId, payload: SessionUpdate, db: DbSession, user: CurrentUser
) -> SessionOut:
    """Rename a conversation."""
    return SessionOut.model_validate(
        await session_service.rename(db, user, session_id, payload.title)
    )


@router.delete("/{session_id}", status_code=204)
async def delete_session(session_id: PathId, db: DbSession, user: CurrentUser) -> Response:
    """Delete a conversation with its events and model calls."""
    await session_service.delete(db, user, session_id)
    return Response(status_code=204)


@router.post("/{session_id}/end", response_model=SessionOut)
async def end_session(session_id: PathId, db: DbSession, user: CurrentUser) -> SessionOut:
    return SessionOut.model_validate(await session_service.end(db, user, session_id))


@router.get("/{session_id}/events", response_model=Page[EventOut])
async def list_events(
    session_id: PathId,
    db: DbSession,
    user: CurrentUser,
    type: EventTypeFilter = None,
    limit: Limit = 100,
    cursor: EventCursor = None,
) -> Page[EventOut]:
    rows, next_after = await event_service.list_page(
        db,
        user,
        session_id,
        types=type,
        limit=limit,
        after=int(cursor) if cursor else None,
    )
    return Page(
        items=[EventOut.model_validate(e) for e in rows],
        next_cursor=str(next_after) if next_after is not None else None,
    )


@router.get("/{session_id}/export")
async def export_session(
    session_id: PathId,
    db: DbSession,
    user: CurrentUser,
    state: State,
    format: export_service.ExportFormat = export_service.ExportFormat.JSONL,
) -> StreamingResponse:
    record = await session_service.get_visible(db, user, session_id)
    records = export_service.session_export_records(
        state.db, record, hide_arm_prompt=not user.is_staff
    )
    return StreamingResponse(
        export_service.render(records, format),
        media_type=export_service.MEDIA_TYPES[format],
        headers={
            # ":" (a namespaced id) is not a file-name character everywhere.
            "Content-Disposition": (
                f'attachment; filename="session-{record.id.replace(":", "_")}.{format.value}"'
            )
        },
    )
