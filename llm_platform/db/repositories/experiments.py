from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from llm_platform.db.models import Experiment
from llm_platform.db.repositories.base import Repository


class ExperimentRepository(Repository[Experiment]):
    model = Experiment

    async def list_for(self, owner_id: str | None) -> Sequence[Experiment]:
        stmt = select(Experiment).order_by(Experiment.created_at.desc())
        if owner_id is not None:
            stmt = stmt.where(Experiment.owner_id == owner_id)
        return list((await self.session.scalars(stmt)).all())
