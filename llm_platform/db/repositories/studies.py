"""Queries of user studies: studies and versions, participants, answers, the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select

from llm_platform.db.models import (
    Query,
    Study,
    StudyAnswer,
    StudyAudit,
    StudyParticipant,
    StudyRecruitmentId,
    StudyVersion,
)
from llm_platform.db.repositories.base import Repository

# Statuses of participants who never count toward an arm's size.
NOT_COUNTED = ("declined", "withdrawn")
TURN_STATUSES = ("ok", "running")


class StudyRepository(Repository[Study]):
    model = Study

    async def lock(self, study_id: str) -> Study | None:
        """The study row, locked until the transaction ends (PostgreSQL: FOR UPDATE; SQLite
        write transactions are serialised by BEGIN IMMEDIATE already)."""
        stmt = select(Study).where(Study.id == study_id).with_for_update()
        return (await self.session.scalars(stmt)).one_or_none()

    async def list_for(self, owner_id: str | None) -> Sequence[Study]:
        stmt = select(Study).order_by(Study.created_at.desc())
        if owner_id is not None:
            stmt = stmt.where(Study.owner_id == owner_id)
        return list((await self.session.scalars(stmt)).all())

    async def add_version(self, study_id: str, version: int, definition: dict[str, Any]) -> None:
        self.session.add(StudyVersion(study_id=study_id, version=version, definition=definition))
        await self.session.flush()

    async def version(self, study_id: str, version: int) -> StudyVersion | None:
        return await self.session.get(StudyVersion, (study_id, version))

    async def closed_before(self, cutoff: datetime) -> Sequence[Study]:
        stmt = select(Study).where(
            Study.state == "closed", Study.closed_at < cutoff, Study.purged_at.is_(None)
        )
        return list((await self.session.scalars(stmt)).all())


class ParticipantRepository(Repository[StudyParticipant]):
    model = StudyParticipant

    async def by_user(self, user_id: str) -> StudyParticipant | None:
        stmt = select(StudyParticipant).where(StudyParticipant.user_id == user_id)
        return (await self.session.scalars(stmt)).one_or_none()

    async def by_recruitment(self, study_id: str, recruitment_hash: str) -> StudyParticipant | None:
        stmt = select(StudyParticipant).where(
            StudyParticipant.study_id == study_id,
            StudyParticipant.recruitment_hash == recruitment_hash,
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def has_real(self, study_id: str) -> bool:
        stmt = (
            select(StudyParticipant.id)
            .where(
                StudyParticipant.study_id == study_id,
                StudyParticipant.is_preview.is_(False),
                StudyParticipant.is_pilot.is_(False),
            )
            .limit(1)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def arm_sizes(
        self, study_id: str, *, is_pilot: bool, active_since: datetime
    ) -> dict[str, int]:
        """Participants per arm who count toward balance: not previews, of the same kind
        (pilot or real), not declined or withdrawn, and either completed or seen since
        `active_since` (the others have dropped out)."""
        stmt = (
            select(StudyParticipant.arm, func.count())
            .where(
                StudyParticipant.study_id == study_id,
                StudyParticipant.is_preview.is_(False),
                StudyParticipant.is_pilot.is_(is_pilot),
                StudyParticipant.status.not_in(NOT_COUNTED),
                or_(
                    StudyParticipant.status == "completed",
                    StudyParticipant.last_seen_at >= active_since,
                    select(Query.id)
                    .where(
                        Query.session_id == StudyParticipant.session_id,
                        Query.created_at >= active_since,
                    )
                    .exists(),
                ),
            )
            .group_by(StudyParticipant.arm)
        )
        return {arm: int(n) for arm, n in (await self.session.execute(stmt)).all()}

    async def list_for(
        self,
        study_id: str,
        *,
        limit: int | None = None,
        offset: int = 0,
        with_previews: bool = False,
    ) -> Sequence[StudyParticipant]:
        stmt = select(StudyParticipant).where(StudyParticipant.study_id == study_id)
        if not with_previews:
            stmt = stmt.where(StudyParticipant.is_preview.is_(False))
        stmt = stmt.order_by(StudyParticipant.id).offset(offset)
        if limit is not None:
            stmt = stmt.limit(limit)
        return list((await self.session.scalars(stmt)).all())

    async def turns(self, session_ids: Sequence[str]) -> dict[str, int]:
        """Model calls per session that answered or are answering: the participant's turns
        (the final row of a call just answered may still be on its way to the log)."""
        if not session_ids:
            return {}
        counts: dict[str, int] = {}
        ids = list(session_ids)
        for start in range(0, len(ids), 500):
            stmt = (
                select(Query.session_id, func.count())
                .where(
                    Query.session_id.in_(ids[start : start + 500]), Query.status.in_(TURN_STATUSES)
                )
                .group_by(Query.session_id)
            )
            for sid, n in (await self.session.execute(stmt)).all():
                counts[str(sid)] = int(n)
        return counts

    async def last_calls(self, session_ids: Sequence[str]) -> dict[str, datetime]:
        """The latest model call per session (activity the participant rows do not see)."""
        out: dict[str, datetime] = {}
        ids = list(session_ids)
        for start in range(0, len(ids), 500):
            stmt = (
                select(Query.session_id, func.max(Query.created_at))
                .where(Query.session_id.in_(ids[start : start + 500]))
                .group_by(Query.session_id)
            )
            for sid, last in (await self.session.execute(stmt)).all():
                if last is not None:
                    out[str(sid)] = last
        return out

    async def recruitment_ids(self, study_id: str) -> dict[int, str]:
        stmt = (
            select(StudyRecruitmentId.participant_id, StudyRecruitmentId.recruitment_id)
            .join(StudyParticipant, StudyParticipant.id == StudyRecruitmentId.participant_id)
            .where(StudyParticipant.study_id == study_id)
        )
        return {int(pid): str(rid) for pid, rid in (await self.session.execute(stmt)).all()}

    async def add_recruitment_id(self, participant_id: int, recruitment_id: str) -> None:
        self.session.add(
            StudyRecruitmentId(participant_id=participant_id, recruitment_id=recruitment_id)
        )
        await self.session.flush()


class AnswerRepository(Repository[StudyAnswer]):
    model = StudyAnswer

    async def phase_answered(self, participant_id: int, phase: str) -> bool:
        stmt = (
            select(StudyAnswer.id)
            .where(StudyAnswer.participant_id == participant_id, StudyAnswer.phase == phase)
            .limit(1)
        )
        return (await self.session.execute(stmt)).first() is not None

    async def replace_phase(self, participant_id: int, phase: str, rows: list[StudyAnswer]) -> None:
        await self.session.execute(
            delete(StudyAnswer).where(
                and_(StudyAnswer.participant_id == participant_id, StudyAnswer.phase == phase)
            )
        )
        self.session.add_all(rows)
        await self.session.flush()

    async def attention_failures(self, study_id: str) -> dict[int, int]:
        stmt = (
            select(StudyAnswer.participant_id, func.count())
            .where(StudyAnswer.study_id == study_id, StudyAnswer.attention_ok.is_(False))
            .group_by(StudyAnswer.participant_id)
        )
        return {int(pid): int(n) for pid, n in (await self.session.execute(stmt)).all()}


class AuditRepository(Repository[StudyAudit]):
    model = StudyAudit

    async def record(self, study_id: str, actor: str, action: str, details: dict[str, Any]) -> None:
        self.session.add(StudyAudit(study_id=study_id, actor=actor, action=action, details=details))
        await self.session.flush()

    async def list_for(self, study_id: str) -> Sequence[StudyAudit]:
        stmt = select(StudyAudit).where(StudyAudit.study_id == study_id).order_by(StudyAudit.id)
        return list((await self.session.scalars(stmt)).all())
