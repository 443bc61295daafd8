"""The participant's way through a study: enter (recruitment parameters, token, balanced
arm), consent, pre-questionnaire, the chat task under the arm, post-questionnaire,
completion code. Every step is idempotent for a replay and a 409 when out of order.

Resuming (docs/studies.md): the browser's own token always resumes its participant; a
recruitment id alone (a new browser) resumes it too unless the study turns that off
(`resume_by_recruitment_id: false`), and never hands out a completed participant's code.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.app_state import AppState
from llm_platform.core.errors import Conflict, NotFound, Unauthorized, ValidationFailed
from llm_platform.core.security import (
    PARTICIPANT_TOKEN_PREFIX,
    Credential,
    Principal,
    new_participant_id,
)
from llm_platform.db.models import Session, Study, StudyAnswer, StudyParticipant, utcnow
from llm_platform.db.repositories.sessions import SessionRepository
from llm_platform.db.repositories.studies import (
    AnswerRepository,
    ParticipantRepository,
    StudyRepository,
)
from llm_platform.schemas.studies import (
    AnswersRequest,
    EnterResponse,
    ParticipantState,
    PreviewOut,
    Progress,
    StudyDefinition,
)
from llm_platform.services.auth import principal_for_key
from llm_platform.services.studies import assignment, questionnaires
from llm_platform.services.studies.definitions import definition_of, experiment_id, get_owned

ARM_LABEL = "Task"
MAX_RECRUITMENT_ID_CHARS = 256
MAX_PARAM_CHARS = 512


class StepConflict(Conflict):
    """A step out of order; `type` names the reason."""

    def __init__(self, type_: str, detail: str) -> None:
        super().__init__(detail)
        self.type = type_


class NotParticipant(NotFound):
    type = "not_participant"
    detail = "You are not a participant of this study (enter through the study link)"


def pseudonym_of(state: AppState, study_id: str, recruitment_id: str) -> str:
    return "P" + state.tokens.keyed_hash("study-pseudonym", f"{study_id}\x00{recruitment_id}")[:15]


def recruitment_hash(state: AppState, study_id: str, recruitment_id: str) -> str:
    return state.tokens.keyed_hash("study-recruitment", f"{study_id}\x00{recruitment_id}")


def _clean_params(params: dict[str, str]) -> dict[str, str]:
    for name, value in params.items():
        if len(name) > 64 or len(value) > MAX_PARAM_CHARS:
            raise ValidationFailed(
                f"params: names are at most 64 and values at most {MAX_PARAM_CHARS} characters"
            )
        if "\x00" in value or "\x00" in name:
            raise ValidationFailed("params: NUL characters are not accepted")
    return params


def _recruitment_id(definition: StudyDefinition, params: dict[str, str]) -> str | None:
    for name in definition.recruitment_params.participant:
        value = params.get(name, "").strip()
        if value:
            if len(value) > MAX_RECRUITMENT_ID_CHARS:
                raise ValidationFailed(
                    f"params.{name}: at most {MAX_RECRUITMENT_ID_CHARS} characters"
                )
            if any(ord(c) < 32 or ord(c) == 127 for c in value):
                raise ValidationFailed(f"params.{name}: control characters are not accepted")
            return value
    return None


async def definition_for(db: AsyncSession, study: Study, version: int) -> StudyDefinition:
    row = await StudyRepository(db).version(study.id, version)
    return StudyDefinition.model_validate(row.definition) if row else definition_of(study)


def _minutes(p: StudyParticipant, now: datetime) -> float:
    if p.task_started_at is None:
        return 0.0
    end = p.post_done_at or p.completed_at or now
    return max(0.0, (end - p.task_started_at).total_seconds() / 60)


SETTLE_WAIT_S = 5.0


async def settle_turns(state: AppState) -> None:
    """Let the query log write what it holds, so that a turn just answered counts: an
    answer is sent before its log row is committed (bounded wait: never blocks a step)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(state.query.log_writer.barrier(), SETTLE_WAIT_S)


