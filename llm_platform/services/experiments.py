"""Experiments: arms with weights and settings; deterministic assignment by user."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.errors import Conflict, NotFound
from llm_platform.core.security import Principal
from llm_platform.db.models import Experiment, new_id
from llm_platform.db.repositories.experiments import ArmCounts, ExperimentRepository
from llm_platform.schemas.experiments import (
    ArmStats,
    ExperimentCreate,
    ExperimentStats,
    Variant,
)


def assign_variant(experiment_id: str, user_id: str, variants: Sequence[Variant]) -> Variant:
    """The same user always lands in the same arm, in proportion to the arms' weights."""
    digest = hashlib.sha256(f"{experiment_id}\x00{user_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64
    total = sum(v.weight for v in variants)
    cumulative = 0.0
    for variant in variants:
        cumulative += variant.weight / total
        if point < cumulative:
            return variant
    return variants[-1]


async def create(
    session: AsyncSession, principal: Principal, payload: ExperimentCreate
) -> Experiment:
    """Researchers and admins only; the caller owns the experiment."""
    owner_id = principal.require_staff()
    repo = ExperimentRepository(session)
    exp_id = payload.id or new_id()
    if await repo.get(exp_id) is not None:
        raise Conflict(f"Experiment '{exp_id}' already exists")
    experiment = Experiment(
        id=exp_id,
        owner_id=owner_id,
        name=payload.name,
        description=payload.description,
        variants=[v.model_dump() for v in payload.variants],
    )
    try:
        async with session.begin_nested():
            await repo.add(experiment)
    except IntegrityError:
        raise Conflict(f"Experiment '{exp_id}' already exists") from None
    return experiment


async def list_visible(session: AsyncSession, principal: Principal) -> Sequence[Experiment]:
    principal.require_staff()
    owner = None if principal.is_admin else principal.user_id
    return await ExperimentRepository(session).list_for(owner)


async def get_visible(session: AsyncSession, principal: Principal, exp_id: str) -> Experiment:
    """The owner's (or an admin's): arm settings are the researcher's, never a participant's."""
    principal.require_staff()
    experiment = await ExperimentRepository(session).get(exp_id)
    if experiment is None:
        raise NotFound("Experiment not found")
    principal.check_owner(experiment.owner_id, "Experiment")
    return experiment


def variants_of(experiment: Experiment) -> list[Variant]:
    return [Variant.model_validate(v) for v in experiment.variants]


async def export_scope(session: AsyncSession, principal: Principal, exp_id: str) -> str | None:
    """Whose sessions an export of the experiment may include (None: every participant's).

    The owner (or an admin) exports every participant's data. Sessions may name an
    experiment nobody defined: those are exported to admins only; to a researcher such an
    experiment does not exist, just like another researcher's, so the answer never tells
    the two apart.
    """
    principal.require_staff()
    experiment = await ExperimentRepository(session).get(exp_id)
    if experiment is not None:
        principal.check_owner(experiment.owner_id, "Experiment")
        return None
    if not principal.is_admin:
        raise NotFound("Experiment not found")
    return None


async def stats(session: AsyncSession, principal: Principal, exp_id: str) -> ExperimentStats:
    """Per-arm counts for the researcher's live view; every defined arm is listed."""
    experiment = await get_visible(session, principal, exp_id)
    counts = await ExperimentRepository(session).arm_counts(exp_id)
    names: list[str | None] = [v.name for v in variants_of(experiment)]
    names += [name for name in counts if name not in names]
    arms = []
    for name in names:
        c = counts.get(name, ArmCounts())
        fields = {**asdict(c), "variant": name, "cost_usd": round(c.cost_usd, 6)}
        arms.append(ArmStats.model_validate(fields))
    return ExperimentStats(experiment_id=exp_id, arms=arms)
