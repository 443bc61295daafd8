from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select

from llm_platform.db.models import Event, Experiment, Query, Session
from llm_platform.db.repositories.base import Repository


@dataclass
class ArmCounts:
    sessions: int = 0
    participants: int = 0
    queries: int = 0
    events: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


class ExperimentRepository(Repository[Experiment]):
    model = Experiment

    async def list_for(self, owner_id: str | None) -> Sequence[Experiment]:
        stmt = select(Experiment).order_by(Experiment.created_at.desc())
        if owner_id is not None:
            stmt = stmt.where(Experiment.owner_id == owner_id)
        return list((await self.session.scalars(stmt)).all())

    async def ids_owned_by(self, owner_id: str) -> tuple[str, ...]:
        stmt = select(Experiment.id).where(Experiment.owner_id == owner_id)
        return tuple((await self.session.scalars(stmt)).all())

    async def owner_of(self, experiment_id: str) -> str | None:
        stmt = select(Experiment.owner_id).where(Experiment.id == experiment_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def arm_counts(self, experiment_id: str) -> dict[str | None, ArmCounts]:
        """Sessions, participants, model calls and UI events per arm, three grouped queries."""
        arms: dict[str | None, ArmCounts] = {}
        sessions = await self.session.execute(
            select(
                Session.variant,
                func.count(Session.id),
                func.count(func.distinct(Session.user_id)),
            )
            .where(Session.experiment_id == experiment_id)
            .group_by(Session.variant)
        )
        for variant, count, users in sessions:
            arm = arms.setdefault(variant, ArmCounts())
            arm.sessions, arm.participants = int(count), int(users)
        queries = await self.session.execute(
            select(
                Query.variant,
                func.count(Query.id),
                func.coalesce(func.sum(Query.input_tokens), 0),
                func.coalesce(func.sum(Query.output_tokens), 0),
                func.coalesce(func.sum(Query.cost_usd), 0.0),
            )
            .where(Query.experiment_id == experiment_id)
            .group_by(Query.variant)
        )
        for variant, count, tin, tout, cost in queries:
            arm = arms.setdefault(variant, ArmCounts())
            arm.queries, arm.input_tokens = int(count), int(tin or 0)
            arm.output_tokens = int(tout or 0)
            arm.cost_usd = float(cost or 0.0)
        events = await self.session.execute(
            select(Session.variant, func.count(Event.id))
            .join(Event, Event.session_id == Session.id)
            .where(Session.experiment_id == experiment_id)
            .group_by(Session.variant)
        )
        for variant, count in events:
            arms.setdefault(variant, ArmCounts()).events = int(count)
        return arms
