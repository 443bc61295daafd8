"""Study definitions: create, edit (a new version once real participants exist), open and
close, import/export as one JSON or YAML file. Each version's arms are an experiment
(`study.<id>.v<version>`) whose variants the participant's chat session is bound to."""

from __future__ import annotations

import re
from typing import Any, Literal

import orjson
import yaml
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.errors import Conflict, NotFound, ValidationFailed
from llm_platform.core.security import Principal
from llm_platform.db.engine import Database
from llm_platform.db.models import Experiment, Study, utcnow
from llm_platform.db.repositories.experiments import ExperimentRepository
from llm_platform.db.repositories.files import FileRepository
from llm_platform.db.repositories.studies import ParticipantRepository, StudyRepository
from llm_platform.schemas.experiments import Variant, VariantSettings
from llm_platform.schemas.studies import StudyDefinition, StudyOut, StudyState

MAX_FILE_BYTES = 2 * 1024 * 1024
STUDY_ID = re.compile(r"^[A-Za-z0-9._\-]{1,96}$")


def experiment_id(study_id: str, version: int) -> str:
    return f"study.{study_id}.v{version}"


def definition_of(study: Study) -> StudyDefinition:
    return StudyDefinition.model_validate(study.definition)


def out(study: Study) -> StudyOut:
    return StudyOut(
        id=study.id,
        name=study.name,
        owner_id=study.owner_id,
        state=study.state,
        version=study.version,
        definition=definition_of(study),
        created_at=study.created_at,
        updated_at=study.updated_at,
        participant_link=f"/s/{study.id}",
    )


async def _check_arm_files(db: AsyncSession, owner_id: str, definition: StudyDefinition) -> None:
    """Arms ground answers in their owner's files: each must exist and be the owner's."""
    wanted = {f for arm in definition.arms for f in arm.rag_file_ids}
    if not wanted:
        return
    found = {f.id for f in await FileRepository(db).owned_among(owner_id, sorted(wanted))}
    missing = sorted(wanted - found)
    if missing:
        raise ValidationFailed(
            f"arms: rag_file_ids {', '.join(missing[:5])} are not files of the study's owner"
        )


async def _sync_experiment(db: AsyncSession, study: Study, definition: StudyDefinition) -> None:
    """The version's experiment: one variant per arm with the arm's chat settings."""
    await _check_arm_files(db, study.owner_id, definition)
    variants = [
        Variant(
            name=arm.name,
            settings=VariantSettings(
                system_prompt=arm.system_prompt,
                provider=arm.provider,
                model=arm.model,
                temperature=arm.temperature,
                max_tokens=arm.max_tokens,
                agent_mode="auto" if arm.agent_mode == "on" else "off",
                memory=arm.memory,
                rag_file_ids=arm.rag_file_ids,
            ),
        ).model_dump()
        for arm in definition.arms
    ]
    exp_id = experiment_id(study.id, study.version)
    repo = ExperimentRepository(db)
    experiment = await repo.get(exp_id)
    if experiment is None:
        await repo.add(
            Experiment(
                id=exp_id,
                owner_id=study.owner_id,
                name=f"{definition.name} (study {study.id}, version {study.version})",
                variants=variants,
            )
        )
    else:
        experiment.variants = variants
        await db.flush()


async def create(db: AsyncSession, principal: Principal, payload: StudyDefinition) -> StudyOut:
    owner_id = principal.require_staff()
    repo = StudyRepository(db)
    if await repo.get(payload.id) is not None:
        raise Conflict(f"Study '{payload.id}' already exists")
    data = payload.model_dump(mode="json")
    study = Study(id=payload.id, owner_id=owner_id, name=payload.name, definition=data, version=1)
    try:
        async with db.begin_nested():
            await repo.add(study)
    except IntegrityError:
        raise Conflict(f"Study '{payload.id}' already exists") from None
    await repo.add_version(study.id, 1, data)
    await _sync_experiment(db, study, payload)
    return out(study)


