"""UI event ingestion: idempotent on (session, event_id), all-or-nothing per batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.errors import NotFound, PayloadTooLarge, ValidationFailed
from llm_platform.core.security import Principal
from llm_platform.db.models import Event, Session, utcnow
from llm_platform.db.repositories.events import EventRepository
from llm_platform.schemas.events import EventIn, EventsAccepted
from llm_platform.services import sessions as session_service


async def ingest(
    db: AsyncSession,
    principal: Principal,
    session_id: str,
    events: Sequence[EventIn],
    *,
    owners: session_service.SessionOwners,
    max_batch: int,
    max_data_bytes: int,
) -> EventsAccepted:
    principal.own_session_id(session_id)
    if len(events) > max_batch:
        raise PayloadTooLarge(f"A batch holds at most {max_batch} events, got {len(events)}")

    # Rows are built before the first statement: on SQLite that statement opens the write
    # transaction, and nothing but the two queries should run while it is open.
    now = utcnow()
    rows = []
    seen: set[str] = set()
    in_batch_duplicates: list[str] = []
    for index, event in enumerate(events):
        if event.event_id in seen:
            in_batch_duplicates.append(event.event_id)
            continue
        seen.add(event.event_id)
        if len(orjson.dumps(event.data)) > max_data_bytes:
            raise ValidationFailed(
                f"events.{index}.data: larger than {max_data_bytes} bytes once encoded"
            )
        rows.append(
            {
                "session_id": session_id,
                "event_id": event.event_id,
                "t": event.t,
                "type": event.type,
                "data": event.data,
                "received_at": now,
            }
        )
    await session_service.check_visible(db, principal, session_id, owners)
    try:
        inserted = await EventRepository(db).insert_new(rows)
    except IntegrityError:
        # The session went away after its owner was remembered: the foreign key says so.
        owners.forget(session_id)
        raise NotFound("Session not found") from None
    accepted = [r["event_id"] for r in rows if r["event_id"] in inserted]
    duplicates = [r["event_id"] for r in rows if r["event_id"] not in inserted]
    return EventsAccepted(accepted=accepted, duplicates=duplicates + in_batch_duplicates)


async def list_page(
    db: AsyncSession,
    principal: Principal,
    session_id: str,
    *,
    types: Sequence[str] | None,
    limit: int,
    after: int | None,
) -> tuple[Sequence[Event], int | None]:
    await session_service.get_visible(db, principal, session_id)
    return await EventRepository(db).list_page(session_id, types=types, limit=limit, after=after)


# Events are read in pages of this many rows (a session may hold hundreds of thousands).
_PAGE = 10_000


@dataclass(frozen=True)
class SessionEvents:
    """A session the caller may read, how many events it holds and (when asked) its events
    in order."""

    session: Session
    event_count: int
    events: list[Event] | None


async def session_with_events(
    db: AsyncSession,
    principal: Principal,
    session_id: str,
    *,
    include_events: bool,
    limit: int | None = None,
) -> SessionEvents:
    """The session with its event count and, with `include_events`, its first `limit`
    events (all of them without a limit)."""
    record = await session_service.get_visible(db, principal, session_id)
    repo = EventRepository(db)
    events: list[Event] | None = None
    if include_events:
        events = []
        after: int | None = None
        while limit is None or len(events) < limit:
            page = _PAGE if limit is None else min(_PAGE, limit - len(events))
            rows, after = await repo.list_page(record.id, types=None, limit=page, after=after)
            events.extend(rows)
            if after is None:
                break
    return SessionEvents(record, await repo.count_for_session(record.id), events)
