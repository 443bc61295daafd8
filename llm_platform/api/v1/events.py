from __future__ import annotations

from fastapi import APIRouter

from llm_platform.api.deps import CurrentUser, DbSession, State
from llm_platform.api.json_body import BeaconRoute
from llm_platform.schemas.events import EventBatch, EventsAccepted
from llm_platform.services import events as event_service

# Browsers flush their last events with navigator.sendBeacon, which sends text/plain.
router = APIRouter(tags=["events"], route_class=BeaconRoute)


@router.post("/events", response_model=EventsAccepted)
async def post_events(
    batch: EventBatch, db: DbSession, user: CurrentUser, state: State
) -> EventsAccepted:
    """Store one event or a batch. Answers only after the rows are committed; re-sent
    event ids are reported as duplicates and never stored twice."""
    return await event_service.ingest(
        db,
        user,
        batch.session_id,
        batch.items,
        owners=state.session_owners,
        max_batch=state.settings.MAX_EVENTS_PER_BATCH,
        max_data_bytes=state.settings.MAX_EVENT_DATA_BYTES,
    )
