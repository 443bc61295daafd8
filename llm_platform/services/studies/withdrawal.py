"""Withdrawal, deletion by recruitment id and retention: every row and file of a participant
goes (sessions, events, model calls, files and their vectors and blobs, answers, the
recruitment id, any table keyed by the user id), a running answer is cancelled first, and an
audit record without personal data stays."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.app_state import AppState
from llm_platform.core.errors import NotFound
from llm_platform.core.logging import get_logger
from llm_platform.core.security import Credential, Principal
from llm_platform.db.engine import Database
from llm_platform.db.models import (
    AgentStep,
    Base,
    Event,
    File,
    Query,
    Session,
    Study,
    StudyAnswer,
    StudyParticipant,
    StudyRecruitmentId,
    User,
    utcnow,
)
from llm_platform.db.repositories.agent_checkpoints import CheckpointRepository
from llm_platform.db.repositories.files import ChunkRepository
from llm_platform.db.repositories.memories import MemoryRepository, SessionSummaryRepository
from llm_platform.db.repositories.studies import (
    AuditRepository,
    ParticipantRepository,
    StudyRepository,
)
from llm_platform.rag.lifecycle import RagServices
from llm_platform.schemas.studies import ParticipantState, Progress
from llm_platform.services.studies.definitions import definition_of, get_owned
from llm_platform.services.studies.flow import ARM_LABEL, participant_for, recruitment_hash

log = get_logger("llm_platform.studies")
CANCEL_WAIT_S = 10.0


async def cancel_generations(state: AppState, user_id: str) -> list[str]:
    """Stop the user's running answers wherever they run and wait until they are logged, so
    that nothing of theirs is written after the deletion; returns the ids of the user's
    streams still buffered (delete them after the commit: `delete_streams`). Call it before
    the request's transaction takes the database (the log writer needs it)."""
    runtime = state.query
    tasks = []
    for stream_id, task in list(runtime.streams.running.items()):
        first = await runtime.streams.store.first(stream_id)
        if first is not None and first.data.get("user_id") == user_id and not task.done():
            tasks.append(task)
            await runtime.streams.cancel(stream_id)
    # Streams of other instances: the query log names them (a `running` row is one still
    # being answered); the instance running it gets the cancel signal through the store.
    since = utcnow() - timedelta(seconds=state.settings.STREAM_RETENTION_SECONDS + 60)
    recent = select(Query.request, Query.status).where(
        Query.user_id == user_id, Query.created_at >= since
    )
    async with state.db.read_sessions() as read:
        rows = (await read.execute(recent)).all()
    streams = [str(r.request["stream_id"]) for r in rows if r.request.get("stream_id")]
    remote = [
        str(r.request["stream_id"])
        for r in rows
        if r.status == "running" and r.request.get("stream_id")
    ]
    for stream_id in remote:
        if stream_id not in runtime.streams.running:
            await runtime.streams.cancel(stream_id)
    if tasks:
        await asyncio.wait(tasks, timeout=CANCEL_WAIT_S)
    await runtime.log_writer.flush()
    if remote:
        await _wait_logged(state, user_id, since)
    return streams


async def _wait_logged(state: AppState, user_id: str, since: datetime) -> None:
    """Until no call of the user is `running` (another instance logs its cancelled end)."""
    running = select(Query.id).where(
        Query.user_id == user_id, Query.status == "running", Query.created_at >= since
    )
    deadline = asyncio.get_running_loop().time() + CANCEL_WAIT_S
    while asyncio.get_running_loop().time() < deadline:
        async with state.db.read_sessions() as read:
            if (await read.scalar(running.limit(1))) is None:
                return
        await asyncio.sleep(0.1)


async def delete_streams(state: AppState, stream_ids: list[str]) -> None:
    """After the commit: the withdrawn user's stream buffers go too (not only at expiry)."""
    for stream_id in stream_ids:
        try:
            await state.query.streams.store.delete(stream_id)
        except Exception as exc:  # logged; the buffer expires with its retention anyway
            log.warning("study_stream_delete_failed", error=str(exc))


async def erase_user(db: AsyncSession, state: AppState, user_id: str) -> list[str]:
    """Delete every row of `user_id`; returns the blob keys to delete after the commit."""
    session_ids = list(
        (await db.scalars(select(Session.id).where(Session.user_id == user_id))).all()
    )
    for start in range(0, len(session_ids), 500):
        chunk = session_ids[start : start + 500]
        await db.execute(delete(Event).where(Event.session_id.in_(chunk)))
        await db.execute(delete(AgentStep).where(AgentStep.session_id.in_(chunk)))
        await CheckpointRepository(db).delete_threads(chunk)
        await db.execute(delete(Query).where(Query.session_id.in_(chunk)))
        for sid in chunk:
            state.session_owners.forget(sid)
    await db.execute(delete(AgentStep).where(AgentStep.user_id == user_id))
    await db.execute(delete(Query).where(Query.user_id == user_id))
    # What the assistant remembered about them, and their conversations' summaries.
    await MemoryRepository(db).delete_for_user(user_id)
    await SessionSummaryRepository(db).delete_for_user(user_id)
    await db.execute(delete(Session).where(Session.user_id == user_id))
    keys: list[str] = []
    files = (await db.scalars(select(File).where(File.user_id == user_id))).all()
    for f in files:
        if isinstance(state.rag, RagServices):
            await state.rag.runtime.store.delete_file(db, f.id)
        await ChunkRepository(db).delete_for_file(f.id)
        keys.append(f.storage_key)
        await db.delete(f)
    await db.flush()
    participants = select(StudyParticipant.id).where(StudyParticipant.user_id == user_id)
    await db.execute(delete(StudyAnswer).where(StudyAnswer.participant_id.in_(participants)))
    await db.execute(
        delete(StudyRecruitmentId).where(StudyRecruitmentId.participant_id.in_(participants))
    )
    await db.execute(delete(StudyParticipant).where(StudyParticipant.user_id == user_id))
    # Whatever else is keyed by the user (API keys, memories, tables added later).
    for table in reversed(Base.metadata.sorted_tables):
        if "user_id" in table.c:
            await db.execute(delete(table).where(table.c.user_id == user_id))
    await db.execute(delete(User).where(User.id == user_id))
    await db.flush()
    return keys