async def progress_of(db: AsyncSession, p: StudyParticipant, d: StudyDefinition) -> Progress:
    turns = 0
    if p.session_id is not None:
        turns = (await ParticipantRepository(db).turns([p.session_id])).get(p.session_id, 0)
    minutes = _minutes(p, utcnow())
    rule = d.completion
    met = (
        p.task_started_at is not None
        and turns >= rule.min_turns
        and minutes + 1e-9 >= rule.min_minutes
    )
    return Progress(
        turns=turns,
        min_turns=rule.min_turns,
        minutes=round(minutes, 2),
        min_minutes=rule.min_minutes,
        met=met,
    )


async def state_of(db: AsyncSession, study: Study, p: StudyParticipant) -> ParticipantState:
    d = await definition_for(db, study, p.version)
    done = p.status == "completed"
    return ParticipantState(
        study_id=study.id,
        study_name=d.name,
        version=p.version,
        status=p.status,
        arm_label=ARM_LABEL,
        session_id=p.session_id,
        consent_markdown=d.consent_markdown,
        instructions_markdown=d.instructions_markdown,
        pre_questionnaire=questionnaires.public(d.pre_questionnaire),
        post_questionnaire=questionnaires.public(d.post_questionnaire),
        progress=await progress_of(db, p, d),
        completion_code=p.completion_code if done else None,
        redirect_url=d.completion.redirect_url if done else None,
        is_preview=p.is_preview,
    )


async def _new_participant(
    db: AsyncSession,
    state: AppState,
    study: Study,
    d: StudyDefinition,
    *,
    recruitment_id: str | None,
    extra: dict[str, str],
    is_pilot: bool = False,
    is_preview: bool = False,
    arm: str | None = None,
) -> StudyParticipant:
    user_id = new_participant_id()
    if arm is None:
        chosen = await assignment.assign(db, study, d, is_pilot=is_pilot)
        arm, audit = chosen.arm, chosen.audit
    else:
        audit = {"reason": "preview of a chosen arm"}
    participant = StudyParticipant(
        study_id=study.id,
        user_id=user_id,
        pseudonym=pseudonym_of(state, study.id, recruitment_id or user_id),
        recruitment_hash=recruitment_hash(state, study.id, recruitment_id)
        if recruitment_id
        else None,
        extra_params=extra,
        arm=arm,
        version=study.version,
        is_pilot=is_pilot,
        is_preview=is_preview,
        assignment=audit,
    )
    repo = ParticipantRepository(db)
    await repo.add(participant)
    if recruitment_id:
        await repo.add_recruitment_id(participant.id, recruitment_id)
    return participant


async def _token_user(state: AppState, bearer: str | None) -> tuple[str | None, Principal | None]:
    """A participant token's user (401 when tampered), or a staff key's principal."""
    if bearer is None:
        return None, None
    if bearer.startswith(PARTICIPANT_TOKEN_PREFIX):
        return state.tokens.verify(bearer), None
    principal = await principal_for_key(state.db, bearer)
    return None, principal


# Arrivals to one study queue here, in this process, before taking a database connection:
# only one of them at a time waits for the study's row lock (held until the previous
# arrival commits), so a burst of arrivals cannot take every pooled connection.
_ARRIVALS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def arrival_lock(study_id: str) -> asyncio.Lock:
    locks = _ARRIVALS.setdefault(asyncio.get_running_loop(), {})
    if len(locks) > 10_000:
        locks.clear()  # ids of studies come from URLs: bounded (a held lock stays referenced)
    return locks.setdefault(study_id, asyncio.Lock())


