from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from llm_platform.api.deps import CurrentUser, DbSession, State
from llm_platform.api.json_body import JSONRoute
from llm_platform.api.params import PathId
from llm_platform.schemas.experiments import ExperimentCreate, ExperimentOut, ExperimentStats
from llm_platform.services import experiments as experiment_service
from llm_platform.services import export as export_service

router = APIRouter(prefix="/experiments", tags=["experiments"], route_class=JSONRoute)


@router.post("", response_model=ExperimentOut, status_code=201)
async def create_experiment(
    payload: ExperimentCreate, db: DbSession, user: CurrentUser
) -> ExperimentOut:
    return ExperimentOut.model_validate(await experiment_service.create(db, user, payload))


@router.get("", response_model=list[ExperimentOut])
async def list_experiments(db: DbSession, user: CurrentUser) -> list[ExperimentOut]:
    rows = await experiment_service.list_visible(db, user)
    return [ExperimentOut.model_validate(r) for r in rows]


@router.get("/{experiment_id}", response_model=ExperimentOut)
async def get_experiment(experiment_id: PathId, db: DbSession, user: CurrentUser) -> ExperimentOut:
    return ExperimentOut.model_validate(
        await experiment_service.get_visible(db, user, experiment_id)
    )


@router.get("/{experiment_id}/stats", response_model=ExperimentStats)
async def experiment_stats(
    experiment_id: PathId, db: DbSession, user: CurrentUser
) -> ExperimentStats:
    """Sessions, participants, model calls and UI events per arm, for the live view."""
    return await experiment_service.stats(db, user, experiment_id)


@router.get("/{experiment_id}/export")
async def export_experiment(
    experiment_id: PathId,
    db: DbSession,
    user: CurrentUser,
    state: State,
    format: export_service.ExportFormat = export_service.ExportFormat.JSONL,
) -> StreamingResponse:
    """All sessions of the experiment with their events and model calls, streamed."""
    participants = await experiment_service.export_scope(db, user, experiment_id)
    records = export_service.experiment_export_records(state.db, experiment_id, participants)
    filename = f"experiment-{experiment_id}.{format.value}"
    return StreamingResponse(
        export_service.render(records, format),
        media_type=export_service.MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