async def delete_blobs(state: AppState, keys: list[str]) -> None:
    """After the commit: a blob never outlives its row's deletion by more than this."""
    if not isinstance(state.rag, RagServices):
        return
    for key in keys:
        try:
            await state.rag.runtime.storage.delete(key)
        except Exception as exc:  # logged; the row is gone, the sweep of orphans finds it
            log.warning("study_blob_delete_failed", error=str(exc))


def _withdrawn_state(study: Study, p: StudyParticipant) -> ParticipantState:
    d = definition_of(study)
    return ParticipantState(
        study_id=study.id,
        study_name=d.name,
        version=p.version,
        status="withdrawn",
        arm_label=ARM_LABEL,
        session_id=None,
        consent_markdown="",
        instructions_markdown="",
        pre_questionnaire=[],
        post_questionnaire=[],
        progress=Progress(
            turns=0,
            min_turns=d.completion.min_turns,
            minutes=0,
            min_minutes=d.completion.min_minutes,
            met=False,
        ),
        is_preview=p.is_preview,
    )


async def _erase_participant(
    db: AsyncSession, state: AppState, study: Study, p: StudyParticipant, actor: str, by: str
) -> list[str]:
    details = {
        "by": by,
        "arm": p.arm,
        "version": p.version,
        "status": p.status,
        "is_pilot": p.is_pilot,
        "is_preview": p.is_preview,
    }
    keys = await erase_user(db, state, p.user_id)
    await AuditRepository(db).record(study.id, actor, "participant_deleted", details)
    return keys


@dataclass(frozen=True, slots=True)
class Erased:
    """What goes after the commit: the participant's blobs and stream buffers."""

    blob_keys: list[str]
    stream_ids: list[str]


async def after_commit(state: AppState, erased: Erased) -> None:
    await delete_blobs(state, erased.blob_keys)
    await delete_streams(state, erased.stream_ids)


async def withdraw_self(
    db: AsyncSession, state: AppState, principal: Principal, study_id: str
) -> tuple[ParticipantState, Erased]:
    streams: list[str] = []
    if principal.credential is Credential.TOKEN and principal.user_id is not None:
        streams = await cancel_generations(state, principal.user_id)
    study, p = await participant_for(db, principal, study_id, lock=True)
    out = _withdrawn_state(study, p)
    keys = await _erase_participant(db, state, study, p, "participant", "participant")
    return out, Erased(keys, streams)


async def delete_by_recruitment_id(
    db: AsyncSession, state: AppState, principal: Principal, study_id: str, recruitment_id: str
) -> Erased:
    hashed = recruitment_hash(state, study_id, recruitment_id)
    async with state.db.read_sessions() as read:  # not the request's (write) transaction
        found = await ParticipantRepository(read).by_recruitment(study_id, hashed)
        user_id = found.user_id if found is not None else None
    streams: list[str] = []
    if user_id is not None:
        streams = await cancel_generations(state, user_id)
    study = await get_owned(db, principal, study_id, lock=True)
    p = await ParticipantRepository(db).by_recruitment(study.id, hashed)
    if p is None:
        raise NotFound("No participant of this study has that recruitment id")
    actor = principal.user_id or "?"
    keys = await _erase_participant(db, state, study, p, actor, "researcher")
    return Erased(keys, streams)


async def purge_expired(database: Database, state: AppState) -> dict[str, int]:
    """Retention: closed studies whose `retention_days` have passed lose their participants'
    raw data (the definition and the audit log stay). Returns participants purged per study."""
    purged: dict[str, int] = {}
    now = utcnow()
    async with database.read_sessions() as read:
        candidates = await StudyRepository(read).closed_before(now)
    for candidate in candidates:
        days = definition_of(candidate).retention_days
        if days is None or candidate.closed_at is None:
            continue
        if candidate.closed_at > now - timedelta(days=days):
            continue
        keys: list[str] = []
        async with database.write_sessions() as db:
            study = await StudyRepository(db).lock(candidate.id)
            if study is None or study.state != "closed" or study.purged_at is not None:
                continue
            people = await ParticipantRepository(db).list_for(study.id, with_previews=True)
            for p in people:
                keys += await erase_user(db, state, p.user_id)
            study.purged_at = now
            await AuditRepository(db).record(
                study.id,
                "retention",
                "retention_purge",
                {"participants": len(people), "retention_days": days},
            )
            await db.commit()
        await delete_blobs(state, keys)
        purged[candidate.id] = len(people)
    return purged