async def enter(
    db: AsyncSession,
    state: AppState,
    study_id: str,
    params: dict[str, str],
    bearer: str | None,
    ip: str | None,
) -> EnterResponse:
    async with arrival_lock(study_id):
        study = await StudyRepository(db).lock(study_id)  # serialises arrivals per study
        return await _enter(db, state, study, params, bearer, ip)


async def _enter(
    db: AsyncSession,
    state: AppState,
    study: Study | None,
    params: dict[str, str],
    bearer: str | None,
    ip: str | None,
) -> EnterResponse:
    if study is None:
        raise NotFound("Study not found")
    d = definition_of(study)
    params = _clean_params(params)
    rid = _recruitment_id(d, params)
    token_user, staff = await _token_user(state, bearer)
    is_pilot = False
    if staff is not None:
        staff.require_staff()
        staff.check_owner(study.owner_id, "Study")
        is_pilot = True  # the owner's key enters simulated participants (`study pilot`)
    repo = ParticipantRepository(db)

    if token_user is not None:
        mine = await repo.by_user(token_user)
        if mine is not None and mine.study_id == study.id:
            if rid is not None and mine.recruitment_hash not in (
                None,
                recruitment_hash(state, study.id, rid),
            ):
                raise StepConflict(
                    "recruitment_mismatch",
                    "This browser already takes part in this study under another "
                    "participant id; finish or withdraw first",
                )
            return await _resume(db, state, study, mine)
        # A token of another study (or a withdrawn participant): a participant of this
        # study is a user of its own, so withdrawing from one study leaves the other intact.

    if rid is not None:
        known = await repo.by_recruitment(study.id, recruitment_hash(state, study.id, rid))
        if known is not None:
            if known.status == "completed":
                raise StepConflict(
                    "already_completed", "This participant has already completed the study"
                )
            if not d.resume_by_recruitment_id:
                raise StepConflict(
                    "resume_needs_token",
                    "This participant already started in another browser: continue there",
                )
            return await _resume(db, state, study, known)

    if study.state != "open":
        raise StepConflict(
            "study_closed",
            "This study is not open yet" if study.state == "draft" else "This study is closed",
        )
    if not is_pilot:
        await state.rate_limiter.check_new_participant(ip)
    extra = {k: params[k] for k in d.recruitment_params.extra if k in params}
    participant = await _new_participant(
        db, state, study, d, recruitment_id=rid, extra=extra, is_pilot=is_pilot
    )
    return EnterResponse(
        token=state.tokens.issue(participant.user_id),
        participant=await state_of(db, study, participant),
    )


async def _resume(
    db: AsyncSession, state: AppState, study: Study, p: StudyParticipant
) -> EnterResponse:
    p.last_seen_at = utcnow()
    await db.flush()
    return EnterResponse(
        token=state.tokens.issue(p.user_id), participant=await state_of(db, study, p)
    )


async def preview(
    db: AsyncSession, state: AppState, principal: Principal, study_id: str, arm: str
) -> PreviewOut:
    study = await get_owned(db, principal, study_id, lock=True)
    d = definition_of(study)
    if arm not in {a.name for a in d.arms}:
        raise NotFound(f"Arm '{arm}' not found")
    participant = await _new_participant(
        db, state, study, d, recruitment_id=None, extra={}, is_preview=True, arm=arm
    )
    token = state.tokens.issue(participant.user_id)
    return PreviewOut(token=token, url=f"/s/{study.id}?preview=1", arm=arm)


async def participant_for(
    db: AsyncSession, principal: Principal, study_id: str, *, lock: bool = False
) -> tuple[Study, StudyParticipant]:
    """The caller's participation in the study (their token's), else 404."""
    if principal.credential is not Credential.TOKEN or principal.user_id is None:
        if principal.user_id is None:
            raise Unauthorized("Enter the study through its link first")
        raise NotParticipant()
    p = await ParticipantRepository(db).by_user(principal.user_id)
    if p is None or p.study_id != study_id:
        raise NotParticipant()
    repo = StudyRepository(db)
    study = await (repo.lock(study_id) if lock else repo.get(study_id))
    if study is None:
        raise NotParticipant()
    return study, p


