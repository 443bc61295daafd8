"""User studies: researcher routes (definition, live view, exports, deletion) and the
participant flow (enter, consent, questionnaires, completion, withdrawal)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request
from fastapi.responses import Response, StreamingResponse

from llm_platform.api.deps import CurrentUser, DbSession, Staff, State, client_ip
from llm_platform.api.json_body import JSONRoute
from llm_platform.api.params import Limit
from llm_platform.schemas.studies import (
    AnswersRequest,
    AuditRecord,
    Codebook,
    ConsentRequest,
    EnterRequest,
    EnterResponse,
    ExportTable,
    ParticipantRow,
    ParticipantState,
    PreviewOut,
    RecruitmentMapRow,
    StudyDefinition,
    StudyOut,
    StudyProgress,
)
from llm_platform.services.auth import bearer_of
from llm_platform.services.studies import definitions, flow, monitor, withdrawal
from llm_platform.services.studies import export as study_export

router = APIRouter(prefix="/studies", tags=["studies"], route_class=JSONRoute)

StudyId = Annotated[str, Path(min_length=1, max_length=96, pattern=r"^[A-Za-z0-9._\-]+$")]
ArmName = Annotated[str, Query(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@\-]+$")]
# Recruitment ids come from other platforms: any text, bounded (odd ones are 4xx, not 500).
RecruitmentPath = Annotated[str, Path(min_length=1, max_length=512)]


# ------------------------------------------------------------------ researcher routes


@router.post("", response_model=StudyOut, status_code=201)
async def create_study(payload: StudyDefinition, db: DbSession, user: Staff) -> StudyOut:
    return await definitions.create(db, user, payload)


@router.get("", response_model=list[StudyOut])
async def list_studies(db: DbSession, user: Staff) -> list[StudyOut]:
    return await definitions.list_visible(db, user)


@router.post("/import", response_model=StudyOut, status_code=201)
async def import_study(request: Request, db: DbSession, user: Staff) -> StudyOut:
    """One JSON or YAML file (the format of `GET .../definition`); an existing study of the
    same id (yours) gets the file as its new definition."""
    body = await request.body()
    definition = definitions.parse_file(body, request.headers.get("content-type"))
    return await definitions.import_definition(db, user, definition)


@router.get("/{study_id}", response_model=StudyOut)
async def get_study(study_id: StudyId, db: DbSession, user: Staff) -> StudyOut:
    return definitions.out(await definitions.get_owned(db, user, study_id))


@router.put("/{study_id}", response_model=StudyOut)
async def update_study(
    study_id: StudyId, payload: StudyDefinition, db: DbSession, user: Staff
) -> StudyOut:
    """A new version once real participants exist; otherwise the current one is edited."""
    return await definitions.update(db, user, study_id, payload)


@router.post("/{study_id}/open", response_model=StudyOut)
async def open_study(study_id: StudyId, db: DbSession, user: Staff) -> StudyOut:
    return await definitions.set_state(db, user, study_id, "open")


@router.post("/{study_id}/close", response_model=StudyOut)
async def close_study(study_id: StudyId, db: DbSession, user: Staff) -> StudyOut:
    return await definitions.set_state(db, user, study_id, "closed")


@router.get("/{study_id}/definition")
async def download_definition(
    study_id: StudyId,
    db: DbSession,
    user: Staff,
    format: Literal["json", "yaml"] = "json",
) -> Response:
    study = await definitions.get_owned(db, user, study_id)
    body, media_type = definitions.render_file(study, format)
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="study-{study.id}.{format}"'},
    )


@router.get("/{study_id}/progress", response_model=StudyProgress)
async def study_progress(
    study_id: StudyId, db: DbSession, user: Staff, include_pilot: bool = False
) -> StudyProgress:
    """Live counts per arm (previews never count; pilots only with include_pilot)."""
    return await monitor.progress(db, user, study_id, include_pilot=include_pilot)


@router.get("/{study_id}/participants", response_model=list[ParticipantRow])
async def study_participants(
    study_id: StudyId, db: DbSession, user: Staff, limit: Limit = 1000, offset: int = 0
) -> list[ParticipantRow]:
    return await monitor.participants(db, user, study_id, limit=limit, offset=max(0, offset))


@router.post("/{study_id}/preview", response_model=PreviewOut, status_code=201)
async def preview_arm(
    study_id: StudyId, arm: ArmName, db: DbSession, user: Staff, state: State
) -> PreviewOut:
    """A participant token for one arm, marked as preview (never in data or counts)."""
    return await flow.preview(db, state, user, study_id, arm)


@router.get("/{study_id}/export/{table}")
async def export_table(
    study_id: StudyId,
    table: ExportTable,
    db: DbSession,
    user: Staff,
    state: State,
    format: study_export.Format = study_export.Format.CSV,
    include_pilot: bool = False,
) -> StreamingResponse:
    scope = await study_export.prepare(db, state, user, study_id, table, format, include_pilot)
    return StreamingResponse(
        study_export.stream(state.db, scope),
        media_type=study_export.MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{scope.filename}"'},
    )


@router.get("/{study_id}/codebook", response_model=Codebook)
async def codebook(study_id: StudyId, db: DbSession, user: Staff) -> Codebook:
    study = await definitions.get_owned(db, user, study_id)
    return await study_export.codebook(db, study)


@router.get("/{study_id}/recruitment-map", response_model=list[RecruitmentMapRow])
async def recruitment_map(
    study_id: StudyId, db: DbSession, user: Staff, state: State
) -> list[RecruitmentMapRow]:
    """Pseudonym -> recruitment id, for payments. Every read is audited."""
    return await monitor.recruitment_map(db, state.db, user, study_id)


@router.delete("/{study_id}/participants/{recruitment_id}", status_code=204)
async def delete_participant(
    study_id: StudyId,
    recruitment_id: RecruitmentPath,
    db: DbSession,
    user: Staff,
    state: State,
    background: BackgroundTasks,
) -> Response:
    """Every row and file of the participant with this recruitment id; an audit record stays."""
    erased = await withdrawal.delete_by_recruitment_id(db, state, user, study_id, recruitment_id)
    background.add_task(withdrawal.after_commit, state, erased)
    return Response(status_code=204)


@router.get("/{study_id}/audit", response_model=list[AuditRecord])
async def audit_log(study_id: StudyId, db: DbSession, user: Staff) -> list[AuditRecord]:
    return await monitor.audit(db, user, study_id)


# ------------------------------------------------------------------ participant routes


@router.post("/{study_id}/enter", response_model=EnterResponse)
async def enter(
    study_id: StudyId, payload: EnterRequest, request: Request, db: DbSession, state: State
) -> EnterResponse:
    """Open to anyone with the link: the recruitment parameters name the participant; a
    token the browser already holds for this study resumes it."""
    await state.rate_limiter.check_ip(client_ip(request))
    return await flow.enter(
        db,
        state,
        study_id,
        payload.params,
        bearer_of(request.headers.get("authorization")),
        client_ip(request),
    )


@router.get("/{study_id}/me", response_model=ParticipantState)
async def me(study_id: StudyId, db: DbSession, user: CurrentUser, state: State) -> ParticipantState:
    await flow.settle_turns(state)
    return await flow.current(db, user, study_id)


@router.post("/{study_id}/consent", response_model=ParticipantState)
async def consent(
    study_id: StudyId, payload: ConsentRequest, db: DbSession, user: CurrentUser
) -> ParticipantState:
    return await flow.consent(db, user, study_id, payload.agree)


@router.post("/{study_id}/answers", response_model=ParticipantState)
async def answers(
    study_id: StudyId, payload: AnswersRequest, db: DbSession, user: CurrentUser, state: State
) -> ParticipantState:
    if payload.phase == "post":
        await flow.settle_turns(state)
    return await flow.answer(db, user, study_id, payload)


@router.post("/{study_id}/complete", response_model=ParticipantState)
async def complete(
    study_id: StudyId, db: DbSession, user: CurrentUser, state: State
) -> ParticipantState:
    await flow.settle_turns(state)
    return await flow.complete(db, user, study_id)


@router.post("/{study_id}/withdraw", response_model=ParticipantState)
async def withdraw(
    study_id: StudyId, db: DbSession, user: CurrentUser, state: State, background: BackgroundTasks
) -> ParticipantState:
    """Removes every row and file of the participant (a running answer is cancelled)."""
    out, erased = await withdrawal.withdraw_self(db, state, user, study_id)
    background.add_task(withdrawal.after_commit, state, erased)
    return out
