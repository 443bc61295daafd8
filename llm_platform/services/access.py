"""What a caller may read beyond their own rows: a researcher reads the data of the
experiments they own, an admin everything (`core.security.Principal` holds the rest)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from llm_platform.core.errors import NotFound
from llm_platform.core.security import Principal, Role
from llm_platform.db.repositories.experiments import ExperimentRepository
from llm_platform.db.repositories.visibility import Visibility


async def visibility(db: AsyncSession, principal: Principal, requested: str | None) -> Visibility:
    """The rows a listing shows: `requested` names one user (None: all the caller may see)."""
    if principal.is_admin:
        return Visibility(everyone=requested is None, user_id=requested)
    if principal.role is Role.RESEARCHER and principal.user_id is not None:
        me = principal.user_id
        if requested == me:
            return Visibility(user_id=me)
        owned = await ExperimentRepository(db).ids_owned_by(me)
        if requested is None:
            return Visibility(user_id=me, experiment_ids=owned)
        # Another user: what they did in this researcher's experiments, nothing else.
        return Visibility(experiment_ids=owned, only_user=requested)
    return Visibility(user_id=principal.user_filter(requested))


async def runs_experiment(
    db: AsyncSession, principal: Principal, experiment_id: str | None
) -> bool:
    """The caller is the researcher who owns `experiment_id` (or an admin)."""
    if principal.is_admin:
        return True
    if experiment_id is None or principal.role is not Role.RESEARCHER:
        return False
    return await ExperimentRepository(db).owner_of(experiment_id) == principal.user_id


async def check_readable(
    db: AsyncSession, principal: Principal, owner_id: str, experiment_id: str | None, what: str
) -> None:
    """Owner, admin, or the researcher running the row's experiment; others get the same
    404 as for a missing row."""
    principal.require_identity()
    if principal.can_access(owner_id):
        return
    if await runs_experiment(db, principal, experiment_id):
        return
    raise NotFound(f"{what} not found")