async def current(db: AsyncSession, principal: Principal, study_id: str) -> ParticipantState:
    study, p = await participant_for(db, principal, study_id)
    return await state_of(db, study, p)


async def _start_task(db: AsyncSession, study: Study, p: StudyParticipant) -> None:
    now = utcnow()
    p.pre_done_at = p.pre_done_at or now
    p.status = "task"
    p.task_started_at = now
    session_id = f"{p.user_id}:study-{study.id}"
    repo = SessionRepository(db)
    if await repo.get(session_id) is None:
        await repo.add(
            Session(
                id=session_id,
                user_id=p.user_id,
                experiment_id=experiment_id(study.id, p.version),
                variant=p.arm,
                environment={"study": study.id},
                title=None,
            )
        )
    p.session_id = session_id


async def consent(
    db: AsyncSession, principal: Principal, study_id: str, agree: bool
) -> ParticipantState:
    study, p = await participant_for(db, principal, study_id)
    now = utcnow()
    p.last_seen_at = now
    if p.status == "entered":
        if agree:
            p.status, p.consented_at = "consented", now
            d = await definition_for(db, study, p.version)
            if not d.pre_questionnaire:
                await _start_task(db, study, p)
        else:
            p.status, p.declined_at = "declined", now
    elif (p.status == "declined") == agree:
        raise StepConflict("consent_recorded", "Your consent answer is already recorded")
    await db.flush()
    return await state_of(db, study, p)


async def answer(
    db: AsyncSession, principal: Principal, study_id: str, payload: AnswersRequest
) -> ParticipantState:
    study, p = await participant_for(db, principal, study_id)
    d = await definition_for(db, study, p.version)
    expected_status = "consented" if payload.phase == "pre" else "task"
    if p.status != expected_status:
        answered = await AnswerRepository(db).phase_answered(p.id, payload.phase)
        if answered or (payload.phase == "pre" and p.pre_done_at is not None):
            raise StepConflict("already_answered", f"The {payload.phase}-questionnaire is done")
        raise StepConflict("wrong_step", f"The {payload.phase}-questionnaire is not open now")
    if payload.phase == "post" and not (await progress_of(db, p, d)).met:
        raise StepConflict("rule_not_met", "The task is not finished yet")
    checked = questionnaires.check(d.items(payload.phase), payload.answers)
    rows = [
        StudyAnswer(
            participant_id=p.id,
            study_id=study.id,
            phase=payload.phase,
            item_id=c.item.id,
            value={"v": c.value},
            version=p.version,
            attention_ok=c.attention_ok,
        )
        for c in checked
    ]
    await AnswerRepository(db).replace_phase(p.id, payload.phase, rows)
    now = utcnow()
    p.last_seen_at = now
    if payload.phase == "pre":
        await _start_task(db, study, p)
    else:
        p.status, p.post_done_at = "post_done", now
    await db.flush()
    return await state_of(db, study, p)


async def complete(db: AsyncSession, principal: Principal, study_id: str) -> ParticipantState:
    study, p = await participant_for(db, principal, study_id)
    if p.status == "completed":
        return await state_of(db, study, p)  # a replay: the same code, nothing new stored
    d = await definition_for(db, study, p.version)
    if p.status == "task":
        if not (await progress_of(db, p, d)).met:
            raise StepConflict("rule_not_met", "The task is not finished yet")
        if d.post_questionnaire:
            raise StepConflict("post_questionnaire_missing", "Answer the last questions first")
    elif p.status != "post_done":
        raise StepConflict("wrong_step", "The study is not at its end yet")
    now = utcnow()
    p.status, p.completed_at, p.last_seen_at = "completed", now, now
    p.completion_code = d.completion.code
    await db.flush()
    return await state_of(db, study, p)
