"""The researcher's live view: counts per arm, the participant list, the audited mapping of
pseudonyms to recruitment ids, and the audit log."""

from __future__ import annotations

import statistics
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.security import Principal
from llm_platform.db.engine import Database
from llm_platform.db.models import StudyParticipant, utcnow
from llm_platform.db.repositories.studies import (
    AnswerRepository,
    AuditRepository,
    ParticipantRepository,
)
from llm_platform.schemas.studies import (
    ArmProgress,
    AuditRecord,
    ParticipantRow,
    RecruitmentMapRow,
    StudyProgress,
)
from llm_platform.services.studies.definitions import definition_of, get_owned


def minutes_on_task(p: StudyParticipant, now: datetime) -> float | None:
    if p.task_started_at is None:
        return None
    end = p.post_done_at or p.completed_at or now
    return max(0.0, (end - p.task_started_at).total_seconds() / 60)


def dropped_out(p: StudyParticipant, last_call: datetime | None, cutoff: datetime) -> bool:
    if p.status in ("completed", "declined", "withdrawn"):
        return False
    last = max(p.last_seen_at, last_call) if last_call else p.last_seen_at
    return last < cutoff


async def progress(
    db: AsyncSession, principal: Principal, study_id: str, *, include_pilot: bool = False
) -> StudyProgress:
    study = await get_owned(db, principal, study_id)
    d = definition_of(study)
    repo = ParticipantRepository(db)
    rows = [p for p in await repo.list_for(study.id) if include_pilot or not p.is_pilot]
    sessions = [p.session_id for p in rows if p.session_id]
    turns = await repo.turns(sessions)
    last_calls = await repo.last_calls(sessions)
    failures = await AnswerRepository(db).attention_failures(study.id)
    now = utcnow()
    cutoff = now - timedelta(minutes=d.dropout_timeout_minutes)
    names = [a.name for a in d.arms]
    names += sorted({p.arm for p in rows} - set(names))
    arms = {name: ArmProgress(arm=name) for name in names}
    minutes: dict[str, list[float]] = {name: [] for name in names}
    for p in rows:
        arm = arms[p.arm]
        arm.started += 1
        arm.consented += p.consented_at is not None
        arm.declined += p.status == "declined"
        arm.completed += p.status == "completed"
        if dropped_out(p, last_calls.get(p.session_id or ""), cutoff):
            arm.dropped += 1
        elif p.status not in ("completed", "declined"):
            arm.active += 1
        arm.turns += turns.get(p.session_id or "", 0)
        arm.attention_failures += failures.get(p.id, 0)
        spent = minutes_on_task(p, now)
        if spent is not None:
            minutes[p.arm].append(spent)
    totals = ArmProgress(arm="all")
    for name, arm in arms.items():
        if minutes[name]:
            arm.median_minutes_on_task = round(statistics.median(minutes[name]), 2)
        for field in ("started", "consented", "declined", "completed", "dropped", "active"):
            setattr(totals, field, getattr(totals, field) + getattr(arm, field))
        totals.turns += arm.turns
        totals.attention_failures += arm.attention_failures
    every = [m for values in minutes.values() for m in values]
    if every:
        totals.median_minutes_on_task = round(statistics.median(every), 2)
    return StudyProgress(
        study_id=study.id,
        state=study.state,
        version=study.version,
        arms=list(arms.values()),
        totals=totals,
        updated_at=now,
    )


# A row's columns are the participant's attributes of the same names, plus its turns.
_PARTICIPANT_COLUMNS = [name for name in ParticipantRow.model_fields if name != "turns"]


async def participants(
    db: AsyncSession, principal: Principal, study_id: str, *, limit: int, offset: int
) -> list[ParticipantRow]:
    study = await get_owned(db, principal, study_id)
    repo = ParticipantRepository(db)
    rows = await repo.list_for(study.id, limit=limit, offset=offset)
    turns = await repo.turns([p.session_id for p in rows if p.session_id])
    return [
        ParticipantRow.model_validate(
            {name: getattr(p, name) for name in _PARTICIPANT_COLUMNS}
            | {"turns": turns.get(p.session_id or "", 0)}
        )
        for p in rows
    ]


async def record_audit(
    database: Database, study_id: str, actor: str, action: str, details: dict[str, Any]
) -> None:
    """An audit record for a read (GET routes read in a read transaction): committed on
    its own, before the data goes out."""
    async with database.write_sessions() as session:
        await AuditRepository(session).record(study_id, actor, action, details)
        await session.commit()


async def recruitment_map(
    db: AsyncSession, database: Database, principal: Principal, study_id: str
) -> list[RecruitmentMapRow]:
    study = await get_owned(db, principal, study_id)
    repo = ParticipantRepository(db)
    ids = await repo.recruitment_ids(study.id)
    rows = [
        RecruitmentMapRow(
            pseudonym=p.pseudonym,
            recruitment_id=ids[p.id],
            arm=p.arm,
            status=p.status,
            completion_code=p.completion_code,
        )
        for p in await repo.list_for(study.id)
        if p.id in ids and not p.is_pilot
    ]
    await record_audit(
        database, study.id, principal.user_id or "?", "recruitment_map_read", {"rows": len(rows)}
    )
    return rows


async def audit(db: AsyncSession, principal: Principal, study_id: str) -> list[AuditRecord]:
    study = await get_owned(db, principal, study_id)
    return [AuditRecord.model_validate(r) for r in await AuditRepository(db).list_for(study.id)]