async def list_visible(db: AsyncSession, principal: Principal) -> list[StudyOut]:
    principal.require_staff()
    owner = None if principal.is_admin else principal.user_id
    return [out(s) for s in await StudyRepository(db).list_for(owner)]


async def get_owned(
    db: AsyncSession, principal: Principal, study_id: str, *, lock: bool = False
) -> Study:
    """The owner's (or an admin's); another researcher's study answers like a missing one."""
    principal.require_staff()
    repo = StudyRepository(db)
    study = await (repo.lock(study_id) if lock else repo.get(study_id))
    if study is None:
        raise NotFound("Study not found")
    principal.check_owner(study.owner_id, "Study")
    return study


async def update(
    db: AsyncSession, principal: Principal, study_id: str, payload: StudyDefinition
) -> StudyOut:
    if payload.id != study_id:
        raise ValidationFailed(f"id: the definition's id '{payload.id}' is not '{study_id}'")
    study = await get_owned(db, principal, study_id, lock=True)
    data = payload.model_dump(mode="json")
    if data == study.definition:
        return out(study)
    repo = StudyRepository(db)
    if await ParticipantRepository(db).has_real(study.id):
        study.version += 1
        await repo.add_version(study.id, study.version, data)
    else:
        current = await repo.version(study.id, study.version)
        if current is None:
            await repo.add_version(study.id, study.version, data)
        else:
            current.definition = data
    study.definition = data
    study.name = payload.name
    study.updated_at = utcnow()
    await db.flush()
    await _sync_experiment(db, study, payload)
    return out(study)


async def set_state(
    db: AsyncSession, principal: Principal, study_id: str, state: StudyState
) -> StudyOut:
    study = await get_owned(db, principal, study_id, lock=True)
    if study.purged_at is not None and state == "open":
        raise Conflict("This study's data was purged (retention): it cannot be reopened")
    if study.state != state:
        study.state = state
        study.closed_at = utcnow() if state == "closed" else None
        study.updated_at = utcnow()
        await db.flush()
    return out(study)


def parse_file(body: bytes, content_type: str | None) -> StudyDefinition:
    """A definition file, JSON or YAML (YAML is a superset of JSON: one parser for both)."""
    if len(body) > MAX_FILE_BYTES:
        raise ValidationFailed(f"A study file is at most {MAX_FILE_BYTES} bytes")
    data: Any
    try:
        if content_type and "json" in content_type:
            data = orjson.loads(body)
        else:
            data = yaml.safe_load(body.decode("utf-8"))
    except (ValueError, yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ValidationFailed(f"Not a JSON or YAML study file: {str(exc)[:200]}") from None
    if not isinstance(data, dict):
        raise ValidationFailed("A study file holds one object (the study definition)")
    try:
        return StudyDefinition.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationFailed(f"{where}: {first['msg']}" if where else first["msg"]) from None


async def import_definition(
    db: AsyncSession, principal: Principal, definition: StudyDefinition
) -> StudyOut:
    principal.require_staff()
    if await StudyRepository(db).get(definition.id) is None:
        return await create(db, principal, definition)
    return await update(db, principal, definition.id, definition)


def render_file(study: Study, fmt: Literal["json", "yaml"]) -> tuple[bytes, str]:
    data = definition_of(study).model_dump(mode="json")
    if fmt == "yaml":
        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
        return text.encode("utf-8"), "application/yaml"
    return orjson.dumps(data, option=orjson.OPT_INDENT_2), "application/json"


async def frame_origins(database: Database, study_id: str) -> list[str]:
    """The origins allowed to frame the study's page (none for an unknown study)."""
    if not STUDY_ID.match(study_id):
        return []
    async with database.read_sessions() as session:
        study = await StudyRepository(session).get(study_id)
    if study is None:
        return []
    return list(definition_of(study).allowed_frame_origins)
