"""Study sessions: start (idempotent), read, end, list."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.errors import Conflict, NotFound
from llm_platform.core.security import Principal
from llm_platform.db.models import Session, new_id, utcnow
from llm_platform.db.repositories.experiments import ExperimentRepository
from llm_platform.db.repositories.sessions import SessionRepository
from llm_platform.schemas.sessions import SessionStart
from llm_platform.services.access import check_readable, visibility
from llm_platform.services.experiments import assign_variant, variants_of

# Owner of a session known only from events its client posted before starting it (the
# original Next.js client's tracker runs while its session is not started yet). Client user
# ids are never empty; the session's first start claims it.
UNCLAIMED_USER = ""


async def start(
    db: AsyncSession, principal: Principal, payload: SessionStart
) -> tuple[Session, bool]:
    """Returns the session and whether it was created (False: it already existed)."""
    user_id = principal.acting_user(payload.user_id)
    repo = SessionRepository(db)
    if payload.session_id:
        principal.own_session_id(payload.session_id)
    session_id = payload.session_id or new_session_id(principal)
    existing = await repo.get(session_id)
    if existing is not None:
        if existing.user_id == UNCLAIMED_USER:
            await _claim(db, existing, user_id, payload)
            return existing, True
        if existing.user_id != user_id:
            raise Conflict("Session id already in use")
        return existing, False

    record = Session(
        id=session_id,
        user_id=user_id,
        environment=payload.environment.model_dump(exclude_none=True),
        title=payload.title,
    )
    if payload.experiment_id:
        await apply_experiment(db, record, payload.experiment_id)
    try:
        async with db.begin_nested():
            await repo.add(record)
    except IntegrityError:
        # Started concurrently by another request: same answer as a repeat.
        raced = await repo.get(session_id)
        if raced is None or raced.user_id != user_id:
            raise Conflict("Session id already in use") from None
        return raced, False
    return record, True


def new_session_id(principal: Principal) -> str:
    """A server-chosen id, in the caller's namespace (see `Principal.own_session_id`)."""
    if principal.user_id is not None and principal.authenticated and not principal.is_admin:
        return f"{principal.user_id}:{new_id()}"
    return new_id()


async def _claim(db: AsyncSession, record: Session, user_id: str, payload: SessionStart) -> None:
    record.user_id = user_id
    record.environment = {
        **payload.environment.model_dump(exclude_none=True),
        **record.environment,
    }
    record.title = record.title or payload.title
    if payload.experiment_id:
        await apply_experiment(db, record, payload.experiment_id)
    await db.flush()


async def open_for_events(db: AsyncSession, principal: Principal, session_id: str) -> None:
    """Make sure events for `session_id` can be stored, creating the session (unclaimed, or
    owned by the named caller) when its client posts events before starting it."""
    principal.own_session_id(session_id)
    repo = SessionRepository(db)
    if await repo.get(session_id) is not None:
        return
    record = Session(id=session_id, user_id=principal.user_id or UNCLAIMED_USER, environment={})
    try:
        async with db.begin_nested():
            await repo.add(record)
    except IntegrityError:
        pass  # opened concurrently by another request: fine, it exists now


async def resume(
    db: AsyncSession,
    record: Session,
    *,
    environment: dict[str, Any],
    experiment_id: str | None,
) -> None:
    """A client starting a session it already started (a reload, a remount): the session is
    active again, and what it reports now but did not before (a location that arrived late,
    an experiment chosen after the first start) is added. Nothing stored is overwritten."""
    missing = {k: v for k, v in environment.items() if k not in record.environment}
    if missing:
        record.environment = {**record.environment, **missing}
    if experiment_id and record.experiment_id is None:
        await apply_experiment(db, record, experiment_id)
    record.ended_at = None
    await db.flush()


async def apply_experiment(db: AsyncSession, record: Session, experiment_id: str) -> None:
    """Store the experiment on the session and, when it is defined, the user's arm."""
    record.experiment_id = experiment_id
    # A study's arms (`study.<id>.v<n>`) are assigned by the study, never by naming them.
    if experiment_id.startswith(STUDY_EXPERIMENT_PREFIX):
        record.variant = None
        return
    experiment = await ExperimentRepository(db).get(experiment_id)
    if experiment is not None and experiment.variants:
        record.variant = assign_variant(experiment.id, record.user_id, variants_of(experiment)).name
    else:
        record.variant = None


STUDY_EXPERIMENT_PREFIX = "study."


class SessionOwners:
    """A bounded, per-process memory of session id -> owner, for the event ingest hot path.

    A session's owner never changes, so an entry never goes stale; a session that is gone
    is still caught by the events' foreign key (see `services.events.ingest`).
    """

    def __init__(self, size: int = 50_000) -> None:
        self.size = size
        self._owners: OrderedDict[str, str] = OrderedDict()

    def get(self, session_id: str) -> str | None:
        owner = self._owners.get(session_id)
        if owner is not None:
            self._owners.move_to_end(session_id)
        return owner

    def remember(self, session_id: str, owner: str) -> None:
        self._owners[session_id] = owner
        self._owners.move_to_end(session_id)
        if len(self._owners) > self.size:
            self._owners.popitem(last=False)

    def forget(self, session_id: str) -> None:
        self._owners.pop(session_id, None)


async def check_visible(
    db: AsyncSession, principal: Principal, session_id: str, owners: SessionOwners
) -> None:
    """Like `get_visible` when only the right to use the session matters (no row loaded)."""
    owner = owners.get(session_id)
    if owner is None:
        owner = await SessionRepository(db).owner_of(session_id)
        if owner is None:
            raise NotFound("Session not found")
        if owner != UNCLAIMED_USER:  # the one owner that changes (when claimed)
            owners.remember(session_id, owner)
    principal.check_owner(owner, "Session")


async def _load(db: AsyncSession, principal: Principal, session_id: str) -> Session:
    principal.require_identity()
    record = await SessionRepository(db).get(session_id)
    if record is None:
        raise NotFound("Session not found")
    return record


async def get_visible(db: AsyncSession, principal: Principal, session_id: str) -> Session:
    """A session the caller may read: their own, or one of an experiment they run."""
    record = await _load(db, principal, session_id)
    await check_readable(db, principal, record.user_id, record.experiment_id, "Session")
    return record


async def get_owned(db: AsyncSession, principal: Principal, session_id: str) -> Session:
    """A session the caller may change: their own (or any, for an admin)."""
    record = await _load(db, principal, session_id)
    principal.check_owner(record.user_id, "Session")
    return record


async def end(db: AsyncSession, principal: Principal, session_id: str) -> Session:
    record = await get_owned(db, principal, session_id)
    if record.ended_at is None:
        record.ended_at = utcnow()
        await db.flush()
    return record


async def rename(
    db: AsyncSession, principal: Principal, session_id: str, title: str | None
) -> Session:
    record = await get_visible(db, principal, session_id)
    record.title = (title or "").strip() or None
    await db.flush()
    return record


async def delete(db: AsyncSession, principal: Principal, session_id: str) -> None:
    """Delete a conversation with its events and model calls (the user's right to erase)."""
    record = await get_owned(db, principal, session_id)
    await SessionRepository(db).delete_with_history(record)


async def list_page(
    db: AsyncSession,
    principal: Principal,
    *,
    user_id: str | None,
    experiment_id: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[Sequence[Session], str | None]:
    return await SessionRepository(db).list_page(
        visible=await visibility(db, principal, user_id),
        experiment_id=experiment_id,
        limit=limit,
        cursor=cursor,
    )
