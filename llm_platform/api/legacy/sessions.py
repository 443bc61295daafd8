"""`/api/v1/session/...`: the original client's session, event and experiment routes.

Each maps onto the v1 session and event services; what the client sends is stored in the
same tables the v1 API reads (`/api/v1/sessions/{id}/events` shows every event posted here).
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Body
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.api.deps import CurrentUser, DbSession, State
from llm_platform.api.json_body import BeaconRoute
from llm_platform.api.legacy.schemas import (
    LegacyAck,
    LegacyEventAck,
    LegacyEventIn,
    LegacyEventOut,
    LegacyExperimentOut,
    LegacyExperimentUpdate,
    LegacySessionEnd,
    LegacySessionEvent,
    LegacySessionStart,
    LegacySessionStarted,
    LegacySessionView,
)
from llm_platform.api.params import PathId
from llm_platform.app_state import AppState
from llm_platform.core.security import Principal
from llm_platform.db.models import Session, new_id
from llm_platform.schemas.events import EventIn
from llm_platform.schemas.sessions import SessionOut, SessionStart
from llm_platform.services import events as event_service
from llm_platform.services import sessions as session_service

# Beacon: the old client ends its session with navigator.sendBeacon (text/plain bodies work
# too); strict JSON like every API route.
router = APIRouter(prefix="/session", tags=["legacy client"], route_class=BeaconRoute)


@router.post("/start", response_model=LegacySessionStarted)
async def start_session(
    payload: LegacySessionStart, db: DbSession, user: CurrentUser
) -> LegacySessionStarted:
    """Idempotent: a repeat answers `exists` and adds what the client did not report before."""
    # The legacy schema has validated every field (the experiment id under its own, looser
    # rule: the old client lets researchers type it freely), so the v1 model is built as is.
    start = SessionStart.model_construct(
        session_id=payload.session_id,
        user_id=payload.user_id,
        experiment_id=payload.experiment_id,
        environment=payload.environment,
        title=None,
    )
    record, created = await session_service.start(db, user, start)
    if not created:
        await session_service.resume(
            db,
            record,
            environment=payload.environment.model_dump(exclude_none=True),
            experiment_id=payload.experiment_id,
        )
    return LegacySessionStarted.model_validate(
        {
            **SessionOut.model_validate(record).model_dump(),
            "status": "created" if created else "exists",
            "message": "Session started successfully" if created else "Session already exists",
            "existing": not created,
        }
    )


@router.post("/end", response_model=LegacyAck)
async def end_session(payload: LegacySessionEnd, db: DbSession, user: CurrentUser) -> LegacyAck:
    """Sent with `navigator.sendBeacon` on page unload, as an `application/json` Blob from the
    frontend's origin (a CORS preflight first) or as a string (`text/plain`)."""
    await session_service.end(db, user, payload.session_id)
    return LegacyAck(
        session_id=payload.session_id, status="ended", message="Session ended successfully"
    )


@router.post("/event", response_model=LegacyEventAck)
async def add_event(
    payload: LegacySessionEvent, db: DbSession, user: CurrentUser, state: State
) -> LegacyEventAck:
    """One event per request and no client id: the server assigns one. `data` is stored whole.

    The client's tracker posts events before its session is started (while the experiment
    modal is open): those open the session unclaimed, and its start claims it; the old
    backend answered 404 and lost them."""
    if state.session_owners.get(payload.session_id) is None:  # known sessions: no lookup
        await session_service.open_for_events(db, user, payload.session_id)
    event_id = await _ingest_one(db, user, state, payload.session_id, payload.event)
    return LegacyEventAck(
        session_id=payload.session_id,
        status="updated",
        message="Event added successfully",
        event_id=event_id,
    )


@router.get("/{session_id}", response_model=LegacySessionView)
async def get_session(
    session_id: PathId, db: DbSession, user: CurrentUser, include_events: bool = False
) -> LegacySessionView:
    found = await event_service.session_with_events(
        db, user, session_id, include_events=include_events
    )
    events = None
    if found.events is not None:
        events = [
            LegacyEventOut(
                t=e.t, type=e.type, data=e.data, event_id=e.event_id, received_at=e.received_at
            )
            for e in found.events
        ]
    return _session_view(found.session, found.event_count, events)


@router.get("/{session_id}/experiment", response_model=LegacyExperimentOut)
async def get_experiment(
    session_id: PathId, db: DbSession, user: CurrentUser
) -> LegacyExperimentOut:
    record = await session_service.get_visible(db, user, session_id)
    return LegacyExperimentOut(
        session_id=record.id, experiment_id=record.experiment_id, variant=record.variant
    )


@router.post("/{session_id}/experiment", response_model=LegacyExperimentOut)
@router.patch(  # the old backend's method for the same thing
    "/{session_id}/experiment",
    response_model=LegacyExperimentOut,
    operation_id="set_experiment_patch",
)
async def set_experiment(
    session_id: PathId,
    payload: Annotated[LegacyExperimentUpdate, Body()],
    db: DbSession,
    user: CurrentUser,
    state: State,
) -> LegacyExperimentOut:
    """404 for a session not started yet (the client retries). The assignment is also logged
    as an `experiment_assigned` event, with anything else the client sent (`model_group`)."""
    record = await session_service.get_owned(db, user, session_id)
    previous = record.experiment_id
    await session_service.apply_experiment(db, record, payload.experiment_id)
    await db.flush()
    extras = payload.model_extra or {}
    data = {
        **extras,
        "experiment_id": record.experiment_id,
        "variant": record.variant,
        "previous_experiment_id": previous,
    }
    event = LegacyEventIn(t=int(time.time() * 1000), type="experiment_assigned", data=data)
    await _ingest_one(db, user, state, record.id, event)
    return LegacyExperimentOut(
        session_id=record.id, experiment_id=record.experiment_id, variant=record.variant
    )


# --------------------------------------------------------------------------- helpers


async def _ingest_one(
    db: AsyncSession, user: Principal, state: AppState, session_id: str, event: LegacyEventIn
) -> str:
    event_id = new_id()
    await event_service.ingest(
        db,
        user,
        session_id,
        [EventIn(event_id=event_id, t=event.t, type=event.type, data=event.data)],
        owners=state.session_owners,
        max_batch=state.settings.MAX_EVENTS_PER_BATCH,
        max_data_bytes=state.settings.MAX_EVENT_DATA_BYTES,
    )
    return event_id


def _session_view(
    record: Session, event_count: int, events: list[LegacyEventOut] | None
) -> LegacySessionView:
    out = SessionOut.model_validate(record)
    return LegacySessionView(
        **out.model_dump(),
        status="ended" if record.ended_at is not None else "active",
        start_time=record.started_at,
        end_time=record.ended_at,
        event_count=event_count,
        events=events,
    )
